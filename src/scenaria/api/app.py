"""The FastAPI application: routers, error mapping, and optionally the worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from scenaria import __version__
from scenaria.api import deps, errors
from scenaria.api.body_limit import BodyLimit
from scenaria.api.routes import (
    health,
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


def create_app(scenaria: App, *, run_worker: bool = False, worker: Worker | None = None) -> FastAPI:
    """The HTTP API over ``scenaria``; with ``run_worker`` (or a ``worker`` of the
    caller's) the engine runs alongside, in threads a supervisor restarts if they die
    (``/readyz`` says so)."""
    engine = worker or (Worker(scenaria) if run_worker else None)

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        api.state.worker = engine
        if engine:
            engine.start()
        try:
            yield
        finally:
            if engine:
                engine.stop()

    api = FastAPI(
        title="Scenaria",
        version=__version__,
        description="Customer-journey automation scenarios: profiles, segments, scenarios, "
        "engagement and statistics. Every endpoint but tracking needs a Bearer API token.",
        lifespan=lifespan,
        dependencies=[Depends(deps.refuse_nul)],
    )
    api.state.scenaria = scenaria
    errors.install(api)
    api.add_middleware(BodyLimit)
    for module in (health, profiles, segments, scenarios, stats, reports, tracking, sms_callbacks):
        api.include_router(module.router)
    web.install(api)
    return api
