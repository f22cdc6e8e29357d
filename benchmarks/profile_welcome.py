"""Where the time goes: cProfile of the welcome scenario's phases in one process.

    .venv/bin/python benchmarks/profile_welcome.py [--profiles 20000] [--url URL] [--top 25]

Phases: import (API batches of 1,000, triggers fire), first email (every task through
the trigger and the welcome email into the pause), rest (clock jumps to each timer
until every task ended). For each phase: wall time and the functions with the most
time of their own, grouped by package (scenaria module, sqlalchemy, sqlite3/psycopg
driver, jinja2, pydantic, ...).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import START, import_profiles, make_app, setup_welcome
from scenaria.clock import FakeClock


def area(filename: str) -> str:
    if "/scenaria/" in filename:
        part = filename.split("/scenaria/", 1)[1]
        return "scenaria/" + part.rsplit("/", 1)[0] if "/" in part else "scenaria"
    for name in ("sqlalchemy", "jinja2", "pydantic", "psycopg", "orjson", "alembic", "json"):
        if f"/{name}/" in filename:
            return name
    if filename.startswith("~") or filename == "":
        return "builtins (C: sqlite3 driver, dict, str ...)"
    return "other python"


def report(label: str, seconds: float, prof: cProfile.Profile, top: int) -> None:
    stats = pstats.Stats(prof)
    by_area: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, func), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_area[area(filename)] += tottime
        rows.append((tottime, f"{Path(filename).name}:{line} {func}"))
    total = sum(by_area.values()) or 1.0
    print(f"\n## {label}: {seconds:.2f} s wall\n")
    print("| area | own time share |\n|---|---:|")
    for name, t in sorted(by_area.items(), key=lambda kv: -kv[1])[:10]:
        print(f"| {name} | {t / total:.0%} |")
    print("\n| function | own time share |\n|---|---:|")
    for t, name in sorted(rows, reverse=True)[:top]:
        print(f"| `{name}` | {t / total:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--url", help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scenaria-profile-") as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'p.db'}"
        clock = FakeClock(START)
        app, database_id, _ = setup_welcome(url, args.profiles, clock)
        app.close()
        app = make_app(url, clock)
        for label, run in (
            ("import", lambda: import_profiles(app, database_id, args.profiles)),
            ("first email", app.scheduler.run_due),
            ("rest", lambda: app.run_until_idle(clock, max_rounds=10**9)),
        ):
            prof = cProfile.Profile()
            started = time.perf_counter()
            prof.enable()
            run()
            prof.disable()
            report(label, time.perf_counter() - started, prof, args.top)
        app.close()


if __name__ == "__main__":
    main()
