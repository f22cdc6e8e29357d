"""Readiness: is this process fit to take traffic and run journeys.

Ready when the database answers and every engine loop running in this process is
alive and has completed a pass since it last died. Resources the deliverer's
circuit breaker holds back are reported but do not make the process unready: a
provider that is down delays its own messages only.

What this says is meant for an unauthenticated probe: states, counts and
exception types, never URLs, messages or secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from scenaria.clock import Timestamp
from scenaria.services.app import App
from scenaria.services.worker import LoopState, LoopStatus, Worker

ENGINE_LOOPS = ("scheduler", "deliverer")


@dataclass(frozen=True)
class DatabaseStatus:
    reachable: bool
    dialect: str
    error: str | None = None
    """The exception type when it is not reachable (its text may name hosts and users)."""


@dataclass(frozen=True)
class PausedResource:
    """A resource whose deliveries the circuit breaker holds back."""

    channel: str
    resource: str
    until: Timestamp
    """When the next message may try it."""
    failures: int
    """Consecutive connection failures so far."""


@dataclass(frozen=True)
class Readiness:
    ready: bool
    database: DatabaseStatus
    loops: dict[str, LoopStatus | None]
    """Per engine loop; None when it does not run in this process (``serve --no-worker``,
    or a worker started without it)."""
    in_process: bool
    """The engine runs in this process at all."""
    paused: list[PausedResource]


def readiness(app: App, worker: Worker | None) -> Readiness:
    database = database_status(app)
    statuses = {s.name: s for s in worker.status()} if worker is not None else {}
    loops = {name: statuses.get(name) for name in ENGINE_LOOPS}
    engine_ok = all(s.state is LoopState.RUNNING for s in statuses.values())
    return Readiness(
        ready=database.reachable and engine_ok,
        database=database,
        loops=loops,
        in_process=worker is not None,
        paused=paused_resources(app) if worker is not None else [],
    )


def database_status(app: App) -> DatabaseStatus:
    dialect = app.store.dialect
    try:
        with app.store.read() as tx:
            tx.conn.execute(text("SELECT 1"))
    except Exception as exc:
        return DatabaseStatus(reachable=False, dialect=dialect, error=type(exc).__name__)
    return DatabaseStatus(reachable=True, dialect=dialect)


def paused_resources(app: App) -> list[PausedResource]:
    """What the deliverer's circuit breaker holds back (``Deliverer.paused_resources``)."""
    paused: Any = getattr(app.deliverer, "paused_resources", None)
    if paused is None:
        return []
    return [
        PausedResource(
            channel=str(p.channel),
            resource=str(p.resource),
            until=float(p.until),
            failures=int(p.failures),
        )
        for p in paused()
    ]
