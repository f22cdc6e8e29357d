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

from sqlalchemy import text

from scenaria.engine.delivery import PausedResource
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
class Readiness:
    ready: bool
    database: DatabaseStatus
    loops: dict[str, LoopStatus | None]
    """Per engine loop; None when it does not run in this process (``serve --no-worker``,
    or a worker started without it)."""
    in_process: bool
    """The engine runs in this process at all."""
    paused: list[PausedResource]
    """What this process's deliverer holds back (each deliverer keeps its own breakers)."""


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
        paused=app.deliverer.paused_resources() if worker is not None else [],
    )


def database_status(app: App) -> DatabaseStatus:
    dialect = app.store.dialect
    try:
        with app.store.read() as tx:
            tx.conn.execute(text("SELECT 1"))
    except Exception as exc:
        return DatabaseStatus(reachable=False, dialect=dialect, error=type(exc).__name__)
    return DatabaseStatus(reachable=True, dialect=dialect)
