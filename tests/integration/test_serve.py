"""`scenaria serve` as a user starts it: the API and the engine in one process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

SCENARIA = str(Path(sys.executable).parent / "scenaria")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[httpx.Client]:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    created = subprocess.run(
        [SCENARIA, "token", "create", "--user", "ops", "--admin", "--database", url],
        check=True,
        capture_output=True,
        text=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    port = _port()
    server = subprocess.Popen(
        [SCENARIA, "serve", "--database", url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
