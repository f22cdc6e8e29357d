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
import tempfile
import time
from pathlib import Path

from baselines import sqlite_moves_per_s
from common import InstantCallCentre, profile_rows
from scenaria.clock import FakeClock
from scenaria.demo.run import welcome
from scenaria.model.profiles import FieldType, ImportSource
from scenaria.services.app import App, Config
from scenaria.store.database import Store


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
    for first in range(0, profiles, 1000):
        rows = profile_rows(first, min(1000, profiles - first))
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
        baseline = sqlite_moves_per_s(path, int(result["transitions"]), args.batch_size)
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
