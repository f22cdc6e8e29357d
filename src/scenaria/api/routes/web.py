"""The web UI: ``/`` serves the single page, ``/assets`` its bundles (built from ``web/``),
and ``/docs`` the API's Swagger UI from those same local assets.

FastAPI's own ``/docs`` and ``/redoc`` load their scripts from a CDN, so on a
machine without internet they showed a blank page: they are replaced here.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route

from scenaria.web import STATIC

router = APIRouter(include_in_schema=False)

MISSING = (
    "<!doctype html><title>Scenaria</title><p>The web UI is not built. "
    "Run <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>.</p>"
)
SWAGGER_UI = "/assets/swagger-ui"
"""Where the build puts Swagger UI's files (``web/vite.config.ts`` copies them)."""


@router.get("/", response_model=None)
def index() -> FileResponse | HTMLResponse:
    page = STATIC / "index.html"
    if not page.is_file():
        return HTMLResponse(MISSING, status_code=503)
    # The page names hashed bundles; it must never be cached past a new build.
    return FileResponse(page, headers={"Cache-Control": "no-cache"})


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(
        openapi_url=root + (request.app.openapi_url or "/openapi.json"),
        title=f"{request.app.title} — API",
        swagger_js_url=f"{root}{SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url=f"{root}{SWAGGER_UI}/favicon-32x32.png",
        oauth2_redirect_url=None,
        # The online validator badge would call out to swagger.io.
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
    )


def _drop_cdn_docs(api: FastAPI) -> None:
    """Remove the docs pages FastAPI added itself (they load Swagger UI and ReDoc from a CDN)."""
    cdn = {api.docs_url, api.redoc_url, api.swagger_ui_oauth2_redirect_url} - {None}
    api.router.routes[:] = [
        r
        for r in api.router.routes
        if isinstance(r, APIRoute) or not (isinstance(r, Route) and r.path in cdn)
    ]
    api.docs_url = api.redoc_url = api.swagger_ui_oauth2_redirect_url = None


def install(api: FastAPI) -> None:
    _drop_cdn_docs(api)
    api.include_router(router)
    assets = STATIC / "assets"
    if assets.is_dir():
        api.mount("/assets", StaticFiles(directory=assets), name="assets")
