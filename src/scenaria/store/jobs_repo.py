"""Background jobs: their rows, moved through the statuses of :mod:`scenaria.model.jobs`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection

from scenaria.errors import IllegalTransition, NotFound
from scenaria.model.jobs import TRANSITIONS, Job, JobKind, JobStatus, Progress
from scenaria.store.schema import jobs


def _job(row: Row[Any]) -> Job:
    return Job(
        id=row.id,
        kind=JobKind(row.kind),
        status=JobStatus(row.status),
        owner=row.owner,
        database_id=row.database_id,
        progress=Progress(row.processed, row.imported, row.failed),
        created_at=row.created_at,
        updated_at=row.updated_at,
        params=row.params,
        result=row.result,
        error=row.error,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


class JobRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        kind: JobKind,
        owner: str,
        database_id: int | None,
        params: dict[str, Any],
        now: float,
    ) -> Job:
        result = self.conn.execute(
            insert(jobs).values(
                kind=kind.value,
                status=JobStatus.QUEUED.value,
                owner=owner,
                database_id=database_id,
                params=params,
                processed=0,
                imported=0,
                failed=0,
                created_at=now,
                updated_at=now,
            )
        )
        assert result.inserted_primary_key is not None
        return self.get(result.inserted_primary_key[0])

    def get(self, job_id: int) -> Job:
        row = self.conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"job {job_id} does not exist")
        return _job(row)

    def move(self, job_id: int, to: JobStatus, now: float, **values: Any) -> None:
        """Change the status (as :data:`TRANSITIONS` allows) and set ``values``."""
        current = self.get(job_id).status
        if to not in TRANSITIONS[current]:
            raise IllegalTransition(f"job {job_id} cannot go from {current.value} to {to.value}")
        times = {"started_at": now} if to is JobStatus.RUNNING else {"finished_at": now}
        self.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(status=to.value, updated_at=now, **times, **values)
        )

    def progress(self, job_id: int, progress: Progress, now: float) -> None:
        self.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(
                processed=progress.processed,
                imported=progress.imported,
                failed=progress.failed,
                updated_at=now,
            )
        )

    def unfinished(self) -> list[Job]:
        """Jobs queued or running."""
        query = select(jobs).where(
            jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])
        )
        return [_job(r) for r in self.conn.execute(query.order_by(jobs.c.id))]
