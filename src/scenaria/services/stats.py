"""Statistics: period counts from day-bucketed counters, real-time counts, tasks in a node.

Every count is read from the ``stat_counters`` rows of one scenario (its primary
key's prefix), never by counting tasks, so it costs the same with a million
tasks inside as with ten; the list of tasks waiting in a node is an indexed read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from scenaria.clock import Clock, day_of
from scenaria.engine.effects import SCENARIO
from scenaria.errors import InvalidInput, NotFound
from scenaria.model.access import SYSTEM, User
from scenaria.model.task import TaskState
from scenaria.services.scenarios import visible
from scenaria.store.database import Store

ENDED_METRICS = ("completed", "failed", "removed")
"""The scenario counters whose sum is how many tasks ended (every task ends one way)."""
DEFAULT_PERIOD_DAYS = 7
_EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    """The UTC day number counters are bucketed by."""
    return (d - _EPOCH).days


def day_date(day: int) -> date:
    return _EPOCH + timedelta(days=day)


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


@dataclass(frozen=True)
class NodePeriod:
    id: str
    kind: str
    name: str
    entered: int
    exited: int
    errors: int


@dataclass(frozen=True)
class PeriodStats:
    """What happened in a scenario between two dates, both included (UTC days)."""

    date_from: date
    date_to: date
    entered: int
    completed: int
    failed: int
    removed: int
    errors: int
    """Node errors, whether the task then took an error path or failed."""
    nodes: list[NodePeriod]


@dataclass(frozen=True)
class NodeInside:
    id: str
    kind: str
    name: str
    inside: int


@dataclass(frozen=True)
class RealtimeStats:
    inside: int
    """Profiles that entered and have not left yet (frozen ones included)."""
    nodes: list[NodeInside]


@dataclass(frozen=True)
class WaitingTask:
    task_id: int
    profile_id: int
    state: str
    entered_at: float
    """When the task entered the scenario."""
    node_entered_at: float
    leaves_at: float | None
    """When it will leave the node; None while it waits for an outside answer or is
    frozen in a stopped scenario."""
    has_api_content: bool


@dataclass(frozen=True)
class WaitingPage:
    total: int
    """All tasks in the node now, whatever the page."""
    tasks: list[WaitingTask]


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
            ended = sum(get(ever, SCENARIO, m) for m in ENDED_METRICS)
            return ScenarioStats(
                entered=get(period, SCENARIO, "entered"),
                completed=get(period, SCENARIO, "completed"),
                failed=get(period, SCENARIO, "failed"),
                removed=get(period, SCENARIO, "removed"),
                inside=get(ever, SCENARIO, "entered") - ended,
                nodes=nodes,
            )

    def period(
        self,
        scenario_id: int,
        date_from: date | None = None,
        date_to: date | None = None,
        actor: User = SYSTEM,
    ) -> PeriodStats:
        """Entered, completed, errors and per node entered/exited between two dates
        (both included); by default the last 7 days up to today. A long period costs
        no more than a short one: only the counter rows that exist are read."""
        if date_to is None:
            date_to = (
                date_from + timedelta(days=DEFAULT_PERIOD_DAYS - 1)
                if date_from is not None
                else day_date(day_of(self.clock.now()))
            )
        if date_from is None:
            date_from = date_to - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        if date_from > date_to:
            raise InvalidInput(f"date_from {date_from} is after date_to {date_to}")
        with self.store.read() as tx:
            scenario = visible(tx, scenario_id, actor)
            totals = tx.counters.totals(scenario_id, day_number(date_from), day_number(date_to))

        def get(node: str, metric: str) -> int:
            return totals.get((node, metric), 0)

        return PeriodStats(
            date_from=date_from,
            date_to=date_to,
            entered=get(SCENARIO, "entered"),
            completed=get(SCENARIO, "completed"),
            failed=get(SCENARIO, "failed"),
            removed=get(SCENARIO, "removed"),
            errors=sum(v for (_, metric), v in totals.items() if metric == "errors"),
            nodes=[
                NodePeriod(
                    n.id,
                    n.kind,
                    n.name,
                    get(n.id, "entered"),
                    get(n.id, "exited"),
                    get(n.id, "errors"),
                )
                for n in scenario.nodes
            ],
        )

    def realtime(self, scenario_id: int, actor: User = SYSTEM) -> RealtimeStats:
        """Who is inside right now, in all and per node."""
        with self.store.read() as tx:
            scenario = visible(tx, scenario_id, actor)
            totals = tx.counters.totals(scenario_id)

        def get(node: str, metric: str) -> int:
            return totals.get((node, metric), 0)

        ended = sum(get(SCENARIO, m) for m in ENDED_METRICS)
        return RealtimeStats(
            inside=get(SCENARIO, "entered") - ended,
            nodes=[
                NodeInside(n.id, n.kind, n.name, get(n.id, "entered") - get(n.id, "exited"))
                for n in scenario.nodes
            ],
        )

    def waiting(
        self,
        scenario_id: int,
        node_id: str,
        limit: int = 50,
        offset: int = 0,
        actor: User = SYSTEM,
    ) -> WaitingPage:
        """The tasks in a node, soonest to leave first, with the exact time each leaves."""
        with self.store.read() as tx:
            scenario = visible(tx, scenario_id, actor)
            if scenario.node(node_id) is None:
                raise NotFound(f"scenario {scenario_id} has no node '{node_id}'")
            totals = tx.counters.totals(scenario_id)
            tasks = tx.tasks.in_node(scenario_id, node_id, limit, offset)
        total = totals.get((node_id, "entered"), 0) - totals.get((node_id, "exited"), 0)
        return WaitingPage(
            total=total,
            tasks=[
                WaitingTask(
                    task_id=t.id,
                    profile_id=t.profile_id,
                    state=t.state.value,
                    entered_at=t.entered_at,
                    node_entered_at=t.node_entered_at,
                    leaves_at=t.due_at if t.state is TaskState.SCHEDULED else None,
                    has_api_content=bool(t.data.get("api_content")),
                )
                for t in tasks
            ],
        )

    def api_content(self, scenario_id: int, task_id: int, actor: User = SYSTEM) -> Any:
        """The API content a task was engaged with."""
        with self.store.read() as tx:
            visible(tx, scenario_id, actor)
            task = tx.tasks.get(task_id)
        if task.scenario_id != scenario_id:
            raise NotFound(f"task {task_id} is not in scenario {scenario_id}")
        content = task.data.get("api_content")
        if content is None:
            raise NotFound(f"task {task_id} was engaged without API content")
        return content

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
