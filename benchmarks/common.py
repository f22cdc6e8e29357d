"""Shared pieces of the benchmark suite: the welcome scenario on a store, profile
imports, clocks, worker processes and the result rows the suite prints.

Worker processes are real processes (``multiprocessing`` with ``spawn``), each with
its own Store, App and Scheduler, talking to the coordinator over a pipe; nothing
is shared in memory, as with N ``scenaria`` worker processes on one database.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

from scenaria.clock import DAY, FakeClock
from scenaria.demo.run import welcome
from scenaria.engine.delivery import DeliveryResult, OutboundMessage
from scenaria.model.profiles import Channel, FieldType, ImportSource, SubscriptionStatus
from scenaria.services.app import App, Config
from scenaria.services.profiles import ProfileImport
from scenaria.store.database import Store

HERE = Path(__file__).resolve().parent
START = 1_767_225_600.0
"""The fake clock's start (2026-01-01T00:00Z), the same in every process."""
CONFIRMED_EVERY = (2, 5)
"""2 in every 5 profiles have confirmed their email subscription."""
IMPORT_BATCH = 1000


class InstantCallCentre:
    """Answers every API request at once: the figures measure the engine and its
    storage, not a web server (delivery has its own benchmark)."""

    name = "api_request"
    resumes_task = True

    def send(self, message: OutboundMessage) -> DeliveryResult:
        return DeliveryResult({"status": 202})

    def close(self) -> None:
        pass


class OffsetClock:
    """Wall-clock time shifted by a constant, so a scenario set up on a fake clock
    can be run in real time. ``hold()`` freezes it (one batch reads one instant)."""

    def __init__(self, offset: float) -> None:
        self.offset = offset
        self.held: float | None = None

    def now(self) -> float:
        if self.held is not None:
            return self.held
        return time.time() + self.offset

    def hold(self) -> float:
        self.held = None
        self.held = self.now()
        return self.held

    def release(self) -> None:
        self.held = None


def make_app(url: str, clock: Any, batch_size: int = 1000) -> App:
    return App(
        Config(allowed_hosts=frozenset({"127.0.0.1"}), batch_size=batch_size),
        clock=clock,
        store=Store(url),
        channels={"api_request": InstantCallCentre()},
    )


def setup_welcome(url: str, profiles: int, clock: FakeClock) -> tuple[App, int, int]:
    """A migrated database with the welcome scenario active and enough promo codes;
    returns the app, the profile database id and the scenario id."""
    store = Store(url)
    store.migrate()
    store.dispose()
    app = make_app(url, clock)
    database = app.profiles.create_database(
        "Bench", {"first_name": FieldType.STRING, "loyalty_points": FieldType.INT}
    )
    assert database.id is not None
    # The 40 % who confirm need a code each; the pool has some to spare, so the
    # figures do not depend on how workers share the last codes (before commit
    # 1931482 an exact pool failed tasks with several PostgreSQL workers).
    confirmed, every = CONFIRMED_EVERY
    codes = profiles * confirmed // every + max(1000, profiles // 50)
    for first in range(0, codes, 100_000):
        app.profiles.add_promo_codes(
            "welcome", [f"P{i:08d}" for i in range(first, min(first + 100_000, codes))]
        )
    saved = app.scenarios.save(welcome(database.id, "http://127.0.0.1:9/call"))
    assert saved.scenario.id is not None and not saved.problems, saved.problems
    app.scenarios.activate(saved.scenario.id)
    return app, database.id, saved.scenario.id


def profile_rows(first: int, count: int) -> list[ProfileImport]:
    confirmed, every = CONFIRMED_EVERY
    return [
        ProfileImport(
            fields={
                "email": f"c{i}@example.com",
                "phone": f"+1555{i:07d}",
                "first_name": f"C{i}",
            },
            subscriptions={
                Channel.EMAIL: SubscriptionStatus.SUBSCRIBED
                if i % every < confirmed
                else SubscriptionStatus.UNCONFIRMED,
                Channel.SMS: SubscriptionStatus.SUBSCRIBED,
            },
        )
        for i in range(first, first + count)
    ]


def import_profiles(
    app: App,
    database_id: int,
    profiles: int,
    first: int = 0,
    splits: list[tuple[int, float]] | None = None,
) -> float:
    """Import ``profiles`` in API batches of 1,000 (each fires the trigger); seconds
    taken. ``splits`` gets (profiles imported, seconds so far) at every tenth."""
    started = time.perf_counter()
    tenth = max(profiles // 10, IMPORT_BATCH)
    for start in range(first, first + profiles, IMPORT_BATCH):
        count = min(IMPORT_BATCH, first + profiles - start)
        app.profiles.import_profiles(database_id, profile_rows(start, count), ImportSource.API)
        done = start + count - first
        if splits is not None and (done % tenth == 0 or done == profiles):
            splits.append((done, time.perf_counter() - started))
    return time.perf_counter() - started


def rss_mib() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def peak_rss_mib() -> float:
    """This process's peak RSS since it started (VmHWM). Not ``ru_maxrss``: Linux
    keeps that across fork and exec, so a spawned worker would report the
    coordinator's peak at the moment it was spawned."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------ worker processes


def _worker_main(url: str, batch_size: int, conn: Connection) -> None:
    """A worker process: its own Store, App and Scheduler; runs commands sent by the
    coordinator and answers each with a dict."""
    clock = FakeClock(START)
    app = make_app(url, clock, batch_size)
    conn.send({"ready": True, "rss_mib": rss_mib()})
    while True:
        command, params = conn.recv()
        if command == "stop":
            app.close()
            conn.send({"stopped": True})
            return
        started = time.perf_counter()
        cpu = time.process_time()
        before = app.scheduler.transitions
        out: dict[str, Any] = {}
        if command == "drain":
            # Everything due now: the imported tasks through the trigger and the first
            # email into the first pause. RSS sampled every ``sample_every`` tasks.
            moved = 0
            samples: list[tuple[int, float]] = []
            every = params.get("sample_every", 100_000)
            while True:
                n = app.scheduler.run_batch()
                if n == 0:
                    break
                if (moved + n) // every != moved // every:
                    samples.append((moved + n, rss_mib()))
                moved += n
            out["moved"] = moved
            out["rss_samples"] = samples
            out["rss_before_shrink_mib"] = rss_mib()
            out["rss_shrunk_mib"] = _shrink(app)
        elif command == "until_idle":
            app.run_until_idle(clock, max_rounds=10**9)
        elif command == "realtime":
            out.update(_realtime(app, params))
        else:
            raise ValueError(command)
        out.update(
            seconds=time.perf_counter() - started,
            cpu_s=time.process_time() - cpu,
            transitions=app.scheduler.transitions - before,
            rss_mib=rss_mib(),
            peak_rss_mib=peak_rss_mib(),
        )
        conn.send(out)


def _shrink(app: App) -> float:
    """RSS once SQLite's page cache is let go (``PRAGMA shrink_memory``) and the C
    heap trimmed: what the worker holds besides the database's cache."""
    import ctypes

    if app.store.dialect == "sqlite":
        with app.store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA shrink_memory")
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return rss_mib()


def _realtime(app: App, params: dict[str, Any]) -> dict[str, Any]:
    """Run like the product's worker loop (run everything pending, sleep ``idle`` when
    nothing is), on wall-clock time shifted by ``offset``, until the clock passes
    ``until`` and nothing is due. Records each batch: (its instant, its commit time)."""
    clock = OffsetClock(params["offset"])
    app.clock = clock
    app.scheduler.clock = clock
    app.deliverer.clock = clock
    batches: list[tuple[float, float, int]] = []
    run_batch = app.scheduler.run_batch

    def timed_batch() -> int:
        at = clock.hold()
        try:
            n = run_batch()
        finally:
            clock.release()
        if n:
            batches.append((at, clock.now(), n))
        return n

    app.scheduler.run_batch = timed_batch  # type: ignore[method-assign]
    idle = params.get("idle", 0.2)
    while True:
        moved = app.run_pending()
        if moved == 0:
            if clock.now() > params["until"]:
                break
            time.sleep(idle)
    return {"batches": batches}


@dataclass
class Workers:
    """N worker processes on one database."""

    url: str
    count: int
    batch_size: int = 1000
    procs: list[Any] = field(default_factory=list)
    conns: list[Connection] = field(default_factory=list)

    def __enter__(self) -> Workers:
        ctx = mp.get_context("spawn")
        for _ in range(self.count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(self.url, self.batch_size, child))
            proc.start()
            self.procs.append(proc)
            self.conns.append(parent)
        for conn in self.conns:
            conn.recv()
        return self

    def run(
        self, command: str, params: dict[str, Any] | None = None, on: int | None = None
    ) -> tuple[float, list[dict[str, Any]]]:
        """Send ``command`` to every worker (or worker ``on``) at once; wall seconds
        until the last one answered, and the answers."""
        conns = self.conns if on is None else [self.conns[on]]
        started = time.perf_counter()
        for conn in conns:
            conn.send((command, params or {}))
        answers = [conn.recv() for conn in conns]
        return time.perf_counter() - started, answers

    def __exit__(self, *exc: object) -> None:
        for conn in self.conns:
            try:
                conn.send(("stop", {}))
                conn.recv()
            except (BrokenPipeError, EOFError):
                pass
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


# ------------------------------------------------------------------ results


@dataclass
class Row:
    """One line of the results table."""

    figure: str
    value: float | None
    unit: str = ""
    baseline: float | None = None
    baseline_label: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    say: Callable[[str], None] = field(default=lambda s: print(s, file=sys.stderr, flush=True))

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def detail(self, text: str) -> None:
        self.details.append(text)

    def log(self, text: str) -> None:
        self.say(text)


def heartbeat(label: str, say: Callable[[str], None], every: float = 30.0) -> threading.Event:
    """Print ``label … Ns`` every ``every`` seconds until the returned event is set."""
    done = threading.Event()
    started = time.perf_counter()

    def beat() -> None:
        while not done.wait(every):
            say(f"  … {label}: {time.perf_counter() - started:.0f} s")

    threading.Thread(target=beat, daemon=True).start()
    return done


__all__ = ["DAY", "START"]
