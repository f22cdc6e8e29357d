"""Response shapes of the liveness and readiness probes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from scenaria.clock import to_datetime
from scenaria.services.health import Readiness
from scenaria.services.worker import LoopStatus

LoopStateOut = Literal[
    "running", "starting", "restarting", "dead", "stopped", "disabled", "not_in_this_process"
]


class LiveOut(BaseModel):
    status: Literal["ok"] = "ok"


class DatabaseOut(BaseModel):
    status: Literal["ok", "unreachable"]
    dialect: str = Field(description="sqlite or postgresql.")
    error: str | None = Field(default=None, description="The exception type, if unreachable.")


class LoopOut(BaseModel):
    status: LoopStateOut = Field(
        description="running; starting; restarting (its thread died and was restarted, no "
        "pass completed since); dead (waiting to be restarted); stopped (shutting down); "
        "disabled (this worker runs without it); not_in_this_process (`serve --no-worker`: "
        "`scenaria worker` processes run the engine)."
    )
    alive: bool = Field(description="Its thread is running.")
    restarts: int = Field(description="Times its thread died and was restarted.")
    last_pass_seconds_ago: float | None = Field(
        description="Since it last completed a pass (a batch, or a look for work when idle)."
    )
    last_error: str | None = Field(description="The exception type its thread last died of.")

    @classmethod
    def of(cls, status: LoopStatus | None, in_process: bool) -> LoopOut:
        if status is None:
            missing: LoopStateOut = "disabled" if in_process else "not_in_this_process"
            return cls(
                status=missing,
                alive=False,
                restarts=0,
                last_pass_seconds_ago=None,
                last_error=None,
            )
        return cls(
            status=status.state.value,
            alive=status.alive,
            restarts=status.restarts,
            last_pass_seconds_ago=status.last_pass_seconds_ago,
            last_error=status.last_error,
        )


class PausedResourceOut(BaseModel):
    channel: str
    resource: str = Field(description="The subscription resource's name.")
    until: datetime = Field(description="When the next message may try it.")
    failures: int = Field(description="Consecutive connection failures so far.")


class DeliveryOut(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="degraded while the circuit breaker holds a resource back; that "
        "delays its messages only and does not make the process unready."
    )
    paused_resources: list[PausedResourceOut]


class ReadinessOut(BaseModel):
    status: Literal["ready", "not_ready"]
    database: DatabaseOut
    scheduler: LoopOut
    deliverer: LoopOut
    delivery: DeliveryOut

    @classmethod
    def of(cls, r: Readiness) -> ReadinessOut:
        return cls(
            status="ready" if r.ready else "not_ready",
            database=DatabaseOut(
                status="ok" if r.database.reachable else "unreachable",
                dialect=r.database.dialect,
                error=r.database.error,
            ),
            scheduler=LoopOut.of(r.loops["scheduler"], r.in_process),
            deliverer=LoopOut.of(r.loops["deliverer"], r.in_process),
            delivery=DeliveryOut(
                status="degraded" if r.paused else "ok",
                paused_resources=[
                    PausedResourceOut(
                        channel=p.channel,
                        resource=p.resource,
                        until=to_datetime(p.until),
                        failures=p.failures,
                    )
                    for p in r.paused
                ],
            ),
        )
