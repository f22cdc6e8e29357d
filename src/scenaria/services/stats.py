"""Statistics: period counts from day-bucketed counters, real-time counts, tasks in a node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scenaria.clock import Clock, day_of
from scenaria.engine.effects import SCENARIO
from scenaria.store.database import Store

DEFAULT_PERIOD_DAYS = 7


@dataclass(frozen=True)
class NodeStats:
    id: str
    kind: str
    name: str
    entered: int
    exited: int
    inside: int
    errors: int


@dataclass(frozen=True)
class ScenarioStats:
    entered: int
    completed: int
    failed: int
    removed: int
    inside: int
    nodes: list[NodeStats]

    @property
    def errors(self) -> int:
        return sum(n.errors for n in self.nodes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tasks": {
                "entered": self.entered,
                "finished": self.completed,
                "failed": self.failed,
                "removed": self.removed,
                "inside": self.inside,
                "errors": self.errors,
            },
            "nodes": [n.__dict__ for n in self.nodes],
        }


class StatsService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def scenario(
        self,
        scenario_id: int,
        day_from: int | None = None,
        day_to: int | None = None,
        *,
        all_time: bool = False,
    ) -> ScenarioStats:
        """Period statistics (default: the last 7 days) plus who is inside right now."""
        if not all_time and day_from is None:
            today = day_of(self.clock.now())
            day_from, day_to = today - DEFAULT_PERIOD_DAYS + 1, today
        with self.store.read() as tx:
            scenario = tx.scenarios.get(scenario_id)
            period = tx.counters.totals(scenario_id, day_from, day_to)
            ever = period if all_time else tx.counters.totals(scenario_id)

            def get(totals: dict[tuple[str, str], int], node: str, metric: str) -> int:
                return totals.get((node, metric), 0)

            nodes = [
                NodeStats(
                    id=n.id,
                    kind=n.kind,
                    name=n.name,
                    entered=get(period, n.id, "entered"),
                    exited=get(period, n.id, "exited"),
                    inside=get(ever, n.id, "entered") - get(ever, n.id, "exited"),
                    errors=get(period, n.id, "errors"),
                )
                for n in scenario.nodes
            ]
            ended = sum(get(ever, SCENARIO, m) for m in ("completed", "failed", "removed"))
            return ScenarioStats(
                entered=get(period, SCENARIO, "entered"),
                completed=get(period, SCENARIO, "completed"),
                failed=get(period, SCENARIO, "failed"),
                removed=get(period, SCENARIO, "removed"),
                inside=get(ever, SCENARIO, "entered") - ended,
                nodes=nodes,
            )

    def tasks_in_node(
        self, scenario_id: int, node_id: str, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Who waits in a node and exactly when each will leave (None: on an outside answer)."""
        with self.store.read() as tx:
            return [
                {
                    "task_id": t.id,
                    "profile_id": t.profile_id,
                    "state": t.state.value,
                    "entered_at": t.node_entered_at,
                    "leaves_at": t.due_at,
                    "api_content": t.data.get("api_content"),
                }
                for t in tx.tasks.in_node(scenario_id, node_id, limit, offset)
            ]
