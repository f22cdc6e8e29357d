"""A throwaway PostgreSQL server for the benchmarks.

``initdb`` into a temporary directory (as the ``postgres`` user when run as root),
``pg_ctl start`` on 127.0.0.1 with a spare port and a private socket directory,
and ``pg_ctl stop`` plus removal of the directory at the end:

    with PgServer() as pg:
        url = pg.url  # postgresql+psycopg://postgres@127.0.0.1:PORT/postgres

The server keeps PostgreSQL's defaults except for settings a benchmark machine
would set anyway (``shared_buffers``, ``max_connections``); ``fsync`` stays on,
``synchronous_commit`` stays on.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

BIN = Path(os.environ.get("SCENARIA_PG_BIN", "/usr/lib/postgresql/15/bin"))
SETTINGS = {
    "shared_buffers": "1GB",
    "max_connections": "50",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    """Run as ``postgres`` when we are root (initdb refuses to run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class PgServer:
    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = {**SETTINGS, **(settings or {})}
        self.tmp = Path(tempfile.mkdtemp(prefix="scenaria-pg-"))
        self.data = self.tmp / "data"
        self.sockets = self.tmp / "sock"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        self.started = False

    def start(self) -> PgServer:
        self.sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.tmp, "postgres")
            shutil.chown(self.sockets, "postgres")
        subprocess.run(
            _as_postgres(
                [
                    str(BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        subprocess.run(
            _as_postgres(
                [
                    str(BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.tmp / "server.log"),
                    "-w",
                    "-o",
                    f"-h 127.0.0.1 -p {self.port} -k {self.sockets} {options}",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.started = True
        return self

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far: the postmaster, its live backends and
        the children it has reaped."""
        import psutil

        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        master = psutil.Process(pid)
        t = master.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in master.children(recursive=True):
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.NoSuchProcess:
                pass
        return total

    def version(self) -> str:
        out = subprocess.run(
            [str(BIN / "postgres"), "--version"], check=True, capture_output=True, text=True
        )
        return out.stdout.strip()

    def create_database(self, name: str, template: str | None = None) -> tuple[str, str]:
        """A fresh database on this server: (SQLAlchemy URL, libpq DSN)."""
        return fresh_database(self.url, name, template)

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                _as_postgres([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]),
                check=False,
                capture_output=True,
            )
            self.started = False
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def fresh_database(server_url: str, name: str, template: str | None = None) -> tuple[str, str]:
    """Create database ``name`` (dropped first if there), optionally as a copy of
    ``template``, on the server of the SQLAlchemy URL ``server_url``; its
    (SQLAlchemy URL, libpq DSN)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        copy = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    own = url.set(database=name)
    return (
        own.set(drivername="postgresql+psycopg").render_as_string(hide_password=False),
        own.set(drivername="postgresql").render_as_string(hide_password=False),
    )


if __name__ == "__main__":
    with PgServer() as pg:
        print(pg.version(), pg.url)
        print(pg.create_database("check"))
