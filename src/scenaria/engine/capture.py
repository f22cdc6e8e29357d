"""Capture: profiles entering a scenario at a start element, under its re-entry mode."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scenaria.engine.effects import SCENARIO, Effects
from scenaria.engine.ports import UnitOfWork
from scenaria.errors import ScenarioNotActive
from scenaria.model.graph import CompiledScenario
from scenaria.model.scenario import ReentryMode, ScenarioStatus
from scenaria.model.task import LIVE_STATES, EndReason, Task, TaskState

REFUSED_ONCE_EVER = "once_ever"
REFUSED_ACTIVE = "not_while_active"
REPLACED = "replaced"
"""Restart mode, the same profile twice in one call: the later capture replaced this one."""
REFUSAL_TEXT = {
    REFUSED_ONCE_EVER: "re-entry is disabled: the profile has already been in this scenario",
    REFUSED_ACTIVE: "re-entry is disabled for engaged profiles: the profile is in the scenario now",
}


@dataclass(frozen=True)
class CaptureResult:
    profile_id: int
    task_id: int | None
    refused: str | None = None
    """Why the re-entry rule refused the capture (``once_ever`` / ``not_while_active``)."""

    @property
    def captured(self) -> bool:
        return self.task_id is not None


def refusal(mode: ReentryMode, tasks: Sequence[Task]) -> str | None:
    """The re-entry rule's verdict for a profile holding ``tasks`` in the scenario."""
    if mode is ReentryMode.ONCE_EVER and tasks:
        return REFUSED_ONCE_EVER
    if mode is ReentryMode.NOT_WHILE_ACTIVE and any(t.state in LIVE_STATES for t in tasks):
        return REFUSED_ACTIVE
    return None


def capture(
    uow: UnitOfWork,
    graph: CompiledScenario,
    start: str,
    profile_ids: Sequence[int],
    fx: Effects,
    *,
    api_content: dict[str, Any] | None = None,
    new_profiles: bool = False,
) -> list[CaptureResult]:
    """Start a task at ``start`` for each profile the re-entry mode admits.

    ``new_profiles`` says the profiles were just created, so they cannot hold
    tasks yet: the lookup of existing tasks is skipped on bulk imports.
    """
    if graph.status is not ScenarioStatus.ACTIVE:
        raise ScenarioNotActive(f"scenario '{graph.name}' is not active, so it captures nobody")
    existing = {} if new_profiles else uow.tasks.for_profiles(graph.id, list(profile_ids))
    results: list[CaptureResult | Task] = []
    created: list[Task] = []
    for profile_id in profile_ids:
        held = existing.setdefault(profile_id, [])
        why = refusal(graph.reentry, held)
        if why is not None:
            results.append(CaptureResult(profile_id, None, why))
            continue
        if graph.reentry is ReentryMode.RESTART:
            for old in list(held):
                if old.state in LIVE_STATES:
                    # The running task is discarded with its data; a new one starts.
                    old.data = {}
                    if old.id:
                        fx.end(old, TaskState.REMOVED, EndReason.RESTARTED)
                    else:  # captured earlier in this same call, not yet written
                        # Tasks compare by value: drop this one by identity.
                        held[:] = [t for t in held if t is not old]
                        created = [t for t in created if t is not old]
                        results = [
                            CaptureResult(profile_id, None, REPLACED) if r is old else r
                            for r in results
                        ]
                        fx.count(graph.id, start, "entered", -1)
                        fx.count(graph.id, SCENARIO, "entered", -1)
        task = Task(
            id=0,
            scenario_id=graph.id,
            profile_id=profile_id,
            state=TaskState.SCHEDULED,
            node_id=None,
            node_entered_at=fx.now,
            entered_at=fx.now,
            due_at=fx.now,
            data={"api_content": api_content} if api_content else {},
        )
        fx.enter(task, start)
        fx.count(graph.id, SCENARIO, "entered")
        held.append(task)
        created.append(task)
        results.append(task)
    uow.tasks.insert_many(created)
    return [
        r if isinstance(r, CaptureResult) else CaptureResult(r.profile_id, r.id) for r in results
    ]
