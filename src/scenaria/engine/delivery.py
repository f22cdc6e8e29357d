"""The deliverer: take outbox messages, hand them to their channel, record the answer.

A message is leased before sending and marked after, in two transactions, so
a deliverer that dies between the two leaves a lease that expires and another
deliverer re-sends under the same idempotency key. Channels whose answer a
task waits for (the API request) resume that task by ``next`` or ``error``.

Outcomes are recorded as they happen: after each wave of sends (one message at
concurrency 1) when the provider is slow, in small groups (20 messages or 0.2 s)
when it is fast, so a deliverer killed mid-batch leaves at most the messages in
flight (or that short group) to be sent again, never the whole batch. A batch
is also bounded by time (``batch_seconds``, on the injected clock and on the
monotonic clock): past it, the messages not sent yet go back to the queue,
unsent and uncounted, long before the lease lets another deliverer take them.

Any exception a channel lets out of ``send`` fails that one message for good
with the exception as its reason; the rest of the batch goes on. A message
claimed more often than the retry policy allows (its deliverers kept dying
before recording it) is given up without sending.

A channel may limit how fast a resource sends (``rate_for``): a claimed message
over the limit is put back for the moment its turn comes, not sent and not
counted as an attempt. The limit is kept per deliverer, on its injected clock:
N deliverers on one resource may together send up to N times its rate.

A circuit breaker per resource (``resource_of``, else the payload's
``resource``): after ``BreakerPolicy.failures`` consecutive connection failures
(``UnreachableError``) the resource is paused for a backoff that doubles each
time it trips again; its messages stay queued until then, not counted as
attempts. When the pause ends, the next message is the probe: a success closes
the breaker, a failure pauses it again. ``paused_resources()`` tells which are
paused and why. Like the rate limit, a breaker is kept per deliverer.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from scenaria.clock import Clock
from scenaria.engine.ports import TransactionSource
from scenaria.errors import PermanentDeliveryError, RetryableDeliveryError, UnreachableError
from scenaria.model.outbox import Outcome


@dataclass(frozen=True)
class OutboundMessage:
    key: str
    """The idempotency key (task:node:visit); providers get it to drop duplicates."""
    channel: str
    payload: dict[str, Any]
    profile_id: int
    task_id: int
    node_id: str
    attempt: int


@dataclass(frozen=True)
class DeliveryResult:
    response: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    name: str
    resumes_task: bool
    """True when the task waits (Await) for this channel's answer."""

    def send(self, message: OutboundMessage) -> DeliveryResult:
        """Deliver or raise RetryableDeliveryError / PermanentDeliveryError."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0

    def delay(self, attempt: int) -> float:
        return float(min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1)))


class RateLimiter:
    """Sliding windows, one per (channel, resource): at most ``n = ceil(rate)`` sends
    in any ``n / rate`` seconds (5/s: five a second; 0.5/s: one every two seconds),
    on the time it is given."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str], deque[float]] = {}
        """The last ``n`` send times per bucket, oldest first."""

    def take(
        self, bucket: tuple[str, str], rate: float, now: float, ahead: int = 0
    ) -> float | None:
        """None if a message may go now (and count it); else when its turn comes,
        behind ``ahead`` messages of the same bucket already put back."""
        n = max(1, math.ceil(rate - EPSILON))
        window = n / rate
        sent = self._sent.get(bucket)
        if sent is None or sent.maxlen != n:
            sent = self._sent[bucket] = deque(sent or (), maxlen=n)
        while sent and sent[0] <= now - window + EPSILON:
            sent.popleft()
        if ahead == 0 and len(sent) < n:
            sent.append(now)
            return None
        # The window is full: the k-th message waiting goes when the k-th send
        # ahead of it leaves the window (a lap of the window later per n waiting).
        turn = sent[ahead % n] + window * (ahead // n + 1)
        # Strictly later than now, or a claim at this same instant would take it again.
        return max(turn, math.nextafter(now, math.inf))


EPSILON = 1e-6
"""Float timestamps near 2**31 s carry ~1e-7 s of error: a turn that has come may
look a hair early."""

Row = dict[str, Any]
Bucket = tuple[str, str]
"""(channel, resource): what a rate limit and a circuit breaker apply to."""


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 3
    """Consecutive connection failures of one resource that pause it."""
    base_seconds: float = 30.0
    """The first pause; each time the breaker trips again it doubles."""
    cap_seconds: float = 1800.0
    """The longest pause."""


@dataclass(frozen=True)
class PausedResource:
    """A resource whose circuit breaker is open (or half-open, awaiting its probe)."""

    channel: str
    resource: str
    reason: str
    """The last connection failure."""
    until: float
    """When the next message may try it (the probe)."""
    failures: int
    """Consecutive connection failures so far."""


@dataclass
class _Breaker:
    failures: int = 0
    trips: int = 0
    until: float = 0.0
    reason: str = ""


class CircuitBreakers:
    """Consecutive connection failures per resource, on the time it is given."""

    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self._state: dict[Bucket, _Breaker] = {}
        self._lock = threading.Lock()

    def paused_until(self, bucket: Bucket, now: float) -> float | None:
        """When ``bucket`` may be tried again, if it is paused at ``now``."""
        with self._lock:
            state = self._state.get(bucket)
            if state is None or state.trips == 0 or now >= state.until:
                return None
            return state.until

    def failed(self, bucket: Bucket, now: float, reason: str) -> None:
        with self._lock:
            state = self._state.setdefault(bucket, _Breaker())
            state.failures += 1
            state.reason = reason
            if state.failures >= self.policy.failures:
                pause = self.policy.base_seconds * 2 ** min(state.trips, 32)
                state.trips += 1
                state.until = now + min(self.policy.cap_seconds, pause)

    def succeeded(self, bucket: Bucket) -> None:
        with self._lock:
            self._state.pop(bucket, None)

    def paused(self) -> list[PausedResource]:
        with self._lock:
            return [
                PausedResource(channel, resource, s.reason, s.until, s.failures)
                for (channel, resource), s in sorted(self._state.items())
                if s.trips
            ]


class Deliverer:
    def __init__(
        self,
        store: TransactionSource,
        clock: Clock,
        channels: dict[str, Channel],
        *,
        batch_size: int = 200,
        lease_seconds: float = 120.0,
        batch_seconds: float | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        concurrency: int = 1,
        after_send: Callable[[OutboundMessage], None] | None = None,
        record_every: int = 20,
        record_seconds: float = 0.2,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.clock = clock
        self.channels = channels
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.batch_seconds = batch_seconds
        """No new send starts this long after the claim (None: a quarter of the
        lease), so the sends in flight end well before the lease does."""
        self.retry = retry or RetryPolicy()
        self.concurrency = max(1, concurrency)
        """Sends in flight at once (channels must then be thread-safe)."""
        self.after_send = after_send
        """Fault injection: called between a successful send and the marking
        transaction; raising there is a deliverer dying before it records the send."""
        self.record_every = max(1, record_every)
        self.record_seconds = record_seconds
        """Outcomes are written once ``record_every`` wait, or the oldest waited
        ``record_seconds``, or at once after a wave slower than ``record_seconds /
        record_every`` (a slow provider): a kill re-sends at most what went out in
        that short while, and at most the wave in flight from a slow provider."""
        self.monotonic = monotonic
        self.limits = RateLimiter()
        self.breakers = CircuitBreakers(breaker or BreakerPolicy())

    def paused_resources(self) -> list[PausedResource]:
        """The resources this deliverer holds back after connection failures."""
        return self.breakers.paused()

    def run_once(self, stopping: Callable[[], bool] | None = None) -> int:
        """Deliver one batch of due messages; return how many were claimed.

        Once ``stopping()`` says so (a worker shutting down), or the batch's time is
        up, the messages of the batch not sent yet are put back in the queue rather
        than sent.
        """
        if not self.channels:
            return 0
        now = self.clock.now()
        started = self.monotonic()
        with self.store.transaction() as uow:
            rows = uow.outbox.claim(list(self.channels), now, self.batch_size, self.lease_seconds)
        if not rows:
            return 0
        spent = [r for r in rows if r["attempts"] > self.retry.max_attempts]
        go, later = self._admit([r for r in rows if r["attempts"] <= self.retry.max_attempts], now)
        if spent or later:
            self._record([self._give_up(r) for r in spent], later)
        budget = self.batch_seconds if self.batch_seconds is not None else self.lease_seconds / 4

        def out_of_time() -> bool:
            return (stopping is not None and stopping()) or (
                self.clock.now() - now >= budget or self.monotonic() - started >= budget
            )

        width = min(self.concurrency, len(go))
        pool = ThreadPoolExecutor(width) if width > 1 else None
        pending: list[Attempt] = []
        held: list[tuple[Row, float]] = []
        since = 0.0
        try:
            while go and not out_of_time():
                wave: list[Row] = []
                while go and len(wave) < width:
                    row = go.pop(0)
                    until = self.breakers.paused_until(self._bucket(row), self.clock.now())
                    if until is None:
                        wave.append(row)
                    else:
                        held.append((row, until))
                sending = self.monotonic()
                if not pending:
                    since = sending
                if pool is not None and len(wave) > 1:
                    pending += pool.map(self._deliver, wave)
                else:
                    pending += [self._deliver(row) for row in wave]
                done = self.monotonic()
                if (
                    done - sending >= self.record_seconds / self.record_every
                    or len(pending) >= self.record_every
                    or done - since >= self.record_seconds
                ):
                    self._record(pending, held)
                    pending, held = [], []
        finally:
            if pool is not None:
                pool.shutdown()
        self._record(pending, held + [(row, self.clock.now()) for row in go])
        return len(rows)

    def _bucket(self, row: Row) -> Bucket:
        resource_of = getattr(self.channels[row["channel"]], "resource_of", None)
        if resource_of is not None:
            return row["channel"], str(resource_of(row["payload"]))
        return row["channel"], str(row["payload"].get("resource", "default"))

    def _admit(self, rows: list[Row], now: float) -> tuple[list[Row], list[tuple[Row, float]]]:
        """Split a claim into the messages that may go now and those over their
        resource's rate limit, each with the time its turn comes."""
        go: list[Row] = []
        later: list[tuple[Row, float]] = []
        ahead: dict[Bucket, int] = {}
        for row in rows:
            rate_for = getattr(self.channels[row["channel"]], "rate_for", None)
            rate = rate_for(row["payload"]) if rate_for is not None else None
            if rate is None:
                go.append(row)
                continue
            bucket = self._bucket(row)
            turn = self.limits.take(bucket, float(rate), now, ahead.get(bucket, 0))
            if turn is None:
                go.append(row)
            else:
                ahead[bucket] = ahead.get(bucket, 0) + 1
                later.append((row, turn))
        return go, later

    def _message(self, row: Row) -> OutboundMessage:
        return OutboundMessage(
            key=row["key"],
            channel=row["channel"],
            payload=row["payload"],
            profile_id=row["profile_id"],
            task_id=row["task_id"],
            node_id=row["node_id"],
            attempt=row["attempts"],
        )

    def _give_up(self, row: Row) -> Attempt:
        """A message claimed past the attempt limit: its deliverers kept dying before
        they recorded it, so it is not sent again."""
        attempt = Attempt(
            self._message(row), row["lease_until"], self.channels[row["channel"]].resumes_task
        )
        attempt.status = Outcome.FAILED
        attempt.reason = (
            f"gave up after {self.retry.max_attempts} attempts: "
            f"the last ones ended without an outcome ({row.get('reason') or 'no reply recorded'})"
        )
        return attempt

    def _deliver(self, row: Row) -> Attempt:
        channel = self.channels[row["channel"]]
        message = self._message(row)
        bucket = self._bucket(row)
        attempt = Attempt(message, row["lease_until"], channel.resumes_task)
        try:
            attempt.response = storable(channel.send(message).response)
        except RetryableDeliveryError as exc:
            if isinstance(exc, UnreachableError):
                self.breakers.failed(bucket, self.clock.now(), str(exc))
            attempt.response = storable(exc.response)
            if message.attempt < self.retry.max_attempts:
                attempt.status = Outcome.RETRY
                attempt.reason = str(exc)
            else:
                attempt.status = Outcome.FAILED
                attempt.reason = f"gave up after {message.attempt} attempts: {exc}"
            return attempt
        except PermanentDeliveryError as exc:
            attempt.status, attempt.reason = Outcome.FAILED, str(exc)
            attempt.response = storable(exc.response)
            if exc.response is not None:  # the provider answered: it is reachable
                self.breakers.succeeded(bucket)
            return attempt
        except Exception as exc:
            # A channel bug or an input it could not handle: this message alone
            # fails, for good; re-sending the batch would not change the answer.
            attempt.status, attempt.reason = Outcome.FAILED, f"{type(exc).__name__}: {exc}"
            return attempt
        self.breakers.succeeded(bucket)
        if self.after_send is not None:
            self.after_send(message)
        return attempt

    def _record(
        self,
        attempts: list[Attempt],
        later: list[tuple[Row, float]] | None = None,
    ) -> None:
        """Write outcomes in one transaction, skipping messages whose lease expired
        meanwhile (another deliverer owns them now)."""
        now = self.clock.now()
        later = later or []
        if not attempts and not later:
            return
        with self.store.transaction() as uow:
            leases = {a.message.key: a.lease for a in attempts}
            leases.update({row["key"]: row["lease_until"] for row, _ in later})
            ours = uow.outbox.still_leased(leases)
            uow.outbox.defer_many(
                [
                    {"_key": row["key"], "next_attempt_at": turn}
                    for row, turn in later
                    if row["key"] in ours
                ]
            )
            mine = [a for a in attempts if a.message.key in ours]
            uow.outbox.retry_many(
                [
                    {
                        "_key": a.message.key,
                        "reason": a.reason,
                        "next_attempt_at": now + self.retry.delay(a.message.attempt),
                    }
                    for a in mine
                    if a.status is Outcome.RETRY
                ]
            )
            done = [a for a in mine if a.status is not Outcome.RETRY]
            uow.outbox.finish_many(
                [
                    {
                        "_key": a.message.key,
                        "status": a.status.value,
                        "reason": a.reason,
                        "response": a.response,
                        "sent_at": now if a.status is Outcome.SENT else None,
                    }
                    for a in done
                ]
            )
            waiting = [a for a in done if a.resumes]
            if not waiting:
                return
            tasks = uow.tasks.get_many([a.message.task_id for a in waiting])
            resumes = []
            for a in waiting:
                task = tasks.get(a.message.task_id)
                if task is None:
                    continue
                data = {**task.data, "api_response": a.response}
                if a.status is Outcome.FAILED:
                    data["resume_error"] = a.reason or "request failed"
                port = "next" if a.status is Outcome.SENT else "error"
                resumes.append({"_id": task.id, "port": port, "due_at": now, "data": data})
            uow.tasks.resume_many(resumes)


INT64 = 2**63


def storable(value: Any) -> Any:
    """An outside answer as the store keeps it: integers beyond 64 bits become strings
    and text that is not valid Unicode is repaired, so one odd answer cannot wedge a
    batch of deliveries."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -INT64 <= value < INT64 else str(value)
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {storable(str(k)): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    return storable(str(value))


@dataclass
class Attempt:
    """One send and its outcome, waiting to be recorded."""

    message: OutboundMessage
    lease: float
    resumes: bool
    status: Outcome = Outcome.SENT
    reason: str | None = None
    response: dict[str, Any] | None = None
