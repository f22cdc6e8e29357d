"""Activation, stop (end or freeze), and taking tasks out: each recorded as an exit."""

from __future__ import annotations

from scenaria.engine.effects import Effects
from scenaria.engine.ports import UnitOfWork
from scenaria.errors import Conflict
from scenaria.model.task import LIVE_STATES, EndReason, TaskState


def end_live_tasks(
    uow: UnitOfWork, scenario_id: int, reason: EndReason, now: float, node_id: str | None = None
) -> int:
    """End every live task of the scenario (or of one node) with ``reason``."""
    ended = 0
    for chunk in uow.tasks.live(scenario_id, node_id):
        fx = Effects(now)
        for task in chunk:
            fx.end(task, TaskState.REMOVED, reason)
        fx.flush(uow)
        ended += len(chunk)
    return ended


def stop(uow: UnitOfWork, scenario_id: int, keep_profiles: bool, now: float) -> int:
    """Freeze every live task where it is, or end them all; return how many."""
    if keep_profiles:
        return uow.tasks.freeze(scenario_id)
    return end_live_tasks(uow, scenario_id, EndReason.STOPPED, now)


def wake(uow: UnitOfWork, scenario_id: int) -> int:
    """On activation frozen tasks continue from the node where they stopped."""
    return uow.tasks.unfreeze(scenario_id)


def remove_task(uow: UnitOfWork, task_id: int, now: float) -> None:
    task = uow.tasks.get(task_id)
    if task.state not in LIVE_STATES:
        raise Conflict(f"task {task_id} has already left the scenario ({task.end_reason})")
    fx = Effects(now)
    fx.end(task, TaskState.REMOVED, EndReason.REMOVED)
    fx.flush(uow)
