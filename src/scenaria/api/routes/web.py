"""The web UI: ``/`` serves the single page, ``/assets`` its bundles (built from ``web/``)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from scenaria.web import STATIC

router = APIRouter(include_in_schema=False)

MISSING = (
    "<!doctype html><title>Scenaria</title><p>The web UI is not built. "
    "Run <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>.</p>"
)


@router.get("/", response_model=None)
def index() -> FileResponse | HTMLResponse:
    page = STATIC / "index.html"
    if not page.is_file():
        return HTMLResponse(MISSING, status_code=503)
    # The page names hashed bundles; it must never be cached past a new build.
    return FileResponse(page, headers={"Cache-Control": "no-cache"})


def install(api: FastAPI) -> None:
    api.include_router(router)
    assets = STATIC / "assets"
    if assets.is_dir():
        api.mount("/assets", StaticFiles(directory=assets), name="assets")
