"""Statistics counters: per scenario, node and UTC day, summed over shards on read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from scenaria.store.dialect import add_counters, chunks
from scenaria.store.schema import stat_counters

CounterKey = tuple[int, str, int, str]
"""(scenario id, node id or '' for the whole scenario, day number, metric)."""


class CounterRepo:
    def __init__(self, conn: Connection, shard: int = 0) -> None:
        self.conn = conn
        self.shard = shard

    def add(self, increments: Counter[CounterKey]) -> None:
        rows: list[dict[str, Any]] = [
            {"scenario_id": s, "node_id": n, "day": d, "metric": m, "shard": self.shard, "value": v}
            for (s, n, d, m), v in sorted(increments.items())
            if v
        ]
        add_counters(self.conn, rows)

    def totals(
        self, scenario_id: int, day_from: int | None = None, day_to: int | None = None
    ) -> dict[tuple[str, str], int]:
        """Sums by (node id, metric) over the days in [day_from, day_to]."""
        query = (
            select(stat_counters.c.node_id, stat_counters.c.metric, func.sum(stat_counters.c.value))
            .where(stat_counters.c.scenario_id == scenario_id)
            .group_by(stat_counters.c.node_id, stat_counters.c.metric)
        )
        if day_from is not None:
            query = query.where(stat_counters.c.day >= day_from)
        if day_to is not None:
            query = query.where(stat_counters.c.day <= day_to)
        return {(r[0], r[1]): int(r[2]) for r in self.conn.execute(query)}

    def scenario_totals(self, scenario_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """All-time scenario-wide sums by metric for several scenarios (one indexed read)."""
        found: dict[int, dict[str, int]] = {}
        for part in chunks(scenario_ids, 500):
            chunk = list(part)
            rows = self.conn.execute(
                select(
                    stat_counters.c.scenario_id,
                    stat_counters.c.metric,
                    func.sum(stat_counters.c.value),
                )
                .where(stat_counters.c.scenario_id.in_(chunk), stat_counters.c.node_id == "")
                .group_by(stat_counters.c.scenario_id, stat_counters.c.metric)
            )
            for scenario_id, metric, value in rows:
                found.setdefault(scenario_id, {})[metric] = int(value)
        return found
