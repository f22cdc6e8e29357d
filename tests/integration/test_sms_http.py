"""SMS over HTTP end to end: SMS node → outbox → deliverer → a real local HTTP gateway,
and the gateway's delivery-status callback."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from scenaria.api import errors
from scenaria.api.routes import sms_callbacks
from scenaria.channels.resources import Resources, SmsResource
from scenaria.channels.sms_http import HttpSmsChannel
from scenaria.clock import FakeClock
from scenaria.engine.delivery import BreakerPolicy, Channel, Deliverer, RetryPolicy
from scenaria.errors import InvalidInput
from scenaria.model.profiles import FieldType, ProfileDatabase
from scenaria.services.app import App, Config
from scenaria.store.database import Store
from tests.conftest import HttpSink, import_people, person, welcome_scenario
from tests.integration.test_deliverer import drain, queue_sms, rows

TOKEN = "s3cret-gateway-token"


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMS_TOKEN", TOKEN)


def sms_channel(url: str, **settings: Any) -> HttpSmsChannel:
    return HttpSmsChannel(
        {"default": SmsResource(url=f"{url}/sms", token_env="SMS_TOKEN", **settings)}
    )


def deliverer(store: Store, clock: FakeClock, channel: HttpSmsChannel) -> Deliverer:
    channels: dict[str, Channel] = {"sms": channel}
    return Deliverer(store, clock, channels)


def keys_received(sink: HttpSink) -> list[str]:
    return [r["headers"]["Idempotency-Key"] for r in sink.requests]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_welcome(app: App, db: ProfileDatabase) -> int:
    assert db.id is not None
    app.profiles.add_promo_codes("welcome", ["W1", "W2"])
    saved = app.scenarios.save(welcome_scenario(db.id))
    assert saved.problems == [] and saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    return db.id


def test_the_welcome_scenarios_sms_reach_the_gateway_rendered_with_their_key(
    app: App, clock: FakeClock, db: ProfileDatabase, http_sink: HttpSink
) -> None:
    channel = sms_channel(http_sink.url)
    app.deliverer = deliverer(app.store, clock, channel)
    db_id = start_welcome(app, db)
    profile_ids = import_people(app, db_id, [person(1), person(2)]).profile_ids
    app.run_until_idle(clock)

    sent = {r["profile_id"]: r for r in rows(app.store).values()}
    assert set(sent) == set(profile_ids)
    assert len(http_sink.requests) == 2
    by_to = {b["to"]: b for b in http_sink.json_bodies()}
    for i, profile_id in enumerate(profile_ids, start=1):
        message = sent[profile_id]
        body = by_to[f"+1555{i:07d}"]
        assert body == {
            "to": f"+1555{i:07d}",
            "from": "Scenaria",
            "text": f"User{i}, please confirm your subscription: check your inbox.",
            "reference": message["key"],
        }
        assert message["status"] == "sent" and message["attempts"] == 1
    for request in http_sink.requests:
        assert request["path"] == "/sms"
        assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
        assert request["headers"]["Content-Type"] == "application/json"
        body = json.loads(request["body"])
        assert request["headers"]["Idempotency-Key"] == body["reference"]
    assert TOKEN not in json.dumps(list(rows(app.store).values()), default=str)


def test_gateway_down_then_up_retries_with_backoff_and_loses_nothing(
    store: Store, clock: FakeClock, http_sink: HttpSink
) -> None:
    keys = queue_sms(store, clock, 3)
    channel = sms_channel(f"http://127.0.0.1:{closed_port()}")
    sender = deliverer(store, clock, channel)
    # The retry policy alone: a breaker that trips only past the batch.
    sender.breakers.policy = BreakerPolicy(failures=10)
    start = clock.now()

    sender.run_once()
    down = rows(store)
    assert {(r["status"], r["attempts"]) for r in down.values()} == {("queued", 1)}
    assert {r["next_attempt_at"] for r in down.values()} == {start + RetryPolicy().delay(1)}
    assert all("unreachable" in r["reason"] and TOKEN not in r["reason"] for r in down.values())
    assert sender.run_once() == 0  # not before the backoff

    clock.advance(RetryPolicy().delay(1))
    sender.run_once()
    assert {r["next_attempt_at"] for r in rows(store).values()} == {
        clock.now() + RetryPolicy().delay(2)
    }

    channel.resources["default"] = SmsResource(url=f"{http_sink.url}/sms", token_env="SMS_TOKEN")
    drain(sender, clock)
    assert Counter(keys_received(http_sink)) == dict.fromkeys(keys, 1)
    assert {(r["status"], r["attempts"]) for r in rows(store).values()} == {("sent", 3)}


@pytest.mark.parametrize("status", [400, 422])
def test_a_client_error_fails_once_and_is_never_resent(
    store: Store, clock: FakeClock, http_sink: HttpSink, status: int
) -> None:
    keys = queue_sms(store, clock, 3)
    http_sink.status = status
    sender = deliverer(store, clock, sms_channel(http_sink.url))
    drain(sender, clock)
    clock.advance(30 * 86400)
    drain(sender, clock)

    assert sorted(keys_received(http_sink)) == sorted(keys)
    final = rows(store)
    assert {(r["status"], r["attempts"]) for r in final.values()} == {("failed", 1)}
    for r in final.values():
        assert f"HTTP {status}" in r["reason"]
        assert r["response"]["status"] == status
        assert r["response"]["body"] == {"accepted": False}


@pytest.mark.parametrize("status", [503, 429])
def test_a_server_error_is_retried_under_the_same_key(
    store: Store, clock: FakeClock, http_sink: HttpSink, status: int
) -> None:
    keys = queue_sms(store, clock, 2)
    http_sink.status = status
    sender = deliverer(store, clock, sms_channel(http_sink.url))
    sender.run_once()
    assert {r["status"] for r in rows(store).values()} == {"queued"}

    http_sink.status = 200
    drain(sender, clock)
    assert Counter(keys_received(http_sink)) == dict.fromkeys(keys, 2)
    assert {(r["status"], r["attempts"]) for r in rows(store).values()} == {("sent", 2)}


class Gateway:
    """A gateway answering like real ones: a message id and status, nested."""

    def __init__(self, status: str) -> None:
        self.status = status
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = {"messages": [{"id": f"gw-{body['ref']}", "state": gateway.status}]}
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def nested_gateway() -> Iterator[Gateway]:
    gateway = Gateway("queued")
    yield gateway
    gateway.close()


NESTED = {
    "body_template": (
        '{"dest": {{ to | tojson }}, "msg": {{ text | tojson }}, "ref": {{ key | tojson }}}'
    ),
    "id_field": "messages.0.id",
    "status_field": "messages.0.state",
}


def test_the_provider_id_and_status_come_from_the_answer(
    store: Store, clock: FakeClock, nested_gateway: Gateway
) -> None:
    [key] = queue_sms(store, clock, 1)
    drain(deliverer(store, clock, sms_channel(nested_gateway.url, **NESTED)), clock)
    message = rows(store)[key]
    assert message["status"] == "sent"
    assert message["response"]["provider_id"] == f"gw-{key}"
    assert message["response"]["delivery_status"] == "queued"


def test_a_rejection_in_a_200_answer_is_a_permanent_failure(
    store: Store, clock: FakeClock, nested_gateway: Gateway
) -> None:
    [key] = queue_sms(store, clock, 1)
    nested_gateway.status = "rejected"
    drain(deliverer(store, clock, sms_channel(nested_gateway.url, **NESTED)), clock)
    message = rows(store)[key]
    assert (message["status"], message["attempts"]) == ("failed", 1)
    assert "rejected" in message["reason"]


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ('{"to": {{ to }', "template"),  # syntax error
        ("{{ text.__class__.__mro__ }}", "template"),  # reaching Python internals
        ('{"to": {{ nobody | tojson }}}', "template"),  # undefined variable
        ("to={{ to }}", "JSON"),  # not JSON
    ],
)
def test_a_bad_body_template_fails_the_message_without_a_request(
    store: Store, clock: FakeClock, http_sink: HttpSink, template: str, reason: str
) -> None:
    [key] = queue_sms(store, clock, 1)
    drain(deliverer(store, clock, sms_channel(http_sink.url, body_template=template)), clock)
    assert http_sink.requests == []
    message = rows(store)[key]
    assert message["status"] == "failed" and reason in message["reason"]


def test_an_unknown_resource_fails_the_message(
    store: Store, clock: FakeClock, http_sink: HttpSink
) -> None:
    [key] = queue_sms(store, clock, 1)
    channel = HttpSmsChannel({"other": SmsResource(url=http_sink.url)})
    drain(deliverer(store, clock, channel), clock)
    assert http_sink.requests == []
    assert "no SMS resource named 'default'" in rows(store)[key]["reason"]


def test_a_missing_token_variable_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMS_TOKEN")
    with pytest.raises(InvalidInput, match="SMS_TOKEN"):
        sms_channel("http://127.0.0.1:1")


# ------------------------------------------------------------------ status callback

SECRET = "callback-secret"


@pytest.fixture
def callbacks(app: App, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv(sms_callbacks.ENV_SECRET, SECRET)
    api = FastAPI()
    api.state.scenaria = app
    errors.install(api)
    api.include_router(sms_callbacks.router)
    return TestClient(api)


def sent_sms(app: App, clock: FakeClock, db: ProfileDatabase, sink: HttpSink) -> dict[str, Any]:
    app.deliverer = deliverer(app.store, clock, sms_channel(sink.url))
    import_people(app, start_welcome(app, db), [person(1)])
    app.run_until_idle(clock)
    [message] = rows(app.store).values()
    return message


def message_events(app: App, profile_id: int) -> list[tuple[str, str | None, Any]]:
    events = app.profiles.card(profile_id)["events"]
    return [(e["type"], e["node_id"], e["data"]) for e in events if e["outbox_key"]]


def test_the_status_callback_records_delivered_and_failed(
    app: App, clock: FakeClock, db: ProfileDatabase, http_sink: HttpSink, callbacks: TestClient
) -> None:
    message = sent_sms(app, clock, db, http_sink)
    answer = callbacks.post(
        "/sms/status",
        json={"reference": message["key"], "status": "DELIVERED", "id": "gw-1"},
        headers={"X-Callback-Secret": SECRET},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "reference": message["key"],
        "event": "delivered",
        "profile_id": message["profile_id"],
    }
    answer = callbacks.post(
        f"/sms/status?secret={SECRET}",
        json={"reference": message["key"], "status": "undelivered", "error": 34},
    )
    assert answer.status_code == 200, answer.text
    assert sorted(message_events(app, message["profile_id"])) == [
        ("delivered", "reminder_sms", {"status": "DELIVERED", "id": "gw-1"}),
        ("failed", "reminder_sms", {"status": "undelivered", "error": 34}),
    ]


def test_the_status_callback_refuses_bad_secrets_unknown_keys_and_statuses(
    app: App,
    clock: FakeClock,
    db: ProfileDatabase,
    http_sink: HttpSink,
    callbacks: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = sent_sms(app, clock, db, http_sink)
    body = {"reference": message["key"], "status": "delivered"}
    good = {"X-Callback-Secret": SECRET}
    assert callbacks.post("/sms/status", json=body).status_code == 403
    bad = {"X-Callback-Secret": SECRET + "x"}
    assert callbacks.post("/sms/status", json=body, headers=bad).status_code == 403
    assert callbacks.post("/sms/status?secret=nope", json=body).status_code == 403
    unknown = {"reference": "999:reminder_sms:1", "status": "delivered"}
    assert callbacks.post("/sms/status", json=unknown, headers=good).status_code == 404
    with app.store.read() as tx:
        [email] = tx.outbox.all("email")
    not_sms = {"reference": email["key"], "status": "delivered"}
    assert callbacks.post("/sms/status", json=not_sms, headers=good).status_code == 404
    odd = {"reference": message["key"], "status": "teleported"}
    assert callbacks.post("/sms/status", json=odd, headers=good).status_code == 422
    assert callbacks.post("/sms/status", json={"status": "x"}, headers=good).status_code == 422
    monkeypatch.delenv(sms_callbacks.ENV_SECRET)
    assert callbacks.post("/sms/status", json=body, headers=good).status_code == 403
    assert message_events(app, message["profile_id"]) == []


def test_the_app_sends_sms_through_the_configured_gateway(
    store: Store, clock: FakeClock, http_sink: HttpSink
) -> None:
    gateways = {"default": SmsResource(url=f"{http_sink.url}/sms", token_env="SMS_TOKEN")}
    config = Config(
        allowed_hosts=frozenset({"127.0.0.1"}), resources=Resources(email={}, sms=gateways)
    )
    with App(config, clock=clock, store=store) as app:
        assert isinstance(app.deliverer.channels["sms"], HttpSmsChannel)
        db = app.profiles.create_database(
            "Customers", {"first_name": FieldType.STRING, "loyalty_points": FieldType.INT}
        )
        import_people(app, start_welcome(app, db), [person(7)])
        app.run_until_idle(clock)
    [body] = http_sink.json_bodies()
    assert body["to"] == "+15550000007"
    assert body["text"].startswith("User7, please confirm")
    assert http_sink.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_a_gateway_refusing_connections_is_paused_not_tried_per_message(
    store: Store, clock: FakeClock
) -> None:
    queue_sms(store, clock, 10)
    sender = deliverer(store, clock, sms_channel(f"http://127.0.0.1:{closed_port()}"))
    failures = sender.breakers.policy.failures
    sender.run_once()

    tried = Counter(r["attempts"] for r in rows(store).values())
    assert tried == {1: failures, 0: 10 - failures}
    [paused] = sender.paused_resources()
    assert (paused.channel, paused.resource) == ("sms", "default")
    assert "unreachable" in paused.reason and TOKEN not in paused.reason
