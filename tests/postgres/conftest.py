"""Worker processes on one PostgreSQL database: the database, a clock file the
test advances, `scenaria worker` subprocesses, and local sinks that record the
idempotency key of everything delivered to them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import text

from scenaria.clock import FileClock
from scenaria.services.app import App, Config
from scenaria.store.database import Store
from tests.conftest import PostgresServer

START = 1_767_225_600.0  # 2026-01-01T00:00Z
SECRET = "worker-test-secret"


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh migrated PostgreSQL database (these tests have no SQLite variant)."""
    url = postgres.create()
    yield url
    postgres.drop(url)


@pytest.fixture
def file_clock(tmp_path: Path) -> FileClock:
    """The clock of the test and of every worker process it starts."""
    return FileClock(tmp_path / "clock", start=START)


@pytest.fixture
def pg_app(pg_url: str, file_clock: FileClock) -> Iterator[App]:
    """The test's own view of the database: imports, scenarios, checks."""
    with App(
        Config(allowed_hosts=frozenset({"127.0.0.1"})),
        clock=file_clock,
        store=Store(pg_url),
        channels={},
    ) as app:
        yield app


# --------------------------------------------------------------------------- sinks


@dataclass
class KeyedHttpSink:
    """A keep-alive HTTP server that counts requests by (path, Idempotency-Key)."""

    url: str = ""
    keys: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, path: str) -> Counter[str]:
        with self.lock:
            return Counter({k: n for (p, k), n in self.keys.items() if p == path})


@pytest.fixture
def http_keys() -> Iterator[KeyedHttpSink]:
    sink = KeyedHttpSink()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            key = self.headers.get("Idempotency-Key") or ""
            with sink.lock:
                sink.keys[(self.path, key)] += 1
            payload = json.dumps({"id": key, "status": "accepted"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sink
    server.shutdown()
    server.server_close()


@dataclass
class KeyedMailbox:
    """An SMTP server that counts messages by their ``X-Scenaria-Key`` header."""

    port: int = 0
    keys: Counter[str] = field(default_factory=Counter)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        assert isinstance(content, bytes)
        head = content.split(b"\r\n\r\n", 1)[0]
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"x-scenaria-key:"):
                self.keys[line.split(b":", 1)[1].strip().decode()] += 1
        return "250 OK"


@pytest.fixture
def mail_keys() -> Iterator[KeyedMailbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = KeyedMailbox(port)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox
    controller.stop()


def resources_file(
    path: Path, http: KeyedHttpSink | None, mail: KeyedMailbox | None = None
) -> Path:
    """A resources YAML sending email to ``mail`` and SMS to ``http``'s /sms."""
    email = {"default": {"smtp_host": "127.0.0.1", "smtp_port": mail.port}} if mail else {}
    sms = {"default": {"url": f"{http.url}/sms"}} if http else {}
    path.write_text(json.dumps({"email": email, "sms": sms}), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- workers


@dataclass
class WorkerProcess:
    """One `scenaria worker` subprocess and its log."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 60.0) -> WorkerReport:
        """SIGTERM (once it has started and handles it), wait for a clean exit, and
        read its closing report."""
        self.wait_started()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"worker {self.pid} ignored SIGTERM:\n{self.output()}") from None
        assert code == 0, f"worker {self.pid} exited with {code}:\n{self.output()}"
        return WorkerReport.parse(self.output())

    def wait_started(self) -> None:
        """Until it is up: connected, polling, and handling SIGTERM."""
        wait_for(lambda: " started" in self.output(), f"worker {self.pid} to start", 60, [self])

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)


@dataclass(frozen=True)
class WorkerReport:
    tasks: int
    batches: int
    messages: int
    failed_batches: int

    @classmethod
    def parse(cls, output: str) -> WorkerReport:
        line = next(x for x in output.splitlines() if " stopped: " in x)
        words = line.split(": ", 1)[1].replace(",", "").split()
        # "<tasks> tasks in <batches> batches <messages> messages <failed> failed batches"
        return cls(int(words[0]), int(words[3]), int(words[5]), int(words[7]))


Spawn = Callable[..., WorkerProcess]


@pytest.fixture
def spawn_worker(pg_url: str, file_clock: FileClock, tmp_path: Path) -> Iterator[Spawn]:
    """``spawn_worker(*options)``: start `scenaria worker` on the test's database and clock."""
    started: list[WorkerProcess] = []

    def spawn(*options: str) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        command = [
            sys.executable,
            "-m",
            "scenaria.cli",
            "worker",
            "--database",
            pg_url,
            "--allow-host",
            "127.0.0.1",
            "--idle",
            "0.05",
            "--test-clock-file",
            str(file_clock.path),
            *options,
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "SCENARIA_SECRET": SECRET},
            )
        worker = WorkerProcess(process, log)
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        if worker.alive():
            worker.process.kill()
            worker.process.wait()


# --------------------------------------------------------------------------- waiting


def wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout: float = 60.0,
    workers: list[WorkerProcess] | None = None,
) -> None:
    """Poll ``condition`` until true; fail naming ``what`` (and any worker that died)."""
    deadline = time.monotonic() + timeout
    while not condition():
        for worker in workers or []:
            assert worker.alive(), f"worker {worker.pid} died:\n{worker.output()}"
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def scalar(store: Store, sql: str, **params: Any) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def work_left(store: Store, now: float, messages: bool = True) -> int:
    """Tasks due now and, with ``messages``, messages due now or being sent."""
    sql = "SELECT (SELECT count(*) FROM tasks WHERE state = 'scheduled' AND due_at <= :now)"
    if messages:
        sql += (
            " + (SELECT count(*) FROM outbox WHERE status = 'queued' AND next_attempt_at <= :now)"
            " + (SELECT count(*) FROM outbox WHERE status = 'sending')"
        )
    return int(scalar(store, sql, now=now))


def settle(
    store: Store,
    clock: FileClock,
    workers: list[WorkerProcess],
    timeout: float = 60.0,
    messages: bool = True,
) -> None:
    """Wait until the workers have done everything due at the clock's current time
    (tasks only, unless ``messages``)."""
    now = clock.now()
    wait_for(
        lambda: work_left(store, now, messages) == 0, f"the work due at {now}", timeout, workers
    )
