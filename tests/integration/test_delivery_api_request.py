"""API requests that cannot be sent fail alone and for good; the allow-list checks
the addresses a name resolves to, and the request goes to the address checked."""

from __future__ import annotations

import pytest

from scenaria.channels.api_request import ApiRequestChannel
from scenaria.clock import FakeClock
from scenaria.model.profiles import FieldType, ProfileDatabase
from scenaria.model.scenario import Scenario
from scenaria.services.app import App, Config
from scenaria.store.database import Store
from tests.conftest import HttpSink, import_people, person
from tests.integration.test_api_request_delivery import closed_port, start, task_of, the_message


def app_allowing(store: Store, clock: FakeClock, *hosts: str, **channel: object) -> App:
    config = Config(allowed_hosts=frozenset(hosts))
    channels = {"api_request": ApiRequestChannel(frozenset(hosts), **channel)}  # type: ignore[arg-type]
    return App(config, clock=clock, store=store, channels=channels)  # type: ignore[arg-type]


def call_scenario(app: App, database_id: int, url: str) -> int:
    """Active: default → API request to ``url`` (next → ok, error → failed)."""
    scenario = Scenario.model_validate(
        {
            "database_id": database_id,
            "name": "Call the CRM",
            "nodes": [
                {"id": "call", "kind": "api_request", "settings": {"url": url}},
                {"id": "ok", "kind": "exit"},
                {"id": "failed", "kind": "exit"},
            ],
            "edges": [
                {"source": "default", "target": "call"},
                {"source": "call", "port": "next", "target": "ok"},
                {"source": "call", "port": "error", "target": "failed"},
            ],
        }
    )
    saved = app.scenarios.save(scenario)
    assert saved.problems == [] and saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    return saved.scenario.id


def test_a_templated_port_that_is_not_a_number_fails_that_request_for_good(
    app: App, clock: FakeClock, db: ProfileDatabase, http_sink: HttpSink
) -> None:
    port = http_sink.url.rsplit(":", 1)[1]
    scenario_id = call_scenario(app, db.id, "http://127.0.0.1:{{ api_content.port }}/leads")
    bad_profile, good_profile = import_people(app, db.id, [person(1), person(2)]).profile_ids
    bad_task = app.scenarios.engage(scenario_id, bad_profile, {"port": "eighty"}).task_id
    good_task = app.scenarios.engage(scenario_id, good_profile, {"port": port}).task_id
    assert bad_task is not None and good_task is not None
    app.run_until_idle(clock)
    clock.advance(app.deliverer.lease_seconds + 1)
    app.run_until_idle(clock)

    bad = the_message(app, bad_task)
    assert (bad["status"], bad["attempts"]) == ("failed", 1)
    assert "eighty" in bad["reason"] and "not a valid" in bad["reason"]
    assert task_of(app, bad_profile, bad_task)["exit_node"] == "failed"
    assert len(http_sink.requests) == 1
    assert the_message(app, good_task)["status"] == "sent"
    assert task_of(app, good_profile, good_task)["exit_node"] == "ok"


@pytest.mark.parametrize("tail", ["\r\nX-Injected: 1", "\n"])
def test_a_url_with_a_line_break_fails_that_request_for_good(
    app: App, clock: FakeClock, db: ProfileDatabase, http_sink: HttpSink, tail: str
) -> None:
    profile_id, task_id = start(
        app, db.id, f"{http_sink.url}/leads?n={{{{ api_content.n }}}}", {"n": f"a{tail}"}
    )
    app.run_until_idle(clock)
    clock.advance(app.deliverer.lease_seconds + 1)
    app.run_until_idle(clock)

    message = the_message(app, task_id)
    assert (message["status"], message["attempts"]) == ("failed", 1)
    assert "not a valid" in message["reason"]
    assert http_sink.requests == []
    assert task_of(app, profile_id, task_id)["exit_node"] == "failed"


def test_an_unclosed_ipv6_url_is_refused_at_save_and_fails_alone_when_rendered(
    app: App, clock: FakeClock, db: ProfileDatabase
) -> None:
    scenario = Scenario.model_validate(
        {
            "database_id": db.id,
            "name": "Broken URL",
            "nodes": [
                {"id": "call", "kind": "api_request", "settings": {"url": "http://[::1/x"}},
                {"id": "ok", "kind": "exit"},
            ],
            "edges": [
                {"source": "default", "target": "call"},
                {"source": "call", "port": "next", "target": "ok"},
                {"source": "call", "port": "error", "target": "ok"},
            ],
        }
    )
    problems = app.scenarios.save(scenario).problems
    assert [p.code for p in problems] == ["bad_url"]

    profile_id, task_id = start(app, db.id, "http://{{ api_content.host }}/x", {"host": "[::1"})
    app.run_until_idle(clock)
    message = the_message(app, task_id)
    assert (message["status"], message["attempts"]) == ("failed", 1)
    assert task_of(app, profile_id, task_id)["exit_node"] == "failed"


def test_a_literal_header_that_is_not_ascii_is_refused_at_save(
    app: App, db: ProfileDatabase
) -> None:
    scenario = Scenario.model_validate(
        {
            "database_id": db.id,
            "name": "Header",
            "nodes": [
                {
                    "id": "call",
                    "kind": "api_request",
                    "settings": {
                        "url": "http://127.0.0.1/x",
                        "headers": {
                            "X-Name": "Zoë",
                            "Bad Name": "x",
                            "X-Ok": "{{ profile.first_name }}",
                        },
                    },
                },
                {"id": "ok", "kind": "exit"},
            ],
            "edges": [
                {"source": "default", "target": "call"},
                {"source": "call", "port": "next", "target": "ok"},
                {"source": "call", "port": "error", "target": "ok"},
            ],
        }
    )
    problems = app.scenarios.save(scenario).problems
    assert sorted(p.code for p in problems) == ["bad_header", "bad_header"]
    assert any("X-Name" in p.message and "ASCII" in p.message for p in problems)


def crm_call(app: App, url: str) -> tuple[int, int]:
    db = app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
    return start(app, db.id, url)


def test_an_allowed_name_that_resolves_to_loopback_is_refused(
    store: Store, clock: FakeClock, http_sink: HttpSink
) -> None:
    port = http_sink.url.rsplit(":", 1)[1]
    with app_allowing(store, clock, "localhost") as app:
        profile_id, task_id = crm_call(app, f"http://localhost:{port}/leads")
        app.run_until_idle(clock)
        message = the_message(app, task_id)
        assert message["status"] == "failed"
        assert "resolves to" in message["reason"] and "127.0.0.1" in message["reason"]
        assert http_sink.requests == []
        assert task_of(app, profile_id, task_id)["exit_node"] == "failed"


def test_an_allowed_name_reaches_loopback_once_its_address_is_allowed(
    store: Store, clock: FakeClock, http_sink: HttpSink
) -> None:
    port = http_sink.url.rsplit(":", 1)[1]
    with app_allowing(store, clock, "localhost", "127.0.0.0/8") as app:
        _, task_id = crm_call(app, f"http://localhost:{port}/leads")
        app.run_until_idle(clock)
        assert the_message(app, task_id)["status"] == "sent"
        [request] = http_sink.requests
        assert request["headers"]["Host"] == f"localhost:{port}"


def test_a_public_name_that_resolves_into_the_private_network_is_refused(
    store: Store, clock: FakeClock, http_sink: HttpSink
) -> None:
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["10.1.2.3", "169.254.169.254"]

    with app_allowing(store, clock, "crm.example.com", resolver=rebinding) as app:
        _, task_id = crm_call(app, "https://crm.example.com/leads")
        app.run_until_idle(clock)
        message = the_message(app, task_id)
        assert message["status"] == "failed" and "10.1.2.3" in message["reason"]
        assert asked == ["crm.example.com"]


def test_the_request_goes_to_the_address_that_was_checked(
    store: Store, clock: FakeClock, http_sink: HttpSink
) -> None:
    port = http_sink.url.rsplit(":", 1)[1]

    def pinned(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    with app_allowing(store, clock, "crm.internal", "127.0.0.1", resolver=pinned) as app:
        _, task_id = crm_call(app, f"http://crm.internal:{port}/leads")
        app.run_until_idle(clock)
        assert the_message(app, task_id)["status"] == "sent"
        [request] = http_sink.requests
        assert request["headers"]["Host"] == f"crm.internal:{port}"


def test_a_refusing_api_host_is_paused_after_a_few_connection_failures(
    app: App, clock: FakeClock, db: ProfileDatabase
) -> None:
    scenario_id = call_scenario(app, db.id, f"http://127.0.0.1:{closed_port()}/leads")
    people = import_people(app, db.id, [person(i) for i in range(1, 11)]).profile_ids
    tasks = [app.scenarios.engage(scenario_id, p).task_id for p in people]
    app.run_pending()

    failures = app.deliverer.breakers.policy.failures
    attempts = sorted(the_message(app, t)["attempts"] for t in tasks if t is not None)
    assert attempts == [0] * (10 - failures) + [1] * failures
    [paused] = app.deliverer.paused_resources()
    assert (paused.channel, paused.resource) == ("api_request", "127.0.0.1")
    assert "unreachable" in paused.reason
