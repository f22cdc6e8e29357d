"""Opening the database: URL from config or ``SCENARIA_DATABASE_URL``, migrations, transactions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from scenaria.store.repositories import Tx
from scenaria.store.schema import metadata

DEFAULT_URL = "sqlite:///scenaria.db"
ENV_URL = "SCENARIA_DATABASE_URL"
MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get(ENV_URL) or DEFAULT_URL


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-262144")  # KiB: 256 MiB at most
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        mode = "DEFERRED" if conn.get_execution_options().get("readonly") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class Store:
    """One database: hands out transactions whose repositories share a connection."""

    def __init__(
        self,
        url: str | None = None,
        *,
        echo: bool = False,
        idle_transaction_timeout: float | None = None,
    ) -> None:
        """``idle_transaction_timeout`` (PostgreSQL): seconds a transaction may sit
        idle before the server ends the session and rolls it back. A worker holds
        its claimed batch in one transaction, so this is the lease on the batch:
        a worker that hangs mid-batch loses it and another worker takes it over."""
        self.url = database_url(url)
        # orjson: JSON columns (task data, profiles, payloads) are on the hot path.
        kwargs: dict[str, Any] = {
            "echo": echo,
            "json_serializer": _dumps,
            "json_deserializer": orjson.loads,
        }
        if self.url.startswith("sqlite"):
            if ":memory:" in self.url or self.url in ("sqlite://", "sqlite:///"):
                kwargs["poolclass"] = StaticPool
                kwargs["connect_args"] = {"check_same_thread": False}
            else:
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif idle_transaction_timeout is not None:
            milliseconds = max(1, round(idle_transaction_timeout * 1000))
            kwargs["connect_args"] = {
                "options": f"-c idle_in_transaction_session_timeout={milliseconds}"
            }
        self.engine = create_engine(self.url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            _sqlite_setup(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def create_all(self) -> None:
        """Create the schema directly from the metadata (tests, in-memory stores)."""
        metadata.create_all(self.engine)

    def migrate(self) -> None:
        """Bring the schema up to date with the Alembic migrations."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction; everything in it commits together or not at all."""
        with self.engine.begin() as conn:
            yield Tx(conn)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only transaction that does not wait for writers."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(readonly=True)
            with conn.begin():
                yield Tx(conn)

    def dispose(self) -> None:
        self.engine.dispose()
