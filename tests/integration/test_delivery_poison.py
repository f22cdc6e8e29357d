"""One message that cannot be sent fails alone: the rest of its batch is recorded,
nothing is sent twice, and a message re-claimed past its attempt limit is given up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from scenaria.channels.resources import EmailResource, Resources
from scenaria.clock import FakeClock
from scenaria.engine.delivery import Deliverer, DeliveryResult, OutboundMessage, RetryPolicy
from scenaria.model.profiles import FieldType, SubscriptionStatus
from scenaria.model.scenario import Scenario
from scenaria.services.app import App, Config
from scenaria.store.database import Store
from tests.conftest import HttpSink, import_people, person
from tests.integration.test_deliverer import RecordingChannel, queue_sms, rows
from tests.integration.test_email_smtp import Mailbox, SmtpServer, free_port

NAMES = ["Ann", "Bob", "Zoë", "Dan", "Eve", "Fay"]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(Mailbox(port=free_port()))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(store: Store, clock: FakeClock, smtp: SmtpServer) -> Iterator[App]:
    resources = Resources(
        email={"default": EmailResource(smtp_port=smtp.mailbox.port, timeout_seconds=5)}
    )
    config = Config(allowed_hosts=frozenset({"127.0.0.1"}), resources=resources)
    with App(config, clock=clock, store=store) as app:
        yield app


def greet_and_call(app: App, crm: str) -> dict[str, int]:
    """Email → API request whose header carries the first name; engage six profiles."""
    db = app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
    scenario = Scenario.model_validate(
        {
            "database_id": db.id,
            "name": "Greet and tell the CRM",
            "nodes": [
                {
                    "id": "mail",
                    "kind": "email",
                    "settings": {"subject": "Hi {{ profile.first_name }}", "text": "Welcome"},
                },
                {
                    "id": "call",
                    "kind": "api_request",
                    "settings": {
                        "url": crm,
                        "headers": {"X-Customer-Name": "{{ profile.first_name }}"},
                        "body": '{"name": {{ profile.first_name | tojson }}}',
                    },
                },
                {"id": "ok", "kind": "exit"},
                {"id": "failed", "kind": "exit"},
            ],
            "edges": [
                {"source": "default", "target": "mail"},
                {"source": "mail", "port": "next", "target": "call"},
                {"source": "mail", "port": "error", "target": "failed"},
                {"source": "call", "port": "next", "target": "ok"},
                {"source": "call", "port": "error", "target": "failed"},
            ],
        }
    )
    saved = app.scenarios.save(scenario)
    assert saved.problems == [] and saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    people = [
        person(i, email_status=SubscriptionStatus.SUBSCRIBED, first_name=name)
        for i, name in enumerate(NAMES, start=1)
    ]
    ids = import_people(app, db.id, people).profile_ids
    for profile_id in ids:
        app.scenarios.engage(saved.scenario.id, profile_id)
    return dict(zip(NAMES, ids, strict=True))


def test_a_header_that_cannot_be_sent_fails_its_message_alone(
    mail_app: App, clock: FakeClock, smtp: SmtpServer, http_sink: HttpSink
) -> None:
    profiles = greet_and_call(mail_app, f"{http_sink.url}/crm")
    mail_app.run_until_idle(clock)
    clock.advance(mail_app.deliverer.lease_seconds + 1)
    mail_app.run_until_idle(clock)

    emails = Counter(str(m["To"]) for m in smtp.mailbox.received)
    assert emails == Counter({f"user{i}@example.com": 1 for i in range(1, 7)})
    calls = Counter(r["headers"]["X-Customer-Name"] for r in http_sink.requests)
    assert calls == Counter({name: 1 for name in NAMES if name != "Zoë"})

    with mail_app.store.read() as tx:
        messages = list(tx.outbox.all("api_request"))
    zoe = next(m for m in messages if m["profile_id"] == profiles["Zoë"])
    assert zoe["status"] == "failed" and zoe["attempts"] == 1
    assert "X-Customer-Name" in zoe["reason"] and "ASCII" in zoe["reason"]
    assert {m["status"] for m in messages if m is not zoe} == {"sent"}
    card = mail_app.profiles.card(profiles["Zoë"])
    [task] = card["tasks"]
    assert task["state"] == "finished" and task["exit_node"] == "failed"


class Explodes:
    """A channel whose send raises something no channel should let out."""

    name = "sms"
    resumes_task = False

    def __init__(self, bad: set[str]) -> None:
        self.bad = bad
        self.sent: list[str] = []

    def send(self, message: OutboundMessage) -> DeliveryResult:
        if message.key in self.bad:
            raise ValueError("Invalid IPv6 URL")
        self.sent.append(message.key)
        return DeliveryResult({})

    def close(self) -> None:
        pass


def test_any_exception_from_one_send_fails_that_message_and_records_the_others(
    store: Store, clock: FakeClock
) -> None:
    keys = queue_sms(store, clock, 5)
    channel = Explodes({keys[1]})
    deliverer = Deliverer(store, clock, {"sms": channel})
    assert deliverer.run_once() == 5
    clock.advance(deliverer.lease_seconds + 1)
    assert deliverer.run_once() == 0

    assert channel.sent == [k for k in keys if k != keys[1]]
    final = rows(store)
    assert final[keys[1]]["status"] == "failed"
    assert final[keys[1]]["reason"] == "ValueError: Invalid IPv6 URL"
    assert {final[k]["status"] for k in keys if k != keys[1]} == {"sent"}


def test_a_message_re_claimed_past_its_attempt_limit_is_given_up(
    store: Store, clock: FakeClock
) -> None:
    [key] = queue_sms(store, clock, 1)
    channel = RecordingChannel(clock)
    retry = RetryPolicy(max_attempts=3)
    deliverer = Deliverer(store, clock, {"sms": channel}, retry=retry, lease_seconds=60)
    # Three deliverers each claimed it and died before recording.
    for _ in range(3):
        with store.transaction() as tx:
            tx.outbox.claim(["sms"], clock.now(), 10, 60)
        clock.advance(61)
    assert deliverer.run_once() == 1
    assert channel.sent == []
    final = rows(store)[key]
    assert final["status"] == "failed" and final["attempts"] == 4
    assert "gave up after 3 attempts" in final["reason"]
