"""The deliverer's guarantees: a crash between send and mark re-sends under the same
key, several deliverers send each key exactly once, a rate limit is honoured."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from scenaria.channels.resources import SmsResource
from scenaria.channels.sms_http import HttpSmsChannel
from scenaria.clock import FakeClock
from scenaria.engine.delivery import (
    Channel,
    Deliverer,
    DeliveryResult,
    OutboundMessage,
    RateLimiter,
)
from scenaria.services.app import App, Config
from scenaria.store.database import Store
from tests.conftest import HttpSink


class RecordingChannel:
    """An in-process SMS provider: records every key it is handed, and when."""

    name = "sms"
    resumes_task = False

    def __init__(self, clock: FakeClock, rate: float | None = None) -> None:
        self.clock = clock
        self.rate = rate
        self.sent: list[tuple[str, float]] = []
        self.lock = threading.Lock()

    def rate_for(self, payload: dict[str, Any]) -> float | None:
        return self.rate

    def send(self, message: OutboundMessage) -> DeliveryResult:
        with self.lock:
            self.sent.append((message.key, self.clock.now()))
        return DeliveryResult({"id": f"p-{message.key}"})

    def close(self) -> None:
        pass


class Crash(Exception):
    """The deliverer process dies."""


def queue_sms(store: Store, clock: FakeClock, count: int) -> list[str]:
    """``count`` SMS outbox rows, due now; returns their keys."""
    keys = [f"{i}:reminder_sms:1" for i in range(1, count + 1)]
    rows = [
        {
            "key": key,
            "task_id": i,
            "scenario_id": 1,
            "node_id": "reminder_sms",
            "profile_id": i,
            "channel": "sms",
            "payload": {
                "to": f"+1555{i:07d}",
                "sender": "Shop",
                "resource": "default",
                "text": "Hi",
            },
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": clock.now(),
            "created_at": clock.now(),
        }
        for i, key in enumerate(keys, start=1)
    ]
    with store.transaction() as tx:
        tx.outbox.insert_many(rows)
    return keys


def rows(store: Store) -> dict[str, dict[str, Any]]:
    with store.read() as tx:
        return {r["key"]: r for r in tx.outbox.all("sms")}


def drain(deliverer: Deliverer, clock: FakeClock) -> None:
    """Run the deliverer, jumping the clock to each next attempt, until nothing is due."""
    for _ in range(10_000):
        while deliverer.run_once():
            pass
        with deliverer.store.transaction() as tx:
            upcoming = tx.outbox.next_attempt(["sms"])  # type: ignore[attr-defined]
        if upcoming is None:
            return
        clock.advance_to(upcoming)
    raise AssertionError("the outbox did not drain")


def gateway(url: str) -> HttpSmsChannel:
    return HttpSmsChannel({"default": SmsResource(url=f"{url}/sms")})


def test_a_crash_between_send_and_mark_resends_under_the_same_key(
    store: Store, clock: FakeClock, http_sink: HttpSink
) -> None:
    keys = queue_sms(store, clock, 5)
    crashed: list[str] = []

    def die_once(message: OutboundMessage) -> None:
        if not crashed:
            crashed.append(message.key)
            raise Crash

    channels: dict[str, Channel] = {"sms": gateway(http_sink.url)}
    first = Deliverer(store, clock, channels, lease_seconds=60, after_send=die_once)
    with pytest.raises(Crash):
        first.run_once()

    # It reached the gateway, but the outbox still holds it leased, not sent.
    assert [r["headers"]["Idempotency-Key"] for r in http_sink.requests] == crashed
    leased = rows(store)
    assert {r["status"] for r in leased.values()} == {"sending"}
    # Before the lease runs out nobody else takes the messages.
    second = Deliverer(store, clock, {"sms": gateway(http_sink.url)}, lease_seconds=60)
    assert second.run_once() == 0
    clock.advance(61)
    drain(second, clock)

    received = [r["headers"]["Idempotency-Key"] for r in http_sink.requests]
    assert set(received) == set(keys)
    # The crashed one went twice under its one key (a deduplicating provider
    # delivers it once), and its body carries the same reference both times.
    assert Counter(received) == {key: 2 if key in crashed else 1 for key in keys}
    bodies = [b for b in http_sink.json_bodies() if b["reference"] == crashed[0]]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    final = rows(store)
    assert {r["status"] for r in final.values()} == {"sent"}
    assert final[crashed[0]]["attempts"] == 2


def test_two_deliverers_on_one_outbox_send_each_key_exactly_once(
    tmp_path: Path, clock: FakeClock, http_sink: HttpSink
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    setup = Store(url)
    setup.create_all()
    keys = queue_sms(setup, clock, 500)
    setup.dispose()

    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work() -> None:
        try:
            channels: dict[str, Channel] = {"sms": gateway(http_sink.url)}
            with App(Config(), clock=clock, store=Store(url), channels=channels) as app:
                app.deliverer.batch_size = 25
                start.wait()
                while app.deliverer.run_once():
                    pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []

    received = Counter(r["headers"]["Idempotency-Key"] for r in http_sink.requests)
    assert len(received) == 500 and set(received) == set(keys)
    assert set(received.values()) == {1}
    check = Store(url)
    try:
        final = rows(check)
    finally:
        check.dispose()
    assert {(r["status"], r["attempts"]) for r in final.values()} == {("sent", 1)}


def test_a_rate_limit_sends_at_most_rate_per_second_and_the_rest_later(
    store: Store, clock: FakeClock
) -> None:
    keys = queue_sms(store, clock, 12)
    channel = RecordingChannel(clock, rate=5)
    deliverer = Deliverer(store, clock, {"sms": channel})
    start = clock.now()

    assert deliverer.run_once() == 12
    assert len(channel.sent) == 5
    waiting = [r for r in rows(store).values() if r["status"] == "queued"]
    assert len(waiting) == 7
    # Put back, not failed, and the claim is not counted as an attempt.
    assert all(r["next_attempt_at"] > start and r["attempts"] == 0 for r in waiting)
    # Nothing more goes at this same instant.
    assert deliverer.run_once() == 0 and len(channel.sent) == 5

    drain(deliverer, clock)
    assert sorted(k for k, _ in channel.sent) == sorted(keys)
    times = [t for _, t in channel.sent]
    for t in times:
        assert sum(1 for u in times if t <= u < t + 1 - 1e-6) <= 5
    assert max(times) - start < 3
    assert {r["status"] for r in rows(store).values()} == {"sent"}


def test_the_resource_rate_comes_from_the_sms_channel(
    store: Store, clock: FakeClock, http_sink: HttpSink
) -> None:
    queue_sms(store, clock, 4)
    channel = HttpSmsChannel({"default": SmsResource(url=http_sink.url, rate_per_second=2)})
    deliverer = Deliverer(store, clock, {"sms": channel})
    deliverer.run_once()
    assert len(http_sink.requests) == 2
    clock.advance(1)
    deliverer.run_once()
    assert len(http_sink.requests) == 4


@pytest.mark.parametrize("rate", [0.5, 2.5, 5, 100])
def test_the_limiter_never_exceeds_its_rate(rate: float) -> None:
    limiter = RateLimiter()
    now = 1_767_225_600.0
    pending = list(range(300))
    sent: list[float] = []
    due: list[tuple[float, int]] = [(now, i) for i in pending]
    while due:
        now = min(t for t, _ in due)
        ready = [i for t, i in due if t <= now]
        due = [(t, i) for t, i in due if t > now]
        ahead = 0
        for i in ready:
            turn = limiter.take(("sms", "default"), rate, now, ahead)
            if turn is None:
                sent.append(now)
            else:
                assert turn > now
                ahead += 1
                due.append((turn, i))
    assert len(sent) == 300
    n = max(1, -(-rate // 1))
    window = n / rate
    for t in sent:
        assert sum(1 for u in sent if t <= u < t + window - 1e-6) <= n
    # and it is not much slower than the rate either
    assert sent[-1] - sent[0] <= 300 / rate + window
