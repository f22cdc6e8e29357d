"""Everything a batch changes, gathered in memory and written in one go.

Writing a batch's task moves, visit records, outbox messages, profile changes
and counters together, in one transaction, is what makes the engine both cheap
(a few multi-row statements per batch) and exact (all or nothing).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from scenaria.clock import day_of
from scenaria.engine.ports import CounterKey, UnitOfWork
from scenaria.model.nodes.base import ProfileView
from scenaria.model.task import EndReason, Task, TaskState

PROMO_PREFETCH = 200
"""Free promo codes read at once; the unused rest stays free."""

SCENARIO = ""
"""Node id under which scenario-wide task counters are kept."""

END_METRIC = {
    TaskState.FINISHED: "completed",
    TaskState.FAILED: "failed",
    TaskState.REMOVED: "removed",
}


class Effects:
    def __init__(self, now: float) -> None:
        self.now = now
        self.day = day_of(now)
        self.visits: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.counters: Counter[CounterKey] = Counter()
        self.profiles: dict[int, ProfileView] = {}
        self.tasks: dict[int, Task] = {}
        self.taken_out: list[int] = []
        self._free_codes: dict[str, list[tuple[int, str]]] = {}
        self._codes_given: list[dict[str, Any]] = []
        """Removed tasks, whose messages still queued must not go out any more."""
        self.transitions = 0
        """Nodes left by tasks in this batch: the benchmark's unit of work."""

    def count(self, scenario_id: int, node_id: str, metric: str, n: int = 1) -> None:
        self.counters[(scenario_id, node_id, self.day, metric)] += n

    def enter(self, task: Task, node_id: str) -> None:
        """Put a task at a node (its first, or the next one along an edge)."""
        task.node_id = node_id
        task.node_entered_at = self.now
        task.visit += 1
        self.count(task.scenario_id, node_id, "entered")

    def leave(self, task: Task, port: str) -> None:
        """Record the task's visit of its current node as over, left by ``port``."""
        assert task.node_id is not None
        self.visits.append(
            {
                "task_id": task.id,
                "seq": task.visit,
                "node_id": task.node_id,
                "entered_at": task.node_entered_at,
                "left_at": self.now,
                "port": port,
            }
        )
        self.count(task.scenario_id, task.node_id, "exited")
        self.transitions += 1
        self.tasks[task.id] = task

    def end(self, task: Task, state: TaskState, reason: EndReason, port: str | None = None) -> None:
        """Take the task out of the scenario at its current node, recording why."""
        exit_node = task.node_id
        if exit_node is not None:
            self.leave(task, port or reason.value)
        task.move_to(state)
        task.exit_node = exit_node
        task.node_id = None
        task.due_at = None
        task.resume_port = None
        task.ended_at = self.now
        task.end_reason = reason.value
        self.count(task.scenario_id, SCENARIO, END_METRIC[state])
        self.tasks[task.id] = task
        if state is TaskState.REMOVED and task.id:
            self.taken_out.append(task.id)

    def take_promo_code(self, uow: UnitOfWork, pool: str, task: Task) -> str | None:
        """The next free code of the pool for ``task``; codes are fetched a batch at a
        time and handed out in order, written with the rest of the batch."""
        free = self._free_codes.setdefault(pool, [])
        if not free:
            # Write the codes handed out so far first, so the read skips them. (Reading
            # "past the last code taken" instead would miss codes below it that other
            # workers' batches had held and let go: a pool would look empty too soon.)
            if self._codes_given:
                uow.promo.assign_many(self._codes_given)
                self._codes_given = []
            free.extend(reversed(uow.promo.free(pool, PROMO_PREFETCH)))
        if not free:
            return None
        code_id, code = free.pop()
        self._codes_given.append(
            {
                "_id": code_id,
                "task_id": task.id,
                "profile_id": task.profile_id,
                "taken_at": self.now,
            }
        )
        return code

    def flush(self, uow: UnitOfWork) -> None:
        uow.tasks.update_many(self.tasks.values())
        uow.visits.insert_many(self.visits)
        uow.outbox.insert_many(self.outbox)
        uow.profiles.update_fields((p for p in self.profiles.values() if p.changed), self.now)
        uow.counters.add(self.counters)
        uow.promo.assign_many(self._codes_given)
        self._codes_given = []
        self._free_codes.clear()
        uow.outbox.cancel_for_tasks(self.taken_out, "the profile was taken out of the scenario")
        self.taken_out = []
        self.tasks.clear()
        self.visits = []
        self.outbox = []
        self.profiles.clear()
        self.counters = Counter()
