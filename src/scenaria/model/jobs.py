"""Background jobs: work too long for one HTTP request (a large CSV import), run by the
API process's job runner, with progress counters and an outcome the API reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset({JobStatus.DONE, JobStatus.FAILED}),
    JobStatus.DONE: frozenset(),
    JobStatus.FAILED: frozenset(),
}
"""The moves a job's status may make; a finished job stays as it ended."""


class JobKind(StrEnum):
    CSV_IMPORT = "csv_import"


@dataclass(frozen=True)
class Progress:
    processed: int = 0
    """Rows read so far (blank lines aside)."""
    imported: int = 0
    """Profiles created or updated so far."""
    failed: int = 0
    """Rows rejected so far."""


@dataclass(frozen=True)
class Job:
    id: int
    kind: JobKind
    status: JobStatus
    owner: str
    """The name of the user who started it: only they (and admins) see it."""
    database_id: int | None
    progress: Progress
    created_at: float
    updated_at: float
    """When it last moved: queued, started, progressed or ended."""
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    """What a finished job produced (a CSV import's report)."""
    error: str | None = None
    """Why a failed job failed."""
    started_at: float | None = None
    finished_at: float | None = None
