"""SMTP delivery under trouble, against real aiosmtpd servers: internationalised
addresses, a server slower than the lease, and a server that drops every connection
(the circuit breaker)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from scenaria.channels.email_smtp import SmtpChannel
from scenaria.channels.resources import EmailResource
from scenaria.clock import FakeClock
from scenaria.engine.delivery import Channel, Deliverer
from scenaria.store.database import Store
from tests.integration.test_email_smtp import Mailbox, free_port


def queue_email(store: Store, clock: FakeClock, addresses: list[str]) -> list[str]:
    """One outbox email per address, due now; returns their keys."""
    keys = [f"{i}:mail:1" for i in range(1, len(addresses) + 1)]
    rows = [
        {
            "key": key,
            "task_id": i,
            "scenario_id": 1,
            "node_id": "mail",
            "profile_id": i,
            "channel": "email",
            "payload": {"to": to, "resource": "default", "subject": "Grüße", "text": "Hallo"},
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": clock.now(),
            "created_at": clock.now(),
        }
        for i, (key, to) in enumerate(zip(keys, addresses, strict=True), start=1)
    ]
    with store.transaction() as tx:
        tx.outbox.insert_many(rows)
    return keys


def outbox(store: Store) -> dict[str, dict[str, Any]]:
    with store.read() as tx:
        return {r["key"]: r for r in tx.outbox.all("email")}


Mailer = Callable[..., Deliverer]


@pytest.fixture
def mailer(store: Store, clock: FakeClock) -> Iterator[Mailer]:
    """``mailer(port, **options)``: a deliverer with the SMTP channel to that port."""
    made: list[Deliverer] = []

    def make(port: int, **options: Any) -> Deliverer:
        resource = EmailResource(
            sender_address="shop@example.com", smtp_port=port, timeout_seconds=5
        )
        channel = SmtpChannel({"default": resource}, "http://t", b"s")
        channels: dict[str, Channel] = {"email": channel}
        made.append(Deliverer(store, clock, channels, **options))
        return made[-1]

    yield make
    for deliverer in made:
        for channel in deliverer.channels.values():
            channel.close()


def run_twice_over_leases(deliverer: Deliverer, clock: FakeClock) -> None:
    for _ in range(2):
        while deliverer.run_once():
            pass
        clock.advance(deliverer.lease_seconds + 1)


@pytest.fixture
def utf8_mailbox() -> Iterator[Mailbox]:
    mailbox = Mailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, enable_SMTPUTF8=True)
    controller.start()
    yield mailbox
    controller.stop()


@pytest.fixture
def ascii_mailbox() -> Iterator[Mailbox]:
    mailbox = Mailbox(port=free_port())
    # aiosmtpd's Controller offers SMTPUTF8 unless told not to.
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, enable_SMTPUTF8=False)
    controller.start()
    yield mailbox
    controller.stop()


ADDRESSES = ["ann@example.com", "bü@example.com", "carl@bücher.example"]


def test_a_non_ascii_address_goes_with_smtputf8_when_the_server_offers_it(
    store: Store, clock: FakeClock, utf8_mailbox: Mailbox, mailer: Mailer
) -> None:
    keys = queue_email(store, clock, ADDRESSES)
    run_twice_over_leases(mailer(utf8_mailbox.port), clock)

    assert Counter(utf8_mailbox.keys()) == dict.fromkeys(keys, 1)
    recipients = sorted(to for _, tos in utf8_mailbox.envelopes for to in tos)
    assert recipients == ["ann@example.com", "bü@example.com", "carl@xn--bcher-kva.example"]
    assert {r["status"] for r in outbox(store).values()} == {"sent"}


def test_a_non_ascii_address_fails_alone_and_for_good_without_smtputf8(
    store: Store, clock: FakeClock, ascii_mailbox: Mailbox, mailer: Mailer
) -> None:
    keys = queue_email(store, clock, ADDRESSES)
    run_twice_over_leases(mailer(ascii_mailbox.port), clock)

    bad = keys[1]
    assert Counter(ascii_mailbox.keys()) == {k: 1 for k in keys if k != bad}
    final = outbox(store)
    assert (final[bad]["status"], final[bad]["attempts"]) == ("failed", 1)
    assert "bü@example.com" in final[bad]["reason"] and "SMTPUTF8" in final[bad]["reason"]
    assert {final[k]["status"] for k in keys if k != bad} == {"sent"}
    # Non-ASCII header text went as RFC 2047 encoded words, and reads back whole.
    assert {str(m["Subject"]) for m in ascii_mailbox.received} == {"Grüße"}


class SlowMailbox(Mailbox):
    """Accepts each message after a pause that, on the engine's clock, is longer
    than a batch may run: a slow server. One message at a time, so the clock moves
    by the pause once per message whoever sends it."""

    def __init__(self, port: int, clock: FakeClock, seconds: float) -> None:
        super().__init__(port=port)
        self.clock = clock
        self.seconds = seconds
        self.one_at_a_time = asyncio.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        async with self.one_at_a_time:
            await asyncio.sleep(0.05)
            self.clock.advance(self.seconds)
            return await super().handle_DATA(server, session, envelope)


def test_a_batch_slower_than_its_lease_delivers_nothing_twice(
    store: Store, clock: FakeClock, mailer: Mailer
) -> None:
    mailbox = SlowMailbox(free_port(), clock, seconds=50)
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        keys = queue_email(store, clock, [f"user{i}@example.com" for i in range(10)])
        first = mailer(mailbox.port, lease_seconds=120)
        second = mailer(mailbox.port, lease_seconds=120)
        done = threading.Event()
        errors: list[BaseException] = []

        def rival() -> None:
            try:
                while not done.is_set():
                    second.run_once()
                    time.sleep(0.01)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=rival)
        thread.start()
        try:
            for _ in range(100):
                first.run_once()
                if all(r["status"] == "sent" for r in outbox(store).values()):
                    break
        finally:
            done.set()
            thread.join(30)
        assert errors == []
    finally:
        controller.stop()

    assert Counter(mailbox.keys()) == dict.fromkeys(keys, 1)
    assert {r["status"] for r in outbox(store).values()} == {"sent"}


class DroppingServer:
    """Accepts TCP connections and closes them at once: an SMTP server that is down
    behind a load balancer. Counts the connections."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def stop(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


def test_a_dead_server_costs_a_few_connections_not_one_per_message(
    store: Store, clock: FakeClock, mailer: Mailer
) -> None:
    server = DroppingServer()
    keys = queue_email(store, clock, [f"user{i}@example.com" for i in range(200)])
    deliverer = mailer(server.port)
    failures = deliverer.breakers.policy.failures
    start = clock.now()

    assert deliverer.run_once() == 200
    assert server.connections == failures
    rows = outbox(store)
    assert Counter((r["status"], r["attempts"]) for r in rows.values()) == {
        ("queued", 1): failures,
        ("queued", 0): 200 - failures,
    }
    [paused] = deliverer.paused_resources()
    assert (paused.channel, paused.resource, paused.failures) == ("email", "default", failures)
    assert "unreachable" in paused.reason
    assert paused.until == start + deliverer.breakers.policy.base_seconds
    assert all(r["next_attempt_at"] >= paused.until for r in rows.values())

    # While it is paused, nothing is tried.
    clock.advance_to(paused.until - 1)
    assert deliverer.run_once() == 0
    # Half-open: one probe; it fails, and the pause doubles.
    clock.advance_to(paused.until)
    deliverer.run_once()
    assert server.connections == failures + 1
    [again] = deliverer.paused_resources()
    assert again.until == clock.now() + 2 * deliverer.breakers.policy.base_seconds

    # The server comes back: the next probe succeeds, the breaker closes, all go.
    server.stop()
    mailbox = Mailbox(port=server.port)
    controller = Controller(mailbox, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        clock.advance_to(again.until)
        while deliverer.run_once():
            pass
    finally:
        controller.stop()
    assert deliverer.paused_resources() == []
    assert Counter(mailbox.keys()) == dict.fromkeys(keys, 1)
    assert {r["status"] for r in outbox(store).values()} == {"sent"}
