"""Engine throughput: N profiles through the welcome scenario on SQLite.

Prints node transitions per second (a transition = a task leaving a node),
peak RSS, and the ratio against a bare claim-and-update loop over the same
tables measured in the same run: the floor SQLite itself sets on this machine.

The API-request node's HTTP call goes to an in-process channel that answers at
once, so the figure measures the engine and its storage, not a web server
(delivery has its own benchmark).

    .venv/bin/python benchmarks/engine.py --profiles 100000
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import tempfile
import time
from pathlib import Path

from scenaria.clock import FakeClock
from scenaria.demo.run import welcome
from scenaria.engine.delivery import DeliveryResult, OutboundMessage
from scenaria.model.profiles import Channel, FieldType, ImportSource, SubscriptionStatus
from scenaria.services.app import App, Config
from scenaria.services.profiles import ProfileImport
from scenaria.store.database import Store

CONFIRMED_EVERY = (2, 5)
"""2 in every 5 profiles have confirmed their email subscription."""


class InstantCallCentre:
    """Answers every API request at once (see the module docstring)."""

    name = "api_request"
    resumes_task = True

    def send(self, message: OutboundMessage) -> DeliveryResult:
        return DeliveryResult({"status": 202})

    def close(self) -> None:
        pass


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_engine(path: Path, profiles: int, batch_size: int) -> dict[str, float]:
    store = Store(f"sqlite:///{path}")
    store.migrate()
    clock = FakeClock()
    app = App(
        Config(allowed_hosts=frozenset({"127.0.0.1"}), batch_size=batch_size),
        clock=clock,
        store=store,
        channels={"api_request": InstantCallCentre()},
    )
    database = app.profiles.create_database(
        "Bench", {"first_name": FieldType.STRING, "loyalty_points": FieldType.INT}
    )
    assert database.id is not None
    app.profiles.add_promo_codes("welcome", [f"P{i:08d}" for i in range(profiles)])
    saved = app.scenarios.save(welcome(database.id, "http://127.0.0.1:9/call"))
    assert saved.scenario.id is not None and not saved.problems
    app.scenarios.activate(saved.scenario.id)

    started = time.perf_counter()
    confirmed, every = CONFIRMED_EVERY
    for first in range(0, profiles, 1000):
        rows = [
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
            for i in range(first, min(first + 1000, profiles))
        ]
        app.profiles.import_profiles(database.id, rows, ImportSource.API)
    imported = time.perf_counter() - started

    started = time.perf_counter()
    app.run_until_idle(clock)
    elapsed = time.perf_counter() - started
    stats = app.stats.scenario(saved.scenario.id, all_time=True)
    assert stats.inside == 0 and stats.completed == profiles, stats
    store.dispose()
    transitions = app.scheduler.transitions
    return {
        "profiles": profiles,
        "import_s": imported,
        "run_s": elapsed,
        "transitions": transitions,
        "transitions_per_s": transitions / elapsed,
        "db_bytes_per_task": path.stat().st_size / profiles,
    }


def run_baseline(path: Path, transitions: int, batch_size: int) -> float:
    """A bare claim-and-update loop on the engine's own tables: claim a batch of due
    tasks, move each one node on (task update + visit row), commit. Moves per second."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("UPDATE tasks SET state='scheduled', due_at=0, visit=1000")
    done = 0
    started = time.perf_counter()
    while done < transitions:
        db.execute("BEGIN IMMEDIATE")
        rows = db.execute(
            "SELECT id, visit FROM tasks WHERE state='scheduled' AND due_at <= ? "
            "ORDER BY due_at LIMIT ?",
            (done + 1, batch_size),
        ).fetchall()
        db.executemany(
            "UPDATE tasks SET due_at=?, visit=?, node_id='x' WHERE id=?",
            [(done + 2, v + 1, i) for i, v in rows],
        )
        db.executemany(
            "INSERT INTO visits (task_id, seq, node_id, entered_at, left_at, port) "
            "VALUES (?, ?, 'x', 0, 0, 'next')",
            [(i, v + 1) for i, v in rows],
        )
        db.execute("COMMIT")
        done += len(rows)
    elapsed = time.perf_counter() - started
    db.close()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scenaria-bench-") as tmp:
        path = Path(tmp) / "bench.db"
        result = run_engine(path, args.profiles, args.batch_size)
        rss = peak_rss_mib()
        baseline = run_baseline(path, int(result["transitions"]), args.batch_size)
    result.update(
        peak_rss_mib=rss,
        baseline_moves_per_s=baseline,
        ratio_vs_baseline=result["transitions_per_s"] / baseline,
    )
    if args.json:
        print(json.dumps(result))
        return
    n = args.profiles
    print(f"welcome scenario, {n:,} profiles, SQLite, batch {args.batch_size}")
    print(
        f"  import + triggers      {result['import_s']:9.1f} s  ({n / result['import_s']:,.0f}/s)"
    )
    print(f"  engine run             {result['run_s']:9.1f} s")
    print(f"  node transitions       {result['transitions']:>9,.0f}")
    print(f"  transitions per second {result['transitions_per_s']:>9,.0f}    (target >= 30,000)")
    print(f"  bare claim+move loop   {baseline:>9,.0f} /s (baseline, same run)")
    print(f"  ratio engine/baseline  {result['ratio_vs_baseline']:9.2f}")
    print(f"  peak RSS               {rss:9.0f} MiB")
    print(f"  database bytes / task  {result['db_bytes_per_task']:9.0f}")


if __name__ == "__main__":
    main()
