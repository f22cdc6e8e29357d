"""Probes for load balancers and supervisors; no API token, nothing secret.

``/healthz`` says the process answers; ``/readyz`` says whether it should get
traffic: the database reachable and the engine's threads in this process alive
(503 otherwise, with the same body saying which part is not).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from scenaria.api.deps import AppDep
from scenaria.api.schemas.health import LiveOut, ReadinessOut
from scenaria.services.health import readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=LiveOut)
async def healthz() -> LiveOut:
    """The process is alive and answering (nothing else is checked)."""
    return LiveOut()


@router.get(
    "/readyz",
    response_model=ReadinessOut,
    responses={503: {"model": ReadinessOut, "description": "Not ready: see which part."}},
)
def readyz(app: AppDep, request: Request) -> JSONResponse:
    """Ready (200) or not (503): the database, the scheduler and deliverer threads of
    this process, and the resources the circuit breaker holds back."""
    body = ReadinessOut.of(readiness(app, getattr(request.app.state, "worker", None)))
    code = 200 if body.status == "ready" else 503
    return JSONResponse(body.model_dump(mode="json"), status_code=code)
