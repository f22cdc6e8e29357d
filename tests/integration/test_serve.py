"""`scenaria serve` as a user starts it: the API and the engine in one process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

NO_SECRET = {k: v for k, v in os.environ.items() if k != "SCENARIA_SECRET"}

SCENARIA = str(Path(sys.executable).parent / "scenaria")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served_log(tmp_path: Path) -> Path:
    """What the server writes to stderr."""
    return tmp_path / "serve.log"


@pytest.fixture
def served(tmp_path: Path, served_log: Path) -> Iterator[httpx.Client]:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    created = subprocess.run(
        [SCENARIA, "token", "create", "--user", "ops", "--admin", "--database", url],
        check=True,
        capture_output=True,
        text=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    port = _port()
    with served_log.open("wb") as log:
        server = subprocess.Popen(
            [SCENARIA, "serve", "--database", url, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=NO_SECRET,
        )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        for _ in range(300):
            try:
                client.get("/openapi.json")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        server.terminate()
        server.wait(10)


def test_serve_runs_the_api_and_the_worker(served: httpx.Client) -> None:
    assert served.get("/docs").status_code == 200
    assert served.get("/databases", headers={"Authorization": "Bearer nope"}).status_code == 401
    db = served.post("/databases", json={"name": "Shop"}).json()
    scenario = served.post(
        "/scenarios",
        json={
            "database_id": db["id"],
            "name": "Welcome",
            "reentry": "once_ever",
            "nodes": [
                {"id": "new", "kind": "trigger_api_import"},
                {"id": "wait", "kind": "pause", "settings": {"days": 1}},
            ],
            "edges": [{"source": "new", "target": "wait"}],
        },
    ).json()
    assert served.post(f"/scenarios/{scenario['id']}/activate").status_code == 200
    imported = served.post(
        f"/databases/{db['id']}/profiles", json={"fields": {"email": "ana@example.com"}}
    ).json()
    assert imported["captured"] == 1
    # The worker in the same process moves the new task from the trigger into the pause.
    for _ in range(100):
        realtime = served.get(f"/scenarios/{scenario['id']}/stats/realtime").json()
        inside = {n["id"]: n["inside"] for n in realtime["nodes"]}
        if inside.get("wait") == 1:
            break
        time.sleep(0.05)
    assert inside.get("wait") == 1 and inside.get("new") == 0


def test_serve_answers_the_probes_and_warns_without_a_secret(
    served: httpx.Client, served_log: Path
) -> None:
    assert served.get("/healthz", headers={"Authorization": ""}).json() == {"status": "ok"}
    for _ in range(100):
        ready = served.get("/readyz", headers={"Authorization": ""})
        if ready.status_code == 200:
            break
        time.sleep(0.05)
    body = ready.json()
    assert ready.status_code == 200, body
    assert body["status"] == "ready" and body["database"]["status"] == "ok"
    assert body["scheduler"]["status"] == body["deliverer"]["status"] == "running"
    # One process: it starts, but says loudly that its links die with it.
    log = served_log.read_text()
    assert "WARNING: SCENARIA_SECRET is not set" in log
    assert "stop working when this process restarts" in log
