"""Stepping one task through instant nodes until it waits or ends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scenaria.engine.effects import Effects
from scenaria.engine.ports import UnitOfWork
from scenaria.model.graph import CompiledScenario
from scenaria.model.nodes.base import Await, End, Move, ProfileView, Wait
from scenaria.model.outbox import OutboxStatus
from scenaria.model.profiles import FieldType
from scenaria.model.task import EndReason, Task, TaskState

MAX_INSTANT_STEPS = 1000
"""Validation forbids loops without a waiting node; this guards against one anyway."""


def outbox_key(task: Task, node_id: str) -> str:
    """Deterministic per (task, node, visit): a retried send reuses it, a new visit does not."""
    return f"{task.id}:{node_id}:{task.visit}"


class TaskContext:
    """A node's view of the task it is stepping, backed by the batch's effects."""

    __slots__ = ("_events", "_fx", "_graph", "_task", "_uow", "node_id", "profile")

    def __init__(
        self,
        task: Task,
        graph: CompiledScenario,
        profile: ProfileView,
        fx: Effects,
        uow: UnitOfWork,
    ) -> None:
        self._task = task
        self._graph = graph
        self._fx = fx
        self._uow = uow
        self.profile = profile
        self.node_id = task.node_id or ""

    @property
    def now(self) -> float:
        return self._fx.now

    @property
    def task_data(self) -> dict[str, Any]:
        return self._task.data

    @property
    def scenario_name(self) -> str:
        return self._graph.name

    @property
    def field_types(self) -> Mapping[str, FieldType]:
        return self._graph.fields

    def send(self, channel: str, payload: dict[str, Any], skip_reason: str | None = None) -> str:
        key = outbox_key(self._task, self.node_id)
        self._fx.outbox.append(
            {
                "key": key,
                "task_id": self._task.id,
                "scenario_id": self._task.scenario_id,
                "node_id": self.node_id,
                "profile_id": self._task.profile_id,
                "channel": channel,
                "payload": payload,
                "status": (OutboxStatus.SKIPPED if skip_reason else OutboxStatus.QUEUED).value,
                "reason": skip_reason,
                "attempts": 0,
                "next_attempt_at": None if skip_reason else self._fx.now,
                "created_at": self._fx.now,
            }
        )
        return key

    def update_profile(self, fields: dict[str, Any]) -> None:
        self.profile.fields = {**self.profile.fields, **fields}
        self.profile.changed = True
        self._fx.profiles[self.profile.id] = self.profile

    def take_promo_code(self, pool: str) -> str | None:
        return self._fx.take_promo_code(self._uow, pool, self._task)

    def message_events(self, node_id: str) -> frozenset[str]:
        return self._uow.events.types_for(self._task.id, node_id)


def advance(
    task: Task, graph: CompiledScenario, profile: ProfileView, fx: Effects, uow: UnitOfWork
) -> None:
    """Move ``task`` along the graph from where it is until it waits or ends."""
    for _ in range(MAX_INSTANT_STEPS):
        node = graph.nodes.get(task.node_id or "")
        if node is None:
            fx.end(task, TaskState.REMOVED, EndReason.NODE_DELETED)
            return
        error: str | None = None
        if task.resume_port is not None:
            port = task.resume_port
            error = task.data.pop("resume_error", None)
            task.resume_port = None
            task.due_at = None
        else:
            outcome = node.kind.step(node.settings, TaskContext(task, graph, profile, fx, uow))
            if isinstance(outcome, Wait):
                task.due_at = outcome.until
                task.resume_port = outcome.resume_port
                task.move_to(TaskState.SCHEDULED)
                fx.tasks[task.id] = task
                return
            if isinstance(outcome, Await):
                task.due_at = None
                task.move_to(TaskState.AWAITING)
                fx.tasks[task.id] = task
                return
            if isinstance(outcome, End):
                fx.end(task, TaskState.FINISHED, EndReason.EXIT_NODE, port="exit")
                return
            assert isinstance(outcome, Move)
            port, error = outcome.port, outcome.error
        if error is not None:
            fx.count(task.scenario_id, node.id, "errors")
            task.data["last_error"] = {"node": node.id, "message": error, "at": fx.now}
        target = graph.target(node.id, port)
        if target is None:
            if error is not None:
                fx.end(task, TaskState.FAILED, EndReason.ERROR, port=port)
            else:
                fx.end(task, TaskState.FINISHED, EndReason.COMPLETED, port=port)
            return
        fx.leave(task, port)
        fx.enter(task, target)
    task.data["last_error"] = {"node": task.node_id, "message": "endless loop", "at": fx.now}
    fx.count(task.scenario_id, task.node_id or "", "errors")
    fx.end(task, TaskState.FAILED, EndReason.ERROR)
