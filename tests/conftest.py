"""Shared fixtures: a fake clock, a fresh store, the app, and a local HTTP sink.

Every store-backed test runs twice: on a SQLite file and on PostgreSQL. The
PostgreSQL server is named by ``SCENARIA_TEST_POSTGRES_URL`` (a URL of a database
the tests may connect to with the right to create databases; ``.ci/run`` starts
one). Each test gets its own database, cloned from a template migrated once per
session. Without the variable the PostgreSQL variants are skipped, except under
``CI=true``, where they fail: CI must not go green by skipping them.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine

from scenaria.clock import FakeClock
from scenaria.model import scenario_file
from scenaria.model.profiles import (
    Channel,
    FieldType,
    ImportSource,
    ProfileDatabase,
    SubscriptionStatus,
)
from scenaria.model.scenario import Scenario
from scenaria.services.app import App, Config
from scenaria.services.profiles import ImportResult, ProfileImport
from scenaria.store.database import Store

ROOT = Path(__file__).resolve().parent.parent
WELCOME = ROOT / "examples" / "welcome.yaml"


@dataclass
class HttpSink:
    """A real HTTP server on localhost that records what it receives."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    """The status code it answers with (tests change it to simulate failures)."""

    def json_bodies(self) -> list[Any]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink(url="")

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            sink.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                }
            )
            payload = json.dumps({"accepted": sink.status < 400}).encode()
            self.send_response(sink.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sink
    server.shutdown()
    server.server_close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


POSTGRES_URL_ENV = "SCENARIA_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]


@dataclass
class PostgresServer:
    """The test PostgreSQL server: an admin connection and the migrated template."""

    admin: Engine
    template: str

    def url(self, database: str) -> str:
        url = make_url(str(self.admin.url)).set(database=database)
        return url.render_as_string(hide_password=False)

    def create(self) -> str:
        """A new database cloned from the template; returns its URL."""
        name = f"scenaria_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return self.url(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_url_or_skip() -> str:
    """The server URL from the environment; skip without one (fail under CI)."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    reason = f"PostgreSQL variant: set {POSTGRES_URL_ENV} to a server's URL to run it"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run, not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The server, with a template database migrated once for the whole session."""
    admin = create_engine(postgres_url_or_skip(), isolation_level="AUTOCOMMIT")
    # One template per session: concurrent sessions on one server do not collide.
    template = f"scenaria_template_{os.getpid()}"
    server = PostgresServer(admin, template)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{template}"'))
    migrated = Store(server.url(template))
    migrated.migrate()
    migrated.dispose()
    yield server
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database's URL: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'scenaria.db'}"
        setup = Store(url)
        setup.create_all()
        setup.dispose()
        yield url
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.create()
    yield url
    server.drop(url)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    yield s
    s.dispose()


@pytest.fixture
def app(store: Store, clock: FakeClock) -> Iterator[App]:
    with App(Config(allowed_hosts=frozenset({"127.0.0.1"})), clock=clock, store=store) as app:
        yield app


@pytest.fixture
def db(app: App) -> ProfileDatabase:
    return app.profiles.create_database(
        "Customers", {"first_name": FieldType.STRING, "loyalty_points": FieldType.INT}
    )


def welcome_scenario(database_id: int, call_centre_url: str | None = None) -> Scenario:
    """The example welcome scenario, its API request pointed at ``call_centre_url``."""
    scenario = scenario_file.load(WELCOME, database_id)
    if call_centre_url:
        for node in scenario.nodes:
            if node.id == "call_centre":
                node.settings["url"] = f"{call_centre_url}/call-requests"
    return scenario


def person(
    i: int, *, email_status: SubscriptionStatus = SubscriptionStatus.UNCONFIRMED, **fields: Any
) -> ProfileImport:
    return ProfileImport(
        fields={
            "email": f"user{i}@example.com",
            "phone": f"+1555{i:07d}",
            "first_name": f"User{i}",
            **fields,
        },
        subscriptions={Channel.EMAIL: email_status, Channel.SMS: SubscriptionStatus.SUBSCRIBED},
    )


def import_people(
    app: App,
    database_id: int,
    people: list[ProfileImport],
    source: ImportSource = ImportSource.API,
) -> ImportResult:
    return app.profiles.import_profiles(database_id, people, source)
