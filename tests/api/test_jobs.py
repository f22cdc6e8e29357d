"""Large CSV uploads run as background jobs: 202 and a job at once, then its status,
progress and report from GET /jobs/{id}."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from scenaria.clock import FakeClock
from scenaria.model.jobs import Job, JobKind, JobStatus
from scenaria.model.profiles import ProfileDatabase
from scenaria.services.app import App
from scenaria.services.jobs import STALE_AFTER
from tests.api.conftest import ClientFactory


def start(client: TestClient, db: ProfileDatabase, content: bytes, **params: str) -> dict[str, Any]:
    response = client.post(
        f"/databases/{db.id}/profiles/csv",
        files={"file": ("people.csv", content, "text/csv")},
        params=params,
    )
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/jobs/{job['id']}"
    return job


def wait_until(client: TestClient, job_id: int, *statuses: str) -> dict[str, Any]:
    """Poll the job until its status is one of ``statuses`` (a minute at most)."""
    deadline = time.monotonic() + 60
    while True:
        response = client.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
        time.sleep(0.02)


def csv_lines(count: int, bad_every: int = 0) -> bytes:
    lines = [b"email,loyalty_points"]
    for i in range(count):
        bad = bad_every and i % bad_every == bad_every - 1
        lines.append(f"u{i}@example.com,{'lots' if bad else i}".encode())
    return b"\n".join(lines) + b"\n"


def test_a_background_import_reports_its_counts_and_each_rejected_line(
    admin: TestClient, db: ProfileDatabase
) -> None:
    job = start(admin, db, csv_lines(2500, bad_every=1000), background="true")
    assert job["status"] in ("queued", "running", "done")
    assert job["kind"] == "csv_import" and job["database_id"] == db.id
    done = wait_until(admin, job["id"], "done", "failed")
    assert done["status"] == "done", done["error"]
    assert done["progress"] == {"processed": 2500, "imported": 2498, "failed": 2}
    report = done["result"]
    assert (report["rows_read"], report["created"], report["batches"]) == (2500, 2498, 3)
    assert report["rejected"] == [
        {"line": 1001, "reason": "loyalty_points: 'lots' is not a valid int"},
        {"line": 2001, "reason": "loyalty_points: 'lots' is not a valid int"},
    ]
    assert done["started_at"] is not None and done["finished_at"] is not None
    assert admin.get(f"/databases/{db.id}").json()["profiles"] == 2498


def test_progress_moves_while_the_job_runs(
    app: App, admin: TestClient, db: ProfileDatabase
) -> None:
    batch_done = threading.Event()
    go_on = threading.Event()

    def pause_after_first_batch(job: Job) -> None:
        if job.progress.processed == 1000:
            batch_done.set()
            assert go_on.wait(60)

    app.jobs.on_progress = pause_after_first_batch
    job = start(admin, db, csv_lines(2500), background="true")
    try:
        assert batch_done.wait(60)
        running = admin.get(f"/jobs/{job['id']}").json()
        assert running["status"] == "running"
        assert running["progress"] == {"processed": 1000, "imported": 1000, "failed": 0}
        assert running["result"] is None
        assert admin.get(f"/databases/{db.id}").json()["profiles"] == 1000, "a batch committed"
    finally:
        go_on.set()
    done = wait_until(admin, job["id"], "done", "failed")
    assert done["progress"] == {"processed": 2500, "imported": 2500, "failed": 0}


def test_a_job_that_cannot_import_its_file_fails_with_the_reason(
    admin: TestClient, db: ProfileDatabase
) -> None:
    job = start(admin, db, b"email,shoe_size\na@example.com,42\n", background="true")
    failed = wait_until(admin, job["id"], "done", "failed")
    assert failed["status"] == "failed"
    assert failed["error"].startswith("unknown column(s) shoe_size in the header")
    assert failed["result"] is None

    latin1 = "email,first_name\na@example.com,Zoë\n".encode("cp1252")
    job = start(admin, db, latin1, background="true")
    failed = wait_until(admin, job["id"], "done", "failed")
    assert failed["status"] == "failed"
    assert failed["error"].startswith("the file is not UTF-8: line 2")
    assert admin.get(f"/databases/{db.id}").json()["profiles"] == 0


def test_a_file_over_the_limit_goes_to_the_background_by_itself(
    admin: TestClient, db: ProfileDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("scenaria.api.routes.profiles.SYNC_CSV_BYTES", 1000)
    small = admin.post(f"/databases/{db.id}/profiles/csv", files={"file": ("p.csv", csv_lines(10))})
    assert small.status_code == 200, "a small file is imported before the answer, as before"
    assert small.json()["created"] == 10
    job = start(admin, db, csv_lines(100))
    assert wait_until(admin, job["id"], "done", "failed")["progress"]["imported"] == 100
    forced = admin.post(
        f"/databases/{db.id}/profiles/csv",
        files={"file": ("p.csv", csv_lines(100))},
        params={"background": "false"},
    )
    assert forced.status_code == 200 and forced.json()["updated"] == 100


def test_only_its_owner_and_admins_see_a_job(
    admin: TestClient, db: ProfileDatabase, make_client: ClientFactory
) -> None:
    ann = make_client("ann")
    job = start(ann, db, csv_lines(3), background="true")
    assert wait_until(ann, job["id"], "done")["progress"]["imported"] == 3
    assert admin.get(f"/jobs/{job['id']}").status_code == 200
    other = make_client("bo").get(f"/jobs/{job['id']}")
    assert other.status_code == 404
    assert admin.get("/jobs/999999").status_code == 404


def test_a_job_left_unfinished_by_a_stopped_process_is_reported_failed(
    app: App, admin: TestClient, db: ProfileDatabase, clock: FakeClock
) -> None:
    with app.store.transaction() as tx:  # as a process that stopped mid-import left it
        stale = tx.jobs.add(JobKind.CSV_IMPORT, "admin", db.id, {"delimiter": ","}, clock.now())
        tx.jobs.move(stale.id, JobStatus.RUNNING, clock.now())
    clock.advance(STALE_AFTER)
    job = start(admin, db, csv_lines(3), background="true")
    assert wait_until(admin, job["id"], "done")["progress"]["imported"] == 3
    interrupted = admin.get(f"/jobs/{stale.id}").json()
    assert interrupted["status"] == "failed"
    assert interrupted["error"].startswith("interrupted: the process running it stopped")
