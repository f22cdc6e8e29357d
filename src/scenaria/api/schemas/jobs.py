"""Response shapes of background jobs (a large CSV import)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from scenaria.api.schemas.profiles import CsvImportOut
from scenaria.clock import to_datetime
from scenaria.model.jobs import Job, JobKind, JobStatus


class ProgressOut(BaseModel):
    processed: int
    """Rows read so far (blank lines aside)."""
    imported: int
    """Profiles created or updated so far."""
    failed: int
    """Rows rejected so far."""


class JobOut(BaseModel):
    id: int
    kind: JobKind
    status: JobStatus
    """``queued``, ``running``, then ``done`` or ``failed``."""
    database_id: int | None
    progress: ProgressOut
    result: CsvImportOut | None
    """When done: the import's report, each rejected line with its reason."""
    error: str | None
    """When failed: why (a header that cannot be imported, a file that is not UTF-8 …)."""
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            database_id=job.database_id,
            progress=ProgressOut(
                processed=job.progress.processed,
                imported=job.progress.imported,
                failed=job.progress.failed,
            ),
            result=None if job.result is None else CsvImportOut.model_validate(job.result),
            error=job.error,
            created_at=to_datetime(job.created_at),
            started_at=None if job.started_at is None else to_datetime(job.started_at),
            finished_at=None if job.finished_at is None else to_datetime(job.finished_at),
        )
