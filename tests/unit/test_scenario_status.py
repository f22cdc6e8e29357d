"""The scenario status gate: one table, and the services following it exactly."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scenaria.errors import IllegalTransition
from scenaria.model.profiles import ProfileDatabase
from scenaria.model.scenario import ScenarioStatus
from scenaria.model.scenario_status import CHANGES, StatusAction, allowed, gate
from scenaria.services.app import App
from tests.unit.test_stop_and_removal import two_pauses


def test_every_action_is_taken_or_refused_with_a_reason_from_every_status() -> None:
    for action, change in CHANGES.items():
        for status in ScenarioStatus:
            if status in change.sources:
                assert gate(action, status) is change.target
            else:
                with pytest.raises(IllegalTransition) as refused:
                    gate(action, status)
                assert str(refused.value) == change.refusals[status]
                assert action not in allowed(status)


def _in_status(app: App, db: ProfileDatabase, status: ScenarioStatus) -> int:
    """A saved scenario brought to ``status`` by the user's own actions."""
    sid = app.scenarios.save(two_pauses(db.id)).scenario.id
    assert sid is not None
    if status is ScenarioStatus.ACTIVE:
        app.scenarios.activate(sid)
    elif status is ScenarioStatus.INACTIVE:
        app.scenarios.activate(sid)
        app.scenarios.stop(sid)
    elif status is ScenarioStatus.TRASHED:
        app.scenarios.trash(sid)
    assert app.scenarios.get(sid).status is status
    return sid


@pytest.mark.parametrize("status", list(ScenarioStatus))
@pytest.mark.parametrize("action", list(StatusAction))
def test_the_services_change_status_exactly_as_the_table_says(
    app: App, db: ProfileDatabase, action: StatusAction, status: ScenarioStatus
) -> None:
    sid = _in_status(app, db, status)
    act: dict[StatusAction, Callable[[int], object]] = {
        StatusAction.ACTIVATE: app.scenarios.activate,
        StatusAction.STOP: app.scenarios.stop,
        StatusAction.TRASH: app.scenarios.trash,
        StatusAction.RESTORE: app.scenarios.restore,
    }
    change = CHANGES[action]
    if status in change.sources:
        act[action](sid)
        assert app.scenarios.get(sid).status is change.target
    elif action is StatusAction.ACTIVATE and status is ScenarioStatus.ACTIVE:
        # Activating an active scenario is a no-op (an API client may retry), not an error.
        assert act[action](sid) == 0
        assert app.scenarios.get(sid).status is ScenarioStatus.ACTIVE
    else:
        with pytest.raises(IllegalTransition, match=change.refusals[status]):
            act[action](sid)
        assert app.scenarios.get(sid).status is status
