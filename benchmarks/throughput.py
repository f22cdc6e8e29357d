"""The welcome scenario on N profiles with W worker processes, SQLite or PostgreSQL.

One run measures, in order, on one database:
  1. import: N profiles through the API import service in batches of 1,000 (each
     batch fires the trigger and creates the tasks), in the coordinator process;
  2. first email: the workers advance every task through the trigger and the welcome
     email into the first pause, at the import instant; RSS is sampled as tasks pile
     up in the pause (memory must not grow with waiting tasks);
  3. the rest: the workers jump their fake clocks to each next timer until every task
     has finished (the API request answers at once, in process).
Node transitions per second = every node left in 2 and 3 / (time of 2 + time of 3),
as in ``benchmarks/engine.py``. Then the database's bytes per finished task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import START, Workers, heartbeat, import_profiles, make_app, setup_welcome
from disk import pg_breakdown, sqlite_breakdown, sqlite_file_bytes, sqlite_row_lines
from scenaria.clock import FakeClock


@dataclass
class WelcomeRun:
    backend: str
    profiles: int
    workers: int
    import_s: float = 0.0
    first_email_s: float = 0.0
    rest_s: float = 0.0
    transitions: int = 0
    import_splits: list[tuple[int, float]] = field(default_factory=list)
    rss_samples: list[tuple[int, float]] = field(default_factory=list)
    worker_rss_waiting_mib: float = 0.0
    worker_peak_rss_mib: float = 0.0
    worker_rss_shrunk_mib: float = 0.0
    db_bytes: int = 0
    objects: list[tuple[str, str, int]] = field(default_factory=list)
    row_lines: list[str] = field(default_factory=list)
    worker_cpu_s: float = 0.0
    server_cpu_s: float | None = None

    @property
    def run_s(self) -> float:
        return self.first_email_s + self.rest_s

    @property
    def transitions_per_s(self) -> float:
        return self.transitions / self.run_s

    @property
    def import_first_email_s(self) -> float:
        return self.import_s + self.first_email_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "profiles": self.profiles,
            "workers": self.workers,
            "import_s": self.import_s,
            "first_email_s": self.first_email_s,
            "rest_s": self.rest_s,
            "transitions": self.transitions,
            "transitions_per_s": self.transitions_per_s,
            "rss_samples": self.rss_samples,
            "worker_rss_waiting_mib": self.worker_rss_waiting_mib,
            "worker_peak_rss_mib": self.worker_peak_rss_mib,
            "db_bytes_per_task": self.db_bytes / self.profiles,
        }


Prepared = tuple[float, int, list[tuple[int, float]]]
"""(import seconds, scenario id, (profiles imported, seconds) at every tenth)."""


def prepare_welcome(url: str, profiles: int, say: Any = print) -> Prepared:
    """Set up the welcome scenario and import the profiles."""
    clock = FakeClock(START)
    app, database_id, scenario_id = setup_welcome(url, profiles, clock)
    done = heartbeat(f"import of {profiles:,} profiles", say)
    try:
        splits: list[tuple[int, float]] = []
        seconds = import_profiles(app, database_id, profiles, splits=splits)
    finally:
        done.set()
        app.close()
    say(f"  imported {profiles:,} profiles in {seconds:.1f} s ({profiles / seconds:,.0f}/s)")
    return seconds, scenario_id, splits


def run_welcome(
    url: str,
    profiles: int,
    workers: int,
    *,
    sqlite_path: Path | None = None,
    pg_dsn: str | None = None,
    prepared: Prepared | None = None,
    server_cpu: Callable[[], float] | None = None,
    say: Any = print,
) -> WelcomeRun:
    """Import (unless ``prepared`` says it was done: a copy of an imported database),
    then the workers' run, then the database's size."""
    backend = "SQLite" if sqlite_path else "PostgreSQL"
    run = WelcomeRun(backend, profiles, workers)
    label = f"{backend} {profiles:,} profiles, {workers} worker(s)"
    run.import_s, scenario_id, run.import_splits = prepared or prepare_welcome(url, profiles, say)

    with Workers(url, workers) as pool:
        server_before = server_cpu() if server_cpu else None
        done = heartbeat(f"{label}: first email", say)
        run.first_email_s, answers = pool.run("drain", {"sample_every": max(profiles // 10, 1000)})
        done.set()
        moved = sum(a["moved"] for a in answers)
        assert moved == profiles, (moved, profiles)
        run.transitions += sum(a["transitions"] for a in answers)
        run.worker_cpu_s += sum(a["cpu_s"] for a in answers)
        if workers == 1:
            run.rss_samples = answers[0]["rss_samples"]
        run.worker_rss_waiting_mib = max(a["rss_before_shrink_mib"] for a in answers)
        run.worker_rss_shrunk_mib = max(a["rss_shrunk_mib"] for a in answers)
        say(
            f"  {label}: past the first email in {run.first_email_s:.1f} s, "
            f"worker RSS {run.worker_rss_waiting_mib:.0f} MiB"
        )
        done = heartbeat(f"{label}: rest of the scenario", say)
        run.rest_s, answers = pool.run("until_idle")
        done.set()
        run.transitions += sum(a["transitions"] for a in answers)
        run.worker_cpu_s += sum(a["cpu_s"] for a in answers)
        if server_cpu and server_before is not None:
            run.server_cpu_s = server_cpu() - server_before
        run.worker_peak_rss_mib = max(a["peak_rss_mib"] for a in answers)
    app = make_app(url, FakeClock(START))
    stats = app.stats.scenario(scenario_id, all_time=True)
    app.close()
    assert stats.inside == 0 and stats.completed == profiles, stats
    say(f"  {label}: {run.transitions:,} transitions, {run.transitions_per_s:,.0f}/s")
    if sqlite_path is not None:
        run.db_bytes = sqlite_file_bytes(sqlite_path)
        run.objects = sqlite_breakdown(sqlite_path)
        run.row_lines = sqlite_row_lines(sqlite_path, profiles)
    elif pg_dsn is not None:
        run.db_bytes, run.objects = pg_breakdown(pg_dsn)
    return run


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - started, out
