"""The scenario status gate: the one table of allowed status changes.

Every service that changes a scenario's status goes through :func:`gate`, so
"can a trashed scenario be activated?" has one answer, in one place, with the
reason a user reads when the answer is no. Changes are named by the user's
action, since two actions can reach one status from different ones (stop and
restore both lead to inactive) and each is refused in its own words.

    draft, inactive ──activate──▶ active ──stop──▶ inactive
    draft, inactive ──trash─────▶ trashed ──restore──▶ inactive
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from scenaria.errors import IllegalTransition
from scenaria.model.scenario import ScenarioStatus

_DRAFT, _ACTIVE, _INACTIVE, _TRASHED = (
    ScenarioStatus.DRAFT,
    ScenarioStatus.ACTIVE,
    ScenarioStatus.INACTIVE,
    ScenarioStatus.TRASHED,
)


class StatusAction(StrEnum):
    ACTIVATE = "activate"
    STOP = "stop"
    TRASH = "trash"
    RESTORE = "restore"


@dataclass(frozen=True)
class Change:
    sources: frozenset[ScenarioStatus]
    """The statuses the action may start from."""
    target: ScenarioStatus
    refusals: dict[ScenarioStatus, str]
    """Why the action is refused from each other status (the 409's reason)."""


CHANGES: dict[StatusAction, Change] = {
    StatusAction.ACTIVATE: Change(
        frozenset({_DRAFT, _INACTIVE}),
        _ACTIVE,
        {
            _ACTIVE: "the scenario is already active",
            _TRASHED: "the scenario is in the trash; restore it first",
        },
    ),
    StatusAction.STOP: Change(
        frozenset({_ACTIVE}),
        _INACTIVE,
        dict.fromkeys((_DRAFT, _INACTIVE, _TRASHED), "the scenario is not active"),
    ),
    StatusAction.TRASH: Change(
        frozenset({_DRAFT, _INACTIVE}),
        _TRASHED,
        {
            _ACTIVE: "stop the scenario first: an active scenario cannot go to the trash",
            _TRASHED: "the scenario is already in the trash",
        },
    ),
    StatusAction.RESTORE: Change(
        frozenset({_TRASHED}),
        _INACTIVE,
        dict.fromkeys((_DRAFT, _ACTIVE, _INACTIVE), "the scenario is not in the trash"),
    ),
}


def gate(action: StatusAction, current: ScenarioStatus) -> ScenarioStatus:
    """The status ``action`` leads to from ``current``; IllegalTransition (409) if it
    may not be taken from there."""
    change = CHANGES[action]
    if current not in change.sources:
        raise IllegalTransition(change.refusals[current])
    return change.target


def allowed(current: ScenarioStatus) -> list[StatusAction]:
    """The actions a scenario in ``current`` offers (what a UI may show enabled)."""
    return [action for action, change in CHANGES.items() if current in change.sources]
