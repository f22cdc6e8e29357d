"""Email over real SMTP: the welcome scenario's messages reach a local aiosmtpd server.

The server is a real SMTP server on localhost; tests change its answer to
simulate a server that is down, one answering 451 (try later) and one
answering 550 (mailbox unavailable). The fake clock passes the backoff.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, cast
from urllib.parse import unquote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from scenaria.channels.email_message import message_id
from scenaria.channels.resources import EmailResource, Resources
from scenaria.channels.tracking import Purpose, verify
from scenaria.clock import FakeClock
from scenaria.engine.delivery import BreakerPolicy, Deliverer, OutboundMessage
from scenaria.model.profiles import FieldType, SubscriptionStatus
from scenaria.model.scenario import Scenario
from scenaria.services.app import App, Config
from scenaria.store.database import Store
from tests.conftest import HttpSink, import_people, person, welcome_scenario

SECRET = b"test-secret"
PUBLIC = "http://track.test"
SHOP = "https://shop.example/new?a=1&b=2"


@dataclass
class Mailbox:
    """What the SMTP server received, and how it answers."""

    port: int
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    rcpt_reply: str = "250 OK"
    data_reply: str = "250 OK queued"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt_reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            content = cast(bytes, envelope.original_content or envelope.content)
            parsed = email.message_from_bytes(content, policy=email.policy.default)
            self.received.append(parsed)
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return self.data_reply

    def keys(self) -> list[str]:
        return [str(m["X-Scenaria-Key"]) for m in self.received]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.mailbox.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(Mailbox(port=free_port()))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(store: Store, clock: FakeClock, smtp: SmtpServer) -> Iterator[App]:
    resources = Resources(
        email={
            "default": EmailResource(
                sender_name="Scenaria Shop",
                sender_address="shop@example.com",
                smtp_port=smtp.mailbox.port,
                timeout_seconds=5,
            )
        }
    )
    config = Config(
        allowed_hosts=frozenset({"127.0.0.1"}),
        public_url=PUBLIC,
        secret=SECRET,
        resources=resources,
    )
    with App(config, clock=clock, store=store) as app:
        yield app


@pytest.fixture
def mail_db_id(mail_app: App) -> int:
    return customers(mail_app)


def customers(app: App) -> int:
    db = app.profiles.create_database(
        "Customers", {"first_name": FieldType.STRING, "loyalty_points": FieldType.INT}
    )
    assert db.id is not None
    return db.id


# --------------------------------------------------------------------------- helpers


def start_welcome(app: App, db_id: int, call_centre: str | None = None) -> int:
    app.profiles.add_promo_codes("welcome", ["GIFT-1", "GIFT-2", "GIFT-3"])
    scenario = welcome_scenario(db_id, call_centre)
    for node in scenario.nodes:
        if node.id == "welcome_email":
            node.settings["html"] += f'<p><a href="{SHOP.replace("&", "&amp;")}">Shop</a></p>'
    saved = app.scenarios.save(scenario)
    assert saved.problems == []
    assert saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    return saved.scenario.id


def outbox(app: App) -> list[dict[str, Any]]:
    with app.store.read() as tx:
        return tx.outbox.all("email")


def parts(message: EmailMessage) -> tuple[str, str]:
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    return str(cast(EmailMessage, html).get_content()), str(cast(EmailMessage, text).get_content())


def tokens(body: str, path: str) -> list[str]:
    return [
        unquote(t) for t in re.findall(rf"{re.escape(PUBLIC)}/t/{path}/([A-Za-z0-9_.%-]+)", body)
    ]


def by_recipient(mailbox: Mailbox) -> dict[str, list[EmailMessage]]:
    found: dict[str, list[EmailMessage]] = {}
    for m in mailbox.received:
        found.setdefault(str(m["To"]), []).append(m)
    return found


# --------------------------------------------------------------------------- the welcome story


def test_welcome_emails_arrive_personalised_and_tracked(
    mail_app: App,
    clock: FakeClock,
    mail_db_id: int,
    smtp: SmtpServer,
    http_sink: HttpSink,
) -> None:
    start_welcome(mail_app, mail_db_id, http_sink.url)
    import_people(
        mail_app,
        mail_db_id,
        [person(1), person(2, email_status=SubscriptionStatus.SUBSCRIBED)],
    )
    mail_app.run_until_idle(clock)

    mailbox = smtp.mailbox
    rows = {r["key"]: r for r in outbox(mail_app)}
    assert sorted(mailbox.keys()) == sorted(rows)  # every message arrived, once
    assert {r["status"] for r in rows.values()} == {"sent"}
    assert all(sender == "shop@example.com" for sender, _ in mailbox.envelopes)

    mails = by_recipient(mailbox)
    [unconfirmed] = mails["user1@example.com"]
    promo, welcome2 = sorted(mails["user2@example.com"], key=lambda m: str(m["Subject"]))
    assert str(unconfirmed["Subject"]) == "Welcome, User1!"
    assert str(welcome2["Subject"]) == "Welcome, User2!"
    assert str(promo["Subject"]) == "A gift for you, User2"

    for m in mailbox.received:
        key = str(m["X-Scenaria-Key"])
        assert rows[key]["node_id"] in ("welcome_email", "promo_email")
        assert str(m["Message-ID"]) == message_id(key)
        assert str(m["From"]) == "Scenaria Shop <shop@example.com>"
        html, text = parts(m)
        [unsubscribe] = tokens(html, "u")
        assert tokens(text, "u") == [unsubscribe]
        assert str(m["List-Unsubscribe"]) == f"<{PUBLIC}/t/u/{unsubscribe}>"
        assert str(m["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
        assert verify(SECRET, unsubscribe).purpose is Purpose.UNSUBSCRIBE
        [pixel] = tokens(html, "o")
        assert verify(SECRET, pixel).key == key
        assert f'<img src="{PUBLIC}/t/o/' in html

    html1, text1 = parts(unconfirmed)
    assert "Hello User1," in html1 and "Hello User1," in text1
    # The shop link goes through the click redirect, to exactly the original URL.
    assert SHOP not in html1 and SHOP.replace("&", "&amp;") not in html1
    [click] = tokens(html1, "c")
    claim = verify(SECRET, click)
    assert (claim.purpose, claim.url, claim.key) == (
        Purpose.CLICK,
        SHOP,
        str(unconfirmed["X-Scenaria-Key"]),
    )
    # Double opt-in link only while the subscription is unconfirmed.
    [confirm] = tokens(html1, "d")
    assert tokens(text1, "d") == [confirm]
    assert verify(SECRET, confirm).purpose is Purpose.CONFIRM
    for m in (welcome2, promo):
        html, text = parts(m)
        assert tokens(html, "d") == [] and tokens(text, "d") == []

    promo_html, promo_text = parts(promo)
    assert "GIFT-1" in promo_html and "Your promo code: GIFT-1" in promo_text


def test_unsubscribed_profile_is_skipped_and_nothing_is_sent(
    mail_app: App, clock: FakeClock, mail_db_id: int, smtp: SmtpServer
) -> None:
    start_welcome(mail_app, mail_db_id)
    import_people(mail_app, mail_db_id, [person(1, email_status=SubscriptionStatus.UNSUBSCRIBED)])
    mail_app.run_pending()

    [row] = outbox(mail_app)
    assert row["status"] == "skipped"
    assert "not subscribed" in (row["reason"] or "")
    assert smtp.mailbox.received == []


def test_template_error_takes_the_error_path_and_sends_nothing(
    mail_app: App, clock: FakeClock, mail_db_id: int, smtp: SmtpServer
) -> None:
    scenario = Scenario.model_validate(
        {
            "database_id": mail_db_id,
            "name": "Broken mail",
            "nodes": [
                {
                    "id": "mail",
                    "kind": "email",
                    "settings": {"subject": "Hi", "text": "Hello {{ profile.no_such_field }}"},
                },
                {"id": "ok", "kind": "exit"},
                {"id": "failed", "kind": "exit"},
            ],
            "edges": [
                {"source": "default", "target": "mail"},
                {"source": "mail", "port": "next", "target": "ok"},
                {"source": "mail", "port": "error", "target": "failed"},
            ],
        }
    )
    saved = mail_app.scenarios.save(scenario)
    assert saved.scenario.id is not None
    mail_app.scenarios.activate(saved.scenario.id)
    [pid] = import_people(mail_app, mail_db_id, [person(1)]).profile_ids
    mail_app.scenarios.engage(saved.scenario.id, pid)
    mail_app.run_until_idle(clock)

    [task] = mail_app.profiles.card(pid)["tasks"]
    assert [(v["node_id"], v["port"]) for v in task["path"]] == [
        ("default", "next"),
        ("mail", "error"),
        ("failed", "exit"),
    ]
    assert "no_such_field" in task["data"]["last_error"]["message"]
    assert outbox(mail_app) == []
    assert smtp.mailbox.received == []


# --------------------------------------------------------------------------- faults


def test_server_down_then_up_nothing_lost_nothing_doubled(
    mail_app: App, clock: FakeClock, mail_db_id: int, smtp: SmtpServer
) -> None:
    smtp.stop()
    # The retry policy alone: a breaker that trips only past the batch.
    mail_app.deliverer.breakers.policy = BreakerPolicy(failures=10)
    start_welcome(mail_app, mail_db_id)
    import_people(mail_app, mail_db_id, [person(i) for i in range(1, 6)])
    mail_app.run_pending()

    rows = outbox(mail_app)
    assert len(rows) == 5
    assert {(r["status"], r["attempts"]) for r in rows} == {("queued", 1)}
    assert all("unreachable" in (r["reason"] or "") for r in rows)
    first_retry = {r["next_attempt_at"] for r in rows}
    assert min(first_retry) > clock.now()

    clock.advance_to(max(first_retry))
    mail_app.run_pending()  # still down: a second attempt, a longer wait
    rows = outbox(mail_app)
    assert {(r["status"], r["attempts"]) for r in rows} == {("queued", 2)}
    assert min(r["next_attempt_at"] for r in rows) - clock.now() > max(first_retry) - min(
        first_retry
    )

    smtp.start()
    clock.advance_to(max(r["next_attempt_at"] for r in rows))
    mail_app.run_pending()

    rows = outbox(mail_app)
    assert {(r["status"], r["attempts"]) for r in rows} == {("sent", 3)}
    assert sorted(smtp.mailbox.keys()) == sorted(r["key"] for r in rows)


def test_451_is_retried_then_delivered_once(
    mail_app: App, clock: FakeClock, mail_db_id: int, smtp: SmtpServer
) -> None:
    smtp.mailbox.data_reply = "451 4.3.0 try again later"
    start_welcome(mail_app, mail_db_id)
    import_people(mail_app, mail_db_id, [person(1), person(2)])
    mail_app.run_pending()

    rows = outbox(mail_app)
    assert {(r["status"], r["attempts"]) for r in rows} == {("queued", 1)}
    assert all("451" in (r["reason"] or "") for r in rows)
    assert smtp.mailbox.received == []

    smtp.mailbox.data_reply = "250 OK"
    clock.advance_to(max(r["next_attempt_at"] for r in rows))
    mail_app.run_pending()

    rows = outbox(mail_app)
    assert {(r["status"], r["attempts"]) for r in rows} == {("sent", 2)}
    assert sorted(smtp.mailbox.keys()) == sorted(r["key"] for r in rows)


def test_550_fails_without_endless_resend(
    mail_app: App, clock: FakeClock, mail_db_id: int, smtp: SmtpServer
) -> None:
    smtp.mailbox.rcpt_reply = "550 5.1.1 mailbox unavailable"
    start_welcome(mail_app, mail_db_id)
    import_people(mail_app, mail_db_id, [person(1), person(2)])
    mail_app.run_pending()

    rows = outbox(mail_app)
    assert {(r["status"], r["attempts"]) for r in rows} == {("failed", 1)}
    assert all("550" in (r["reason"] or "") for r in rows)
    assert all(r["response"]["smtp_code"] == 550 for r in rows)

    smtp.mailbox.rcpt_reply = "250 OK"
    clock.advance(7 * 86400)
    mail_app.run_pending()
    assert {(r["status"], r["attempts"]) for r in outbox(mail_app)} == {("failed", 1)}
    assert smtp.mailbox.received == []


def test_a_resend_after_a_crash_carries_the_same_message_id(
    mail_app: App, clock: FakeClock, mail_db_id: int, smtp: SmtpServer
) -> None:
    """Sending the same outbox row twice (a crash between send and mark) gives the
    receiver the same Message-ID and key, so it can drop the duplicate."""
    start_welcome(mail_app, mail_db_id)
    import_people(mail_app, mail_db_id, [person(1)])
    mail_app.scheduler.run_due()
    [row] = outbox(mail_app)
    channel = mail_app.deliverer.channels["email"]
    for attempt in (1, 2):
        channel.send(
            OutboundMessage(
                key=row["key"],
                channel="email",
                payload=row["payload"],
                profile_id=row["profile_id"],
                task_id=row["task_id"],
                node_id=row["node_id"],
                attempt=attempt,
            )
        )
    first, second = smtp.mailbox.received
    assert str(first["Message-ID"]) == str(second["Message-ID"]) == message_id(row["key"])
    assert str(first["X-Scenaria-Key"]) == str(second["X-Scenaria-Key"]) == row["key"]
    assert parts(first) == parts(second)


def test_connection_is_reused_across_a_batch(
    mail_app: App, clock: FakeClock, mail_db_id: int, smtp: SmtpServer
) -> None:
    sessions: list[int] = []
    original = smtp.mailbox.handle_DATA

    async def counting(server: SMTP, session: Session, envelope: Envelope) -> str:
        sessions.append(id(session))
        return await original(server, session, envelope)

    smtp.mailbox.handle_DATA = counting  # type: ignore[method-assign]
    start_welcome(mail_app, mail_db_id)
    import_people(mail_app, mail_db_id, [person(i) for i in range(1, 11)])
    mail_app.run_pending()

    assert len(smtp.mailbox.received) == 10
    assert len(set(sessions)) == 1


def test_server_restart_between_batches_reconnects(
    mail_app: App, clock: FakeClock, mail_db_id: int, smtp: SmtpServer
) -> None:
    start_welcome(mail_app, mail_db_id)
    import_people(mail_app, mail_db_id, [person(1)])
    mail_app.run_pending()
    smtp.stop()
    smtp.start()
    import_people(mail_app, mail_db_id, [person(2)])
    mail_app.run_pending()

    assert {r["status"] for r in outbox(mail_app)} == {"sent"}
    assert len(smtp.mailbox.received) == 2


@pytest.mark.parametrize("password", ["hunter2-secret", "wrong-password"])
def test_login_uses_the_password_from_env_and_never_records_it(
    monkeypatch: pytest.MonkeyPatch,
    store: Store,
    clock: FakeClock,
    smtp: SmtpServer,
    password: str,
) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"hunter2-secret", handled=False)

    smtp.stop()
    smtp.controller = Controller(
        smtp.mailbox,
        hostname="127.0.0.1",
        port=smtp.mailbox.port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    smtp.controller.start()
    monkeypatch.setenv("TEST_SMTP_PASSWORD", password)
    resource = EmailResource(
        smtp_port=smtp.mailbox.port, username="shop", password_env="TEST_SMTP_PASSWORD"
    )
    config = Config(
        allowed_hosts=frozenset({"127.0.0.1"}),
        secret=SECRET,
        resources=Resources(email={"default": resource}),
    )
    with App(config, clock=clock, store=store) as app:
        db_id = customers(app)
        start_welcome(app, db_id)
        import_people(app, db_id, [person(1)])
        app.run_pending()
        [row] = outbox(app)

    assert logins and set(logins) == {(b"shop", password.encode())}
    assert "hunter2" not in repr(resource)
    assert password not in repr(row)
    if password == "hunter2-secret":
        assert row["status"] == "sent" and len(smtp.mailbox.received) == 1
    else:  # 535 authentication failed: permanent, never re-sent
        assert (row["status"], row["attempts"]) == ("failed", 1), row["reason"]
        assert "535" in row["reason"]
        assert smtp.mailbox.received == []


class Crash(Exception):
    """The deliverer's process dies between sending and marking."""


def test_a_deliverer_killed_between_send_and_mark_resends_under_the_same_key(
    mail_app: App, clock: FakeClock, mail_db_id: int, smtp: SmtpServer
) -> None:
    start_welcome(mail_app, mail_db_id)
    import_people(mail_app, mail_db_id, [person(i) for i in (1, 2, 3)])
    mail_app.scheduler.run_due()
    keys = {r["key"] for r in outbox(mail_app)}
    assert len(keys) == 3
    crashed: list[str] = []

    def die_once(message: OutboundMessage) -> None:
        if not crashed:
            crashed.append(message.key)
            raise Crash

    channel = mail_app.deliverer.channels["email"]
    first = Deliverer(
        mail_app.store, clock, {"email": channel}, lease_seconds=60, after_send=die_once
    )
    with pytest.raises(Crash):
        first.run_once()
    # The SMTP server has the message, the outbox still has it leased, not sent.
    assert smtp.mailbox.keys() == crashed
    assert {r["status"] for r in outbox(mail_app)} == {"sending"}

    # A restarted deliverer takes the work over once the lease has run out.
    restarted = Deliverer(mail_app.store, clock, {"email": channel}, lease_seconds=60)
    assert restarted.run_once() == 0
    clock.advance(61)
    while restarted.run_once():
        pass

    received = smtp.mailbox.keys()
    assert set(received) == keys
    assert sorted(received) == sorted([*keys, crashed[0]])
    twice = [m for m in smtp.mailbox.received if str(m["X-Scenaria-Key"]) == crashed[0]]
    assert str(twice[0]["Message-ID"]) == str(twice[1]["Message-ID"]) == message_id(crashed[0])
    assert {r["status"] for r in outbox(mail_app)} == {"sent"}
