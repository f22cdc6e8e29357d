"""Opening the database: URL from config or ``SCENARIA_DATABASE_URL``, migrations, transactions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from scenaria.store.repositories import Tx
from scenaria.store.schema import metadata

DEFAULT_URL = "sqlite:///scenaria.db"
ENV_URL = "SCENARIA_DATABASE_URL"
WORKER_APPLICATION = "scenaria-worker"
"""How worker sessions name themselves to PostgreSQL."""
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
        batch_lease: float | None = None,
    ) -> None:
        """``batch_lease`` (PostgreSQL, for workers): seconds a worker's transaction
        may sit idle before it loses what it claimed. A worker holds its claimed
        batch in one transaction: if the worker dies, the server rolls it back; if
        it hangs, the server ends the session after the lease (and other workers
        end it too, see :meth:`end_stale_batches`); if its host vanishes, TCP
        keepalives end it. Either way the batch goes back to the queue."""
        self.url = database_url(url)
        self.batch_lease = batch_lease
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
        elif batch_lease is not None:
            lease_ms = max(1, round(batch_lease * 1000))
            kwargs["connect_args"] = {
                "application_name": WORKER_APPLICATION,
                "options": " ".join(
                    f"-c {name}={value}"
                    for name, value in (
                        ("idle_in_transaction_session_timeout", lease_ms),
                        # Nor does a worker wait longer for a hung one's row locks (a
                        # counter row, say): its batch fails, is retried, and while idle
                        # it ends the hung transaction.
                        ("lock_timeout", lease_ms),
                        ("tcp_keepalives_idle", 30),
                        ("tcp_keepalives_interval", 10),
                        ("tcp_keepalives_count", 3),
                    )
                ),
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

    def end_stale_batches(self) -> int:
        """End other workers' transactions idle for longer than the batch lease; their
        batches go back to the queue. Returns how many were ended.

        The server's own idle timeout does not fire after a pipelined
        ``executemany`` (psycopg's), so live workers enforce the lease on each other.
        """
        if self.batch_lease is None or self.dialect != "postgresql":
            return 0
        with self.engine.connect() as conn:
            ended = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :app "
                    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%' "
                    "AND state_change < now() - make_interval(secs => :lease)"
                ),
                {"app": WORKER_APPLICATION, "lease": self.batch_lease},
            ).scalar_one()
            conn.commit()
        return int(ended)

    def dispose(self) -> None:
        self.engine.dispose()
