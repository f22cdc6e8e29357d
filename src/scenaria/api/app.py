"""The FastAPI application: routers, error mapping, and optionally the worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from scenaria import __version__
from scenaria.api import errors
from scenaria.api.body_limit import BodyLimit
from scenaria.api.routes import (
    profiles,
    reports,
    scenarios,
    segments,
    sms_callbacks,
    stats,
    tracking,
    web,
)
from scenaria.services.app import App
from scenaria.services.worker import Worker


def create_app(scenaria: App, *, run_worker: bool = False) -> FastAPI:
    """The HTTP API over ``scenaria``; with ``run_worker`` the engine runs alongside."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        worker = Worker(scenaria) if run_worker else None
        if worker:
            worker.start()
        try:
            yield
        finally:
            if worker:
                worker.stop()

    api = FastAPI(
        title="Scenaria",
        version=__version__,
        description="Customer-journey automation scenarios: profiles, segments, scenarios, "
        "engagement and statistics. Every endpoint but tracking needs a Bearer API token.",
        lifespan=lifespan,
    )
    api.state.scenaria = scenaria
    errors.install(api)
    api.add_middleware(BodyLimit)
    for module in (profiles, segments, scenarios, stats, reports, tracking, sms_callbacks):
        api.include_router(module.router)
    web.install(api)
    return api
