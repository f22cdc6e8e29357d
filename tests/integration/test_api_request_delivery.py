"""The API request channel end to end: node → outbox → deliverer → a real local HTTP server."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from scenaria.clock import FakeClock
from scenaria.engine.delivery import RetryPolicy
from scenaria.model.profiles import ProfileDatabase
from scenaria.model.scenario import Scenario
from scenaria.services.app import App
from tests.conftest import HttpSink, import_people, person

BODY = '{"email": {{ profile.email | tojson }}, "name": {{ profile.first_name | tojson }}}'


def start(
    app: App, database_id: int, url: str, api_content: dict[str, Any] | None = None
) -> tuple[int, int]:
    """Activate default → API request (next → ok, error → failed), engage one profile."""
    scenario = Scenario.model_validate(
        {
            "database_id": database_id,
            "name": "Call the CRM",
            "nodes": [
                {"id": "call", "kind": "api_request", "settings": {"url": url, "body": BODY}},
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
    assert saved.problems == []
    assert saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    [profile_id] = import_people(app, database_id, [person(1)]).profile_ids
    task_id = app.scenarios.engage(saved.scenario.id, profile_id, api_content).task_id
    assert task_id is not None
    return profile_id, task_id


def task_of(app: App, profile_id: int, task_id: int) -> dict[str, Any]:
    return next(t for t in app.profiles.card(profile_id)["tasks"] if t["task_id"] == task_id)


def the_message(app: App, task_id: int) -> dict[str, Any]:
    with app.store.read() as tx:
        [message] = tx.outbox.for_task(task_id)
    return message


def header(request: dict[str, Any], name: str) -> str | None:
    found = [v for k, v in request["headers"].items() if k.lower() == name.lower()]
    assert len(found) <= 1
    return found[0] if found else None


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_request_carries_the_outbox_key_as_idempotency_key(
    app: App, clock: FakeClock, db: ProfileDatabase, http_sink: HttpSink
) -> None:
    profile_id, task_id = start(app, db.id, f"{http_sink.url}/leads")
    app.run_until_idle(clock)

    [request] = http_sink.requests
    message = the_message(app, task_id)
    assert header(request, "Idempotency-Key") == message["key"]
    assert request["method"] == "POST"
    assert request["path"] == "/leads"
    assert header(request, "Content-Type") == "application/json"
    assert http_sink.json_bodies() == [{"email": "user1@example.com", "name": "User1"}]

    assert message["status"] == "sent"
    task = task_of(app, profile_id, task_id)
    assert task["exit_node"] == "ok"
    assert task["data"]["api_response"] == {"status": 200, "body": {"accepted": True}}


@pytest.mark.parametrize("status", [503, 500, 429])
def test_a_retry_after_a_temporary_failure_carries_the_same_key(
    app: App, clock: FakeClock, db: ProfileDatabase, http_sink: HttpSink, status: int
) -> None:
    profile_id, task_id = start(app, db.id, f"{http_sink.url}/leads")
    http_sink.status = status
    app.run_pending()

    assert len(http_sink.requests) == 1
    message = the_message(app, task_id)
    assert message["status"] == "queued"
    assert message["next_attempt_at"] == clock.now() + RetryPolicy().delay(1)
    assert f"HTTP {status}" in message["reason"]
    assert task_of(app, profile_id, task_id)["state"] == "awaiting"

    http_sink.status = 200
    app.run_until_idle(clock)

    first, second = http_sink.requests
    assert header(second, "Idempotency-Key") == header(first, "Idempotency-Key")
    assert header(second, "Idempotency-Key") == message["key"]
    assert second["body"] == first["body"]
    assert task_of(app, profile_id, task_id)["exit_node"] == "ok"


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a_client_error_is_final_and_takes_the_error_path(
    app: App, clock: FakeClock, db: ProfileDatabase, http_sink: HttpSink, status: int
) -> None:
    profile_id, task_id = start(app, db.id, f"{http_sink.url}/leads")
    http_sink.status = status
    app.run_until_idle(clock)
    clock.advance(7 * 86400)
    app.run_until_idle(clock)

    assert len(http_sink.requests) == 1
    message = the_message(app, task_id)
    assert message["status"] == "failed"
    assert f"HTTP {status}" in message["reason"]
    task = task_of(app, profile_id, task_id)
    assert task["state"] == "finished"
    assert task["exit_node"] == "failed"
    assert task["data"]["api_response"] == {"status": status, "body": {"accepted": False}}
    assert f"HTTP {status}" in task["data"]["last_error"]["message"]


def test_a_host_not_allowed_is_refused_without_any_request(
    app: App, clock: FakeClock, db: ProfileDatabase, http_sink: HttpSink
) -> None:
    # The host comes from API content, so only the channel can check it. "localhost"
    # reaches the very same sink, so a request that slipped through would be recorded.
    port = http_sink.url.rsplit(":", 1)[1]
    profile_id, task_id = start(
        app, db.id, f"http://{{{{ api_content.host }}}}:{port}/leads", {"host": "localhost"}
    )
    app.run_until_idle(clock)

    assert http_sink.requests == []
    message = the_message(app, task_id)
    assert message["status"] == "failed"
    assert message["attempts"] == 1
    assert "host 'localhost' is not on the list of allowed hosts" in message["reason"]
    task = task_of(app, profile_id, task_id)
    assert task["exit_node"] == "failed"
    assert "not on the list of allowed hosts" in task["data"]["last_error"]["message"]


def test_connection_refused_is_retried_with_backoff_then_given_up(
    app: App, clock: FakeClock, db: ProfileDatabase
) -> None:
    policy = RetryPolicy()
    profile_id, task_id = start(app, db.id, f"http://127.0.0.1:{closed_port()}/leads")

    delays = []
    for _ in range(policy.max_attempts + 2):
        app.run_pending()
        message = the_message(app, task_id)
        if message["status"] != "queued":
            break
        delays.append(message["next_attempt_at"] - clock.now())
        clock.advance_to(message["next_attempt_at"])

    assert delays == [policy.delay(a) for a in range(1, policy.max_attempts)]
    assert delays == sorted(delays) and delays[-1] > delays[0]
    assert message["status"] == "failed"
    assert message["attempts"] == policy.max_attempts
    assert message["reason"].startswith(f"gave up after {policy.max_attempts} attempts")

    app.run_until_idle(clock)
    task = task_of(app, profile_id, task_id)
    assert task["exit_node"] == "failed"
    assert "gave up" in task["data"]["last_error"]["message"]


def test_a_send_abandoned_mid_way_is_resent_with_the_same_key(
    app: App, clock: FakeClock, db: ProfileDatabase, http_sink: HttpSink
) -> None:
    profile_id, task_id = start(app, db.id, f"{http_sink.url}/leads")
    app.scheduler.run_due()
    lease = app.deliverer.lease_seconds
    # A deliverer leases the message, then dies before sending it.
    with app.store.transaction() as tx:
        [claimed] = tx.outbox.claim(["api_request"], clock.now(), 10, lease)

    app.run_pending()
    assert http_sink.requests == []  # the lease still holds
    clock.advance(lease + 1)
    app.run_pending()

    [request] = http_sink.requests
    assert header(request, "Idempotency-Key") == claimed["key"]
    assert task_of(app, profile_id, task_id)["exit_node"] == "ok"
