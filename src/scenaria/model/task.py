"""A task is one profile's pass through one scenario.

Every state change goes through :func:`transition`, which checks the table of
allowed moves; a task is at any moment in exactly one place: at a node while
live, or finished, or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from scenaria.errors import IllegalTransition


class TaskState(StrEnum):
    SCHEDULED = "scheduled"
    """At a node, to be processed once ``due_at`` has come."""
    AWAITING = "awaiting"
    """At a node, waiting for an outside effect (an API response) to resume it."""
    FROZEN = "frozen"
    """Kept at its node while the scenario is stopped; wakes on activation."""
    FINISHED = "finished"
    """Walked off the end of the graph or reached an Exit."""
    FAILED = "failed"
    """Ended on a node error with no error path wired."""
    REMOVED = "removed"
    """Taken out: stop, clear, removal of the task or its node, restart."""


LIVE_STATES = frozenset({TaskState.SCHEDULED, TaskState.AWAITING, TaskState.FROZEN})
ENDED_STATES = frozenset({TaskState.FINISHED, TaskState.FAILED, TaskState.REMOVED})

ALLOWED: dict[TaskState, frozenset[TaskState]] = {
    TaskState.SCHEDULED: frozenset(
        {TaskState.SCHEDULED, TaskState.AWAITING, TaskState.FROZEN, *ENDED_STATES}
    ),
    TaskState.AWAITING: frozenset(
        {TaskState.SCHEDULED, TaskState.FROZEN, TaskState.FAILED, TaskState.REMOVED}
    ),
    TaskState.FROZEN: frozenset({TaskState.SCHEDULED, TaskState.AWAITING, TaskState.REMOVED}),
    TaskState.FINISHED: frozenset(),
    TaskState.FAILED: frozenset(),
    TaskState.REMOVED: frozenset(),
}


def transition(old: TaskState, new: TaskState) -> TaskState:
    """Return ``new`` if a task may go there from ``old``; raise otherwise."""
    if new not in ALLOWED[old]:
        raise IllegalTransition(f"a task cannot go from {old.value} to {new.value}")
    return new


class EndReason(StrEnum):
    COMPLETED = "completed"
    EXIT_NODE = "exit_node"
    ERROR = "error"
    STOPPED = "scenario_stopped"
    CLEARED = "cleared"
    REMOVED = "removed_by_user"
    NODE_DELETED = "node_deleted"
    RESTARTED = "restarted"
    """Discarded by a re-entry in ``restart`` mode."""


@dataclass(slots=True)
class Task:
    id: int
    scenario_id: int
    profile_id: int
    state: TaskState
    node_id: str | None
    node_entered_at: float
    entered_at: float
    due_at: float | None = None
    resume_port: str | None = None
    """Port to leave by when next processed (a Pause that ran out, an API reply)."""
    visit: int = 0
    """How many nodes the task has entered; makes outbox keys unique per visit."""
    data: dict[str, Any] = field(default_factory=dict)
    """API content, promo code, API responses, per-channel send counts."""
    ended_at: float | None = None
    end_reason: str | None = None
    exit_node: str | None = None

    def move_to(self, state: TaskState) -> None:
        self.state = transition(self.state, state)


def states_that_may_become(target: TaskState) -> frozenset[TaskState]:
    """Every state a bulk change may take to ``target``, for its WHERE clause."""
    return frozenset(s for s, allowed in ALLOWED.items() if target in allowed and s != target)
