"""The benchmark suite of issue 6: one command, every figure, one table.

    .venv/bin/python benchmarks/suite.py [--quick] [--postgres-url URL] [--only NAME ...]
        [--out benchmarks/results/latest.md]

Every figure is printed with a baseline measured in the same run and the ratio:
  * sqlite     node transitions/s, welcome scenario, SQLite, 1 worker process, at each
               size (100,000 and 1,000,000 profiles; --quick: 10,000); from the same
               runs: import + first email, worker RSS with every task waiting in the
               pause, bytes on disk per finished task (with a per-table breakdown);
               baselines: a bare claim-and-update loop, a bare import loop;
  * postgres   the same with 1, 2 and 4 worker processes on PostgreSQL (a throwaway
               server unless --postgres-url), baseline: the bare loop with as many
               processes (FOR UPDATE SKIP LOCKED), and the 1 -> 2 worker scaling;
  * wakeups    100,000 tasks whose pause ends at one instant, on the wall clock:
               time until all moved on, lateness p50/p99; steady wake-ups' lateness;
  * spiff      the welcome scenario as a BPMN process in SpiffWorkflow, state in
               SQLite (and in memory only), against Scenaria on SQLite.

Sizes: the issue's by default (takes a while: about half an hour on 2 cores);
--quick runs every figure at 10,000 profiles in about two minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import pg_moves_per_s, sqlite_moves_per_s
from common import HERE, Results, Row, peak_rss_mib
from disk import breakdown_lines
from pg_server import PgServer, fresh_database
from scenaria.store.database import Store
from throughput import WelcomeRun, prepare_welcome, run_welcome

NAMES = ("sqlite", "postgres", "wakeups", "spiff")


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:,.1f}"
    else:
        text = f"{value:,.2f}"
    return f"{text} {unit}".strip()


def table(rows: list[Row]) -> list[str]:
    lines = [
        "| figure | value | baseline (same run) | ratio | target | met |",
        "|---|---:|---|---:|---|:---:|",
    ]
    for r in rows:
        base = f"{_fmt(r.baseline)} {r.baseline_label}".strip() if r.baseline is not None else "-"
        ratio = f"{r.ratio:,.2f}" if r.ratio is not None else "-"
        met = {True: "yes", False: "**no**", None: "-"}[r.met]
        value = _fmt(r.value, r.unit) + (f" ({r.note})" if r.note else "")
        lines.append(f"| {r.figure} | {value} | {base} | {ratio} | {r.target} | {met} |")
    return lines


def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        int(line.split()[1]) / 2**20
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    try:
        pg = PgServer().version()
    except (OSError, subprocess.CalledProcessError):
        pg = "not available"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    return [
        f"- {os.cpu_count()} cores ({cpu}), {mem:.1f} GiB RAM, {platform.platform()}",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {pg}",
        f"- scenaria at commit {commit}; load average at start {os.getloadavg()[0]:.2f}",
    ]


# ------------------------------------------------------------------ benchmarks


def bench_sqlite(res: Results, sizes: list[int], tmp: Path, ctx: dict[str, Any]) -> None:
    for n in sizes:
        path = tmp / f"welcome-{n}.db"
        res.log(f"sqlite: {n:,} profiles")
        run = run_welcome(f"sqlite:///{path}", n, 1, sqlite_path=path, say=res.log)
        moves = min(run.transitions, 1_000_000)
        base = sqlite_moves_per_s(path, moves)
        bare_import = bare_import_s(tmp / f"bare-{n}.db", n)
        path.unlink()
        ctx.setdefault("sqlite_runs", []).append(run)
        ctx.setdefault("sqlite_tps", run.transitions_per_s)
        ctx.setdefault("sqlite_tps_size", n)
        res.add(
            Row(
                f"node transitions/s, SQLite, {n:,} profiles, 1 worker",
                run.transitions_per_s,
                "/s",
                base,
                "/s bare claim+move loop",
                run.transitions_per_s / base,
                "≥ 30,000/s",
                run.transitions_per_s >= 30_000,
            )
        )
        res.add(
            Row(
                f"{n:,} profiles imported + past the first email, SQLite",
                run.import_first_email_s,
                "s",
                bare_import,
                "s bare INSERT of profile+task rows",
                run.import_first_email_s / bare_import,
                "≤ 60 s for 1,000,000" if n >= 1_000_000 else "(≤ 60 s at 1M)",
                run.import_first_email_s <= 60 if n >= 1_000_000 else None,
            )
        )
        # Baseline: the same worker with half as many tasks waiting (memory must not
        # grow with waiting tasks; SQLite's page cache fills first, up to 256 MiB).
        half = next((x for x in run.rss_samples if x[0] >= n // 2), (0, run.worker_rss_waiting_mib))
        res.add(
            Row(
                f"worker RSS with {n:,} tasks waiting in a pause, SQLite",
                run.worker_rss_waiting_mib,
                "MiB",
                half[1],
                f"MiB at {half[0]:,} waiting",
                run.worker_rss_waiting_mib / half[1],
                "< 500 MiB at 1M; flat",
                run.worker_rss_waiting_mib < 500 if n >= 1_000_000 else None,
                note=f"{run.worker_rss_shrunk_mib:.0f} MiB without the page cache",
            )
        )
        per_task = run.db_bytes / n
        ctx.setdefault("sqlite_bytes_per_task", per_task)
        res.add(
            Row(
                f"database bytes per finished task, SQLite, {n:,} (visits, messages incl.)",
                per_task,
                "B",
                None,
                "",
                None,
                "≤ 1,000 B",
                per_task <= 1000,
            )
        )
        ctx["sqlite_breakdown_row"] = res.rows[-1]
        res.detail(_run_detail(run))
        res.detail(
            f"Bytes per finished task on SQLite, {n:,} tasks (dbstat, whole pages):\n\n"
            + "\n".join(breakdown_lines(run.objects, n))
            + "\n\nWhat they hold:\n\n"
            + "\n".join(run.row_lines)
        )


def bare_import_s(path: Path, n: int) -> float:
    """The floor for an import: the same profile rows and one task row each, inserted
    with sqlite3 in batches of 1,000, one transaction per batch, on the engine's schema."""
    from common import profile_rows

    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    started = time.perf_counter()
    for first in range(0, n, 1000):
        rows = profile_rows(first, min(1000, n - first))
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO profiles (id, database_id, match_key, fields, subscriptions, "
            "created_at, updated_at) VALUES (?, 1, ?, ?, ?, 0, 0)",
            [
                (
                    first + i + 1,
                    r.fields["email"],
                    json.dumps(r.fields),
                    json.dumps({c.value: s.value for c, s in r.subscriptions.items()}),
                )
                for i, r in enumerate(rows)
            ],
        )
        db.executemany(
            "INSERT INTO tasks (scenario_id, profile_id, state, node_id, node_entered_at, "
            "entered_at, due_at, visit) VALUES (1, ?, 'scheduled', 'new_profile', 0, 0, 0, 0)",
            [(first + i + 1,) for i in range(len(rows))],
        )
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    path.unlink()
    return elapsed


def _run_detail(run: WelcomeRun) -> str:
    samples = ", ".join(f"{n:,}: {mib:.0f}" for n, mib in run.rss_samples)
    rates, last = [], (0, 0.0)
    for n, t in run.import_splits:
        rates.append(f"{(n - last[0]) / max(t - last[1], 1e-9):,.0f}")
        last = (n, t)
    return (
        f"{run.backend}, {run.profiles:,} profiles, {run.workers} worker(s): import "
        f"{run.import_s:.1f} s ({run.profiles / run.import_s:,.0f} profiles/s), first email "
        f"{run.first_email_s:.1f} s, rest {run.rest_s:.1f} s, {run.transitions:,} transitions "
        f"({run.transitions_per_s:,.0f}/s); worker RSS with all waiting "
        f"{run.worker_rss_waiting_mib:.0f} MiB"
        + (
            f" ({run.worker_rss_shrunk_mib:.0f} MiB once the SQLite page cache is let go)"
            if run.backend == "SQLite"
            else ""
        )
        + f", worker peak {run.worker_peak_rss_mib:.0f} MiB"
        + (f"; import rate (profiles/s) by tenth: {', '.join(rates)}" if rates else "")
        + (f"; RSS (MiB) by tasks waiting: {samples}" if samples else "")
        + f"; database {run.db_bytes / run.profiles:,.0f} B per finished task. "
        + _cpu_detail(run)
    )


def _cpu_detail(run: WelcomeRun) -> str:
    """CPU per transition, and what it implies for 2 cores."""
    us = 1e6 / run.transitions
    wall = run.run_s * us
    text = f"CPU per transition: workers {run.worker_cpu_s * us:.0f} µs"
    busy = run.worker_cpu_s
    if run.server_cpu_s is not None:
        text += f", PostgreSQL server {run.server_cpu_s * us:.0f} µs"
        busy += run.server_cpu_s
    text += (
        f"; wall {wall:.0f} µs per transition, so the run kept {busy / run.run_s:.2f} of "
        f"the 2 cores busy (the rest: waiting, or other processes)"
    )
    if run.server_cpu_s is not None:
        text += f"; 2 cores at this CPU cost allow at most {2 * run.transitions / busy:,.0f}/s."
    else:
        text += "."
    return text


def bench_postgres(
    res: Results,
    sizes: list[int],
    workers: list[int],
    large_workers: list[int],
    url: str | None,
    seconds: float,
    ctx: dict[str, Any],
) -> None:
    server = None
    if url is None:
        server = PgServer().start()
        res.log(f"postgres: throwaway server on port {server.port}")
    try:
        tps: dict[tuple[int, int], float] = {}
        base: dict[int, float] = {}
        server_url = server.url if server is not None else (url or "")
        for n in sizes:
            counts = workers if n == min(sizes) else large_workers
            # Import once; each worker count runs on a copy of the imported database.
            template = f"imported_{n}"
            t_url, _ = fresh_database(server_url, template)
            res.log(f"postgres: {n:,} profiles, import")
            prepared = prepare_welcome(t_url, n, say=res.log)
            for w in counts:
                name = f"bench_{n}_{w}"
                db_url, dsn = fresh_database(server_url, name, template)
                res.log(f"postgres: {n:,} profiles, {w} worker(s)")
                run = run_welcome(
                    db_url,
                    n,
                    w,
                    pg_dsn=dsn,
                    prepared=prepared,
                    server_cpu=server.cpu_seconds if server is not None else None,
                    say=res.log,
                )
                tps[(n, w)] = run.transitions_per_s
                res.detail(_run_detail(run))
                if n == min(sizes) and w == counts[-1]:
                    for b in workers:
                        base[b] = pg_moves_per_s(dsn, b, seconds)
                        res.log(f"  bare loop, {b} process(es): {base[b]:,.0f} moves/s")
                    res.detail(
                        f"Bytes per finished task on PostgreSQL, {n:,} tasks "
                        f"(database {run.db_bytes / n:,.0f} B per task; tables with TOAST, "
                        f"indexes):\n\n" + "\n".join(breakdown_lines(run.objects, n))
                    )
                    ctx["pg_bytes_per_task"] = run.db_bytes / n
                res.add(
                    Row(
                        f"{n:,} profiles imported + past the first email, PostgreSQL, "
                        f"{w} worker(s)",
                        run.import_first_email_s,
                        "s",
                        target="<= 60 s at 1M" if n < 1_000_000 else "<= 60 s",
                        met=run.import_first_email_s <= 60 if n >= 1_000_000 else None,
                    )
                )
        for n in sizes:
            counts = workers if n == min(sizes) else large_workers
            for w in counts:
                b = base.get(w)
                res.add(
                    Row(
                        f"node transitions/s, PostgreSQL, {n:,} profiles, {w} worker(s)",
                        tps[(n, w)],
                        "/s",
                        b,
                        f"/s bare loop, {w} proc." if b else "",
                        tps[(n, w)] / b if b else None,
                    )
                )
        n = min(sizes)
        if (n, 1) in tps and (n, 2) in tps and 1 in base and 2 in base:
            scale = tps[(n, 2)] / tps[(n, 1)]
            bare = base[2] / base[1]
            res.add(
                Row(
                    f"PostgreSQL speed-up, 1 → 2 workers ({n:,} profiles)",
                    scale,
                    "x",
                    bare,
                    "x bare loop 1 → 2",
                    scale / bare,
                    "≥ 1.5x",
                    scale >= 1.5,
                )
            )
        if (n, 4) in tps and 4 in base:
            res.add(
                Row(
                    f"PostgreSQL speed-up, 1 → 4 workers ({n:,} profiles)",
                    tps[(n, 4)] / tps[(n, 1)],
                    "x",
                    base[4] / base[1],
                    "x bare loop 1 → 4",
                    (tps[(n, 4)] / tps[(n, 1)]) / (base[4] / base[1]),
                )
            )
        if "pg_bytes_per_task" in ctx:
            per = ctx["pg_bytes_per_task"]
            res.add(
                Row(
                    f"database bytes per finished task, PostgreSQL, {n:,}",
                    per,
                    "B",
                    target="≤ 1,000 B",
                    met=per <= 1000,
                )
            )
    finally:
        if server is not None:
            server.stop()


def bench_wakeups(
    res: Results, simultaneous: int, steady: int, rate: float, tmp: Path, ctx: dict[str, Any]
) -> None:
    from wakeups import run_wakeups

    res.log(f"wakeups: {simultaneous:,} at one instant")
    path = tmp / "wake.db"
    at_once = run_wakeups(f"sqlite:///{path}", simultaneous, 1, say=res.log)
    # Baseline: the bare claim-and-move loop on the same database moving as many tasks.
    bare = sqlite_moves_per_s(path, simultaneous)
    path.unlink()
    res.add(
        Row(
            f"{simultaneous:,} wake-ups at one instant: all moved on after (SQLite, 1 worker)",
            at_once.all_done_s,
            "s",
            simultaneous / bare,
            "s bare loop moving them one node",
            at_once.all_done_s / (simultaneous / bare),
            "≤ 5 s",
            at_once.all_done_s <= 5,
        )
    )
    res.add(
        Row(
            f"  lateness p50 / p99 ({simultaneous:,} at one instant)",
            at_once.p50,
            f"s / {at_once.p99:.2f} s",
        )
    )
    res.detail(
        f"Wake-ups at one instant: {at_once.tasks:,} tasks in {at_once.batches} batches "
        f"(mean {at_once.mean_batch:,.0f}); all moved on {at_once.all_done_s:.2f} s after the "
        f"instant; lateness p50 {at_once.p50:.2f} s, p99 {at_once.p99:.2f} s, max "
        f"{at_once.max:.2f} s. Each wake-up runs the rest of the welcome scenario up to its "
        f"next wait or end in the same batch (4.6 node steps on average)."
    )
    res.log(f"wakeups: {steady:,} at {rate:,.0f}/s")
    path = tmp / "steady.db"
    s = run_wakeups(f"sqlite:///{path}", steady, 1, rate=rate, say=res.log)
    path.unlink()
    res.add(
        Row(
            f"steady wake-ups at {rate:,.0f}/s: lateness p99 (SQLite, 1 worker)",
            s.p99,
            "s",
            0.2,
            "s the worker's idle sleep",
            s.p99 / 0.2,
            "≤ 1 s",
            s.p99 <= 1,
        )
    )
    res.detail(
        f"Steady wake-ups: {s.tasks:,} tasks at {rate:,.0f}/s, {s.batches} batches "
        f"(mean {s.mean_batch:,.0f}); lateness p50 {s.p50:.3f} s, p99 {s.p99:.3f} s, "
        f"max {s.max:.3f} s."
    )


def bench_spiff(res: Results, profiles: int, tmp: Path, ctx: dict[str, Any]) -> None:
    import spiff_bench

    res.log(f"spiff: {profiles:,} profiles in memory")
    mem = spiff_bench.run(profiles, "memory")
    res.log(f"  {mem['transitions_per_s']:,.0f}/s")
    res.log(f"spiff: {profiles:,} profiles, state in SQLite")
    db = spiff_bench.run(profiles, "sqlite", tmp / "spiff.db")
    res.log(f"  {db['transitions_per_s']:,.0f}/s")
    ours = ctx.get("sqlite_tps")
    label = f"Scenaria SQLite, {ctx.get('sqlite_tps_size', 0):,}"
    if ours is None:
        path = tmp / "for-spiff.db"
        run = run_welcome(f"sqlite:///{path}", profiles, 1, sqlite_path=path, say=res.log)
        ours = run.transitions_per_s
        label = f"Scenaria SQLite, {profiles:,}"
    res.add(
        Row(
            f"SpiffWorkflow, state serialized in SQLite ({profiles:,} instances)",
            db["transitions_per_s"],
            "/s",
            ours,
            f"/s {label} (same run)",
            ours / db["transitions_per_s"],
            "Scenaria ≥ 10x",
            ours / db["transitions_per_s"] >= 10,
        )
    )
    res.add(
        Row(
            f"SpiffWorkflow, in memory only ({profiles:,} instances)",
            mem["transitions_per_s"],
            "/s",
            ours,
            f"/s {label} (same run)",
            ours / mem["transitions_per_s"],
            "(issue: 4,000-6,000/s)",
        )
    )
    per = ctx.get("sqlite_bytes_per_task")
    res.add(
        Row(
            "SpiffWorkflow database bytes per finished instance (SQLite)",
            db["db_bytes_per_instance"],
            "B",
            per,
            "B Scenaria per finished task" if per else "",
            db["db_bytes_per_instance"] / per if per else None,
        )
    )
    res.detail(
        f"SpiffWorkflow 3.2, {profiles:,} instances: in memory {mem['transitions']:,.0f} "
        f"transitions in {mem['seconds']:.1f} s; SQLite {db['transitions']:,.0f} transitions in "
        f"{db['seconds']:.1f} s, serialized state {db['state_bytes_per_instance']:,.0f} B per "
        f"finished instance, file {db['db_bytes_per_instance']:,.0f} B per instance."
    )


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 profiles everywhere")
    parser.add_argument("--postgres-url", help="use this server instead of a throwaway one")
    parser.add_argument("--only", nargs="*", choices=NAMES, help="run only these benchmarks")
    parser.add_argument("--sizes", type=int, nargs="*", help="SQLite profile counts")
    parser.add_argument(
        "--pg-sizes",
        type=int,
        nargs="*",
        help="PostgreSQL profile counts (default 100,000; --quick 10,000)",
    )
    parser.add_argument(
        "--pg-workers-large",
        type=int,
        nargs="*",
        default=[2],
        help="worker counts for PostgreSQL at the largest size (default: 2)",
    )
    parser.add_argument(
        "--pg-workers",
        type=int,
        nargs="*",
        default=[1, 2, 4],
        help="worker counts for PostgreSQL at the smallest size (default: 1 2 4)",
    )
    parser.add_argument("--spiff-profiles", type=int, help="SpiffWorkflow instances")
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--note", default="", help="a line for the report's header")
    args = parser.parse_args()
    only = set(args.only or NAMES)
    quick = args.quick
    sizes = args.sizes or ([10_000] if quick else [100_000, 1_000_000])
    # PostgreSQL at 1,000,000 is left to --pg-sizes: on 2 shared cores it takes about
    # a quarter of an hour per worker count (see the README of the results).
    pg_sizes = args.pg_sizes or ([10_000] if quick else [100_000])
    spiff_n = args.spiff_profiles or (2_000 if quick else 20_000)
    wake_n = 10_000 if quick else 100_000
    steady_n, rate = (10_000, 2_000.0) if quick else (60_000, 3_000.0)
    bare_seconds = 3.0 if quick else 10.0

    res = Results()
    ctx: dict[str, Any] = {}
    loads: list[float] = []
    stop_sampling = threading.Event()

    def sample_load() -> None:
        while True:
            loads.append(os.getloadavg()[0])
            if stop_sampling.wait(15):
                return

    threading.Thread(target=sample_load, daemon=True).start()
    header = machine()
    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with tempfile.TemporaryDirectory(prefix="scenaria-suite-") as tmp_name:
        tmp = Path(tmp_name)
        if "sqlite" in only:
            bench_sqlite(res, sizes, tmp, ctx)
        if "postgres" in only:
            bench_postgres(
                res,
                pg_sizes,
                args.pg_workers,
                args.pg_workers_large,
                args.postgres_url,
                bare_seconds,
                ctx,
            )
        if "wakeups" in only:
            bench_wakeups(res, wake_n, steady_n, rate, tmp, ctx)
        if "spiff" in only:
            bench_spiff(res, spiff_n, tmp, ctx)
    elapsed = time.perf_counter() - started
    stop_sampling.set()
    lines = [
        f"# Scenaria benchmark suite — {stamp}{' (--quick)' if quick else ''}",
        "",
        "Command: `.venv/bin/python benchmarks/suite.py " + " ".join(sys.argv[1:]) + "`",
        "",
        *header,
        *([f"- {args.note}"] if args.note else []),
        f"- suite wall time {elapsed / 60:.1f} min; coordinator peak RSS {peak_rss_mib():.0f} MiB",
        f"- 1-minute load average during the run (every 15 s): mean "
        f"{sum(loads) / len(loads):.1f}, max {max(loads):.1f}; the suite alone keeps it near "
        f"2 (a worker and the coordinator or the server), more means other processes "
        f"shared the 2 cores",
        "",
        *table(res.rows),
        "",
        "## Details",
        "",
    ]
    for d in res.details:
        lines += [d, ""]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n")
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in res.rows], indent=1))


if __name__ == "__main__":
    main()
