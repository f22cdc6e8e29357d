"""Wake-ups on the wall clock: how late tasks leave a pause.

Set-up on a fake clock: N profiles imported, their tasks advanced through the
welcome email into the one-day pause ``read_time``. Then W worker processes run
the product's worker loop (run everything due, sleep 0.2 s when nothing is) on
the wall clock shifted so the pause ends a few seconds after they start.

  * simultaneous: every task entered the pause at the same instant, so all N
    wake at once; figure: time from that instant until the last of them has
    moved on (its batch committed), and the lateness p50/p99.
  * steady: tasks entered the pause spread evenly at ``rate`` per second, so they
    wake at that rate; figure: lateness p50/p99/max.

Lateness of a task = the commit time of the batch that moved it out of the pause
- the instant its pause ended. Each worker holds its clock for a batch, so the
visit's ``left_at`` names the batch, and the worker reports each batch's commit.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from common import START, Workers, import_profiles, setup_welcome
from scenaria.clock import DAY, FakeClock
from scenaria.store.database import Store

LEAD = 3.0
"""Seconds between the workers' start and the first wake-up."""


@dataclass
class Lateness:
    tasks: int
    all_done_s: float
    p50: float
    p99: float
    max: float
    batches: int
    mean_batch: float

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_wakeups(
    url: str, profiles: int, workers: int, *, rate: float | None = None, say: Any = print
) -> Lateness:
    """``rate`` None: all wake at once; else they wake at ``rate`` per second."""
    clock = FakeClock(START)
    app, database_id, _ = setup_welcome(url, profiles, clock)
    import_profiles(app, database_id, profiles)
    if rate is None:
        app.scheduler.run_due()
    else:
        step = 20
        app.scheduler.batch_size = step
        while app.scheduler.run_batch():
            clock.advance(step / rate)
    app.close()
    first_due = START + DAY
    with Store(url).engine.connect() as conn:
        last_due = conn.execute(
            text("SELECT max(due_at) FROM tasks WHERE state = 'scheduled'")
        ).scalar_one()
    kind = "simultaneous" if rate is None else f"steady {rate:,.0f}/s"
    say(f"  wake-ups ({kind}): {profiles:,} tasks waiting, workers start")
    with Workers(url, workers) as pool:
        due_wall = time.time() + LEAD
        offset = first_due - due_wall
        _, answers = pool.run("realtime", {"offset": offset, "until": last_due, "idle": 0.2})
    ends: dict[float, float] = {}
    for answer in answers:
        for at, end, _ in answer["batches"]:
            ends[at] = end
    with Store(url).engine.connect() as conn:
        rows = conn.execute(
            text("SELECT entered_at, left_at FROM visits WHERE node_id = 'read_time'")
        ).all()
    late = [ends[left] - (entered + DAY) for entered, left in rows]
    assert len(late) == profiles, (len(late), profiles)
    sizes = [n for a in answers for *_, n in a["batches"]]
    return Lateness(
        tasks=profiles,
        all_done_s=max(ends[left] for _, left in rows) - first_due,
        p50=statistics.median(late),
        p99=_quantile(late, 0.99),
        max=max(late),
        batches=len(sizes),
        mean_batch=statistics.fmean(sizes),
    )
