"""The job runner: work too long for one HTTP request, run in the background of the
process that serves the API, one job at a time, with progress the API reports.

A job is a row of the ``jobs`` table (queued → running → done / failed) and, for a
CSV import, the uploaded file in a temporary file (never held in memory). The
runner's thread starts on the first job and imports the file in batches, each
batch its own transaction, writing the progress counters after each. A job the
process was running when it stopped cannot go on (its file was temporary): once
its progress has not moved for :data:`STALE_AFTER` seconds a new runner marks it
failed, saying so.
"""

from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from scenaria.clock import Clock
from scenaria.errors import NotFound, ScenariaError
from scenaria.model.access import User
from scenaria.model.jobs import Job, JobKind, JobStatus, Progress
from scenaria.services.profiles import ProfileService
from scenaria.store.database import Store

log = logging.getLogger(__name__)

STALE_AFTER = 600.0
"""Seconds without progress after which an unfinished job of another runner is
taken as interrupted (a running CSV import moves every batch, within seconds)."""
COPY_CHUNK = 1 << 20
SYNC_CSV_BYTES = 1 << 20
"""CSV files up to this size are imported while the request waits (about 20,000
lines, a few seconds); larger ones in a background job."""

ProgressReport = Callable[[Progress], None]
Handler = Callable[[Job, ProgressReport], dict[str, Any]]
"""Does a job's work, reporting progress as it goes; returns its result."""


class JobRunner:
    """Runs queued jobs one after another in one background thread."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        profiles: ProfileService,
        work_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.profiles = profiles
        self.work_dir = work_dir
        """Where uploaded files wait for their job (the system's temp dir by default)."""
        self.handlers: dict[JobKind, Handler] = {JobKind.CSV_IMPORT: self._csv_import}
        self.on_progress: Callable[[Job], None] | None = None
        """Called in the runner's thread after each progress write (tests pause it there)."""
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ the API

    def submit_csv_import(
        self, database_id: int, data: IO[bytes], delimiter: str, owner: User
    ) -> Job:
        """Queue the import of the CSV in ``data`` (copied to a temporary file first)."""
        with tempfile.NamedTemporaryFile(
            "wb", prefix="scenaria-import-", suffix=".csv", dir=self.work_dir, delete=False
        ) as copy:
            shutil.copyfileobj(data, copy, COPY_CHUNK)
        params = {"file": copy.name, "delimiter": delimiter}
        try:
            return self.submit(JobKind.CSV_IMPORT, owner, database_id, params)
        except BaseException:
            Path(copy.name).unlink(missing_ok=True)
            raise

    def submit(
        self, kind: JobKind, owner: User, database_id: int | None, params: dict[str, Any]
    ) -> Job:
        with self.store.transaction() as tx:
            job = tx.jobs.add(kind, owner.name, database_id, params, self.clock.now())
        self._start()
        self._queue.put(job.id)
        return job

    def get(self, job_id: int, viewer: User) -> Job:
        """The job, if ``viewer`` started it or is an admin (NotFound otherwise)."""
        with self.store.read() as tx:
            job = tx.jobs.get(job_id)
        if not viewer.is_admin and job.owner != viewer.name:
            raise NotFound(f"job {job_id} does not exist")
        return job

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the job in hand and stop; queued ones stay queued."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    # ------------------------------------------------------------------ running

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._fail_interrupted()
            self._thread = threading.Thread(target=self._loop, name="scenaria-jobs", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while (job_id := self._queue.get()) is not None:
            try:
                self.run(job_id)
            except Exception:  # the runner outlives any one job
                log.exception("job %s could not be run", job_id)

    def run(self, job_id: int) -> Job:
        """Run one queued job to its end; returns it as it ended."""
        with self.store.transaction() as tx:
            job = tx.jobs.get(job_id)
            tx.jobs.move(job_id, JobStatus.RUNNING, self.clock.now())
        try:
            result = self.handlers[job.kind](job, lambda p: self._progress(job_id, p))
        except ScenariaError as exc:
            self._finish(job_id, JobStatus.FAILED, error=str(exc))
        except Exception as exc:
            log.exception("job %s (%s) failed", job_id, job.kind.value)
            reason = f"internal error ({type(exc).__name__}): the server log has the details"
            self._finish(job_id, JobStatus.FAILED, error=reason)
        else:
            self._finish(job_id, JobStatus.DONE, result=result)
        with self.store.read() as tx:
            return tx.jobs.get(job_id)

    def _progress(self, job_id: int, progress: Progress) -> None:
        with self.store.transaction() as tx:
            tx.jobs.progress(job_id, progress, self.clock.now())
            job = tx.jobs.get(job_id)
        if self.on_progress is not None:
            self.on_progress(job)

    def _finish(self, job_id: int, status: JobStatus, **values: Any) -> None:
        with self.store.transaction() as tx:
            tx.jobs.move(job_id, status, self.clock.now(), **values)

    def _fail_interrupted(self) -> None:
        now = self.clock.now()
        with self.store.transaction() as tx:
            for job in tx.jobs.unfinished():
                if now - job.updated_at >= STALE_AFTER:
                    tx.jobs.move(
                        job.id,
                        JobStatus.FAILED,
                        now,
                        error="interrupted: the process running it stopped; upload the file again",
                    )
                    if job.params.get("file"):
                        Path(job.params["file"]).unlink(missing_ok=True)

    # ------------------------------------------------------------------ handlers

    def _csv_import(self, job: Job, progress: ProgressReport) -> dict[str, Any]:
        assert job.database_id is not None
        path = Path(job.params["file"])
        try:
            with path.open("rb") as data:
                report = self.profiles.import_csv(
                    job.database_id,
                    data,
                    job.params["delimiter"],
                    on_batch=lambda r: progress(
                        Progress(r.rows_read, r.created + r.updated, r.rejected_count)
                    ),
                )
        finally:
            path.unlink(missing_ok=True)
        progress(Progress(report.rows_read, report.created + report.updated, report.rejected_count))
        return asdict(report)
