"""The HTTP API (FastAPI): thin routers over the services; schemas live here, not in model/."""
