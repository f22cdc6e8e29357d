"""The scheduler: claim due tasks in batches and advance each, one transaction per batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from scenaria.clock import Clock
from scenaria.engine.effects import Effects
from scenaria.engine.ports import TransactionSource, UnitOfWork
from scenaria.engine.step import advance
from scenaria.model.graph import CompiledScenario, compile_scenario
from scenaria.model.scenario import ScenarioStatus
from scenaria.model.task import EndReason, Task, TaskState


class GraphCache:
    """Compiled scenarios by id, refreshed when the stored version moves on."""

    def __init__(self) -> None:
        self._graphs: dict[int, CompiledScenario] = {}

    def get(self, uow: UnitOfWork, ids: Iterable[int]) -> dict[int, CompiledScenario]:
        versions = uow.scenarios.versions(ids)
        out = {}
        for scenario_id, version in versions.items():
            graph = self._graphs.get(scenario_id)
            if graph is None or graph.version != version:
                scenario = uow.scenarios.get(scenario_id)
                fields = uow.databases.get(scenario.database_id).all_fields()
                graph = compile_scenario(scenario, fields)
                self._graphs[scenario_id] = graph
            out[scenario_id] = graph
        return out


class Scheduler:
    def __init__(
        self,
        store: TransactionSource,
        clock: Clock,
        batch_size: int = 1000,
        graphs: GraphCache | None = None,
        before_commit: Callable[[list[Task]], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.batch_size = batch_size
        self.graphs = graphs or GraphCache()
        self.before_commit = before_commit
        """Fault injection: called with a batch's tasks once its writes are made but
        not committed; a worker that dies there must leave nothing behind."""
        self.transitions = 0
        """Nodes left by tasks so far (the engine benchmark's figure)."""

    def run_batch(self) -> int:
        """Advance up to one batch of due tasks; return how many were claimed."""
        now = self.clock.now()
        with self.store.transaction() as uow:
            due = uow.tasks.claim_due(now, self.batch_size)
            if not due:
                return 0
            graphs = self.graphs.get(uow, {t.scenario_id for t in due})
            profiles = uow.profiles.views(t.profile_id for t in due)
            fx = Effects(now)
            for task in due:
                graph = graphs.get(task.scenario_id)
                profile = profiles.get(task.profile_id)
                if graph is None or profile is None:
                    fx.end(task, TaskState.REMOVED, EndReason.NODE_DELETED)
                    continue
                if graph.status is not ScenarioStatus.ACTIVE:
                    # Stopping freezes or ends every task; one left scheduled waits for activation.
                    task.move_to(TaskState.FROZEN)
                    fx.tasks[task.id] = task
                    continue
                advance(task, graph, profile, fx, uow)
            fx.flush(uow)
            if self.before_commit is not None:
                self.before_commit(due)
        self.transitions += fx.transitions
        return len(due)

    def run_due(self, max_batches: int | None = None) -> int:
        """Run batches until nothing is due at the current time."""
        total = batches = 0
        while max_batches is None or batches < max_batches:
            n = self.run_batch()
            if n == 0:
                break
            total += n
            batches += 1
        return total
