"""The channel report says which of a scenario's resources delivery holds back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from scenaria.api.app import create_app
from scenaria.channels.resources import EmailResource, Resources
from scenaria.clock import FakeClock
from scenaria.model.profiles import FieldType, SubscriptionStatus
from scenaria.model.scenario import Scenario
from scenaria.services.app import App, Config
from scenaria.store.database import Store
from tests.conftest import import_people, person
from tests.integration.test_delivery_smtp import DroppingServer


@pytest.fixture
def dropping() -> Iterator[DroppingServer]:
    server = DroppingServer()
    yield server
    server.stop()


def mail_scenario(app: App, database_id: int, resource: str) -> int:
    scenario = Scenario.model_validate(
        {
            "database_id": database_id,
            "name": f"Mail via {resource}",
            "nodes": [
                {
                    "id": "mail",
                    "kind": "email",
                    "settings": {"subject": "Hi", "text": "Hello", "resource": resource},
                },
                {"id": "done", "kind": "exit"},
            ],
            "edges": [
                {"source": "default", "target": "mail"},
                {"source": "mail", "port": "next", "target": "done"},
                {"source": "mail", "port": "error", "target": "done"},
            ],
        }
    )
    saved = app.scenarios.save(scenario)
    assert saved.problems == [] and saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    return saved.scenario.id


def test_the_channel_report_shows_a_paused_smtp_server_with_its_reason(
    store: Store, clock: FakeClock, dropping: DroppingServer
) -> None:
    resources = Resources(
        email={
            "default": EmailResource(smtp_port=dropping.port, timeout_seconds=5),
            "bulk": EmailResource(smtp_port=dropping.port, timeout_seconds=5),
        }
    )
    with App(Config(resources=resources), clock=clock, store=store) as app:
        db = app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
        down = mail_scenario(app, db.id, "default")
        other = mail_scenario(app, db.id, "bulk")
        people = [person(i, email_status=SubscriptionStatus.SUBSCRIBED) for i in range(1, 6)]
        for profile_id in import_people(app, db.id, people).profile_ids:
            app.scenarios.engage(down, profile_id)
        app.run_pending()

        app.access.create_user("admin", [], is_admin=True)
        token = app.access.issue_token("admin").token
        with TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"}) as api:
            report = api.get(f"/scenarios/{down}/channel-report").json()
            untouched = api.get(f"/scenarios/{other}/channel-report").json()

    [paused] = report["paused_resources"]
    assert paused["channel"] == "email" and paused["resource"] == "default"
    assert f"127.0.0.1:{dropping.port} unreachable" in paused["reason"]
    assert paused["until"] == clock.now() + 30 and paused["failures"] == 3
    assert untouched["paused_resources"] == []
    assert dropping.connections == 3
