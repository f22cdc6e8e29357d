"""`scenaria worker` as an operator runs it, against an SMTP server that accepts
connections and never answers: the journeys go on regardless."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scenaria.clock import FileClock
from scenaria.model import scenario_file
from scenaria.model.profiles import FieldType, ImportSource, SubscriptionStatus
from scenaria.services.app import App, Config
from scenaria.store.database import Store
from tests.conftest import person

EMAIL_THEN_PAUSE = """
scenaria: 1
name: Welcome, then wait
reentry: once_ever
nodes:
  - {id: new_profile, kind: trigger_any_import}
  - {id: hello, kind: email, settings: {subject: "Hello", text: "Welcome"}}
  - {id: wait, kind: pause, settings: {seconds: 10}}
  - {id: after, kind: pause, settings: {days: 1}}
edges:
  - {source: new_profile, target: hello}
  - {source: hello, target: wait}
  - {source: wait, target: after}
"""


@pytest.fixture
def silent_smtp() -> Iterator[tuple[int, threading.Event]]:
    """An SMTP port that accepts connections and never sends its greeting; the event
    is set once a client has connected."""
    listener = socket.create_server(("127.0.0.1", 0))
    connected = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            connected.set()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1], connected
    listener.close()
    for conn in held:
        conn.close()


def eventually(
    condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert process.poll() is None, f"the worker died:\n{log.read_text()}"
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()}")
        time.sleep(0.05)


def test_a_worker_moves_tasks_while_its_smtp_server_hangs(
    database_url: str, tmp_path: Path, silent_smtp: tuple[int, threading.Event]
) -> None:
    port, connected = silent_smtp
    clock = FileClock(tmp_path / "clock", start=1_767_225_600.0)
    resources = tmp_path / "resources.json"
    resources.write_text(
        json.dumps(
            {"email": {"default": {"smtp_port": port, "timeout_seconds": 600}}}
        ),  # hung far longer than the test waits
        encoding="utf-8",
    )
    store = Store(database_url)
    with App(Config(), clock=clock, store=store) as app:
        db = app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
        assert db.id is not None
        saved = app.scenarios.save(scenario_file.loads(EMAIL_THEN_PAUSE, db.id))
        assert saved.problems == []
        scenario_id = saved.scenario.id
        app.scenarios.activate(scenario_id)
        people = [person(i, email_status=SubscriptionStatus.SUBSCRIBED) for i in range(3)]
        app.profiles.import_profiles(db.id, people, ImportSource.API)

        def inside(node: str) -> int:
            return {n.id: n.inside for n in app.stats.realtime(scenario_id).nodes}[node]

        log = tmp_path / "worker.log"
        command = [
            *(sys.executable, "-m", "scenaria.cli", "worker", "--database", database_url),
            *("--resources", str(resources), "--idle", "0.02"),
            *("--test-clock-file", str(clock.path)),
        ]
        with log.open("wb") as out:
            worker = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "SCENARIA_SECRET": "test"},
            )
        try:
            eventually(lambda: inside("wait") == 3, "the tasks to pause", worker, log)
            eventually(connected.is_set, "the deliverer to hang on the SMTP server", worker, log)
            clock.advance(10)
            eventually(
                lambda: inside("after") == 3, "the tasks to move on past the hung send", worker, log
            )
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(30)
    store.dispose()
