"""The deliverer: take outbox messages, hand them to their channel, record the answer.

A message is leased before sending and marked after, in two transactions, so
a deliverer that dies between the two leaves a lease that expires and another
deliverer re-sends under the same idempotency key. Channels whose answer a
task waits for (the API request) resume that task by ``next`` or ``error``.

A channel may limit how fast a resource sends (``rate_for``): a claimed message
over the limit is put back for the moment its turn comes, not sent and not
counted as an attempt. The limit is kept per deliverer, on its injected clock:
N deliverers on one resource may together send up to N times its rate.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from scenaria.clock import Clock
from scenaria.engine.ports import TransactionSource
from scenaria.errors import PermanentDeliveryError, RetryableDeliveryError


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


class Deliverer:
    def __init__(
        self,
        store: TransactionSource,
        clock: Clock,
        channels: dict[str, Channel],
        *,
        batch_size: int = 200,
        lease_seconds: float = 120.0,
        retry: RetryPolicy | None = None,
        concurrency: int = 1,
        after_send: Callable[[OutboundMessage], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.channels = channels
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.retry = retry or RetryPolicy()
        self.concurrency = max(1, concurrency)
        """Sends in flight at once (channels must then be thread-safe)."""
        self.after_send = after_send
        """Fault injection: called between a successful send and the marking
        transaction; raising there is a deliverer dying before it records the send."""
        self.limits = RateLimiter()

    def run_once(self, stopping: Callable[[], bool] | None = None) -> int:
        """Deliver one batch of due messages; return how many were claimed.

        Once ``stopping()`` says so (a worker shutting down), the messages of the
        batch not sent yet are put back in the queue rather than sent.
        """
        if not self.channels:
            return 0
        now = self.clock.now()
        with self.store.transaction() as uow:
            rows = uow.outbox.claim(list(self.channels), now, self.batch_size, self.lease_seconds)
        if not rows:
            return 0
        go, later = self._admit(rows, now)

        def deliver(row: dict[str, Any]) -> Attempt | None:
            if stopping is not None and stopping():
                return None
            return self._deliver(row)

        if self.concurrency > 1 and len(go) > 1:
            with ThreadPoolExecutor(min(self.concurrency, len(go))) as pool:
                results = list(pool.map(deliver, go))
        else:
            results = [deliver(row) for row in go]
        attempts = [a for a in results if a is not None]
        later += [(row, now) for row, a in zip(go, results, strict=True) if a is None]
        self._record(attempts, later)
        return len(rows)

    def _admit(
        self, rows: list[dict[str, Any]], now: float
    ) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], float]]]:
        """Split a claim into the messages that may go now and those over their
        resource's rate limit, each with the time its turn comes."""
        go: list[dict[str, Any]] = []
        later: list[tuple[dict[str, Any], float]] = []
        ahead: dict[tuple[str, str], int] = {}
        for row in rows:
            rate_for = getattr(self.channels[row["channel"]], "rate_for", None)
            rate = rate_for(row["payload"]) if rate_for is not None else None
            if rate is None:
                go.append(row)
                continue
            bucket = (row["channel"], str(row["payload"].get("resource", "default")))
            turn = self.limits.take(bucket, float(rate), now, ahead.get(bucket, 0))
            if turn is None:
                go.append(row)
            else:
                ahead[bucket] = ahead.get(bucket, 0) + 1
                later.append((row, turn))
        return go, later

    def _deliver(self, row: dict[str, Any]) -> Attempt:
        channel = self.channels[row["channel"]]
        message = OutboundMessage(
            key=row["key"],
            channel=row["channel"],
            payload=row["payload"],
            profile_id=row["profile_id"],
            task_id=row["task_id"],
            node_id=row["node_id"],
            attempt=row["attempts"],
        )
        attempt = Attempt(message, row["lease_until"], channel.resumes_task)
        try:
            attempt.response = storable(channel.send(message).response)
            if self.after_send is not None:
                self.after_send(message)
        except RetryableDeliveryError as exc:
            attempt.response = storable(exc.response)
            if message.attempt < self.retry.max_attempts:
                attempt.status = "retry"
                attempt.reason = str(exc)
            else:
                attempt.status = "failed"
                attempt.reason = f"gave up after {message.attempt} attempts: {exc}"
        except PermanentDeliveryError as exc:
            attempt.status, attempt.reason = "failed", str(exc)
            attempt.response = storable(exc.response)
        return attempt

    def _record(
        self,
        attempts: list[Attempt],
        later: list[tuple[dict[str, Any], float]] | None = None,
    ) -> None:
        """Write a batch's outcomes in one transaction, skipping messages whose lease
        expired meanwhile (another deliverer owns them now)."""
        now = self.clock.now()
        later = later or []
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
                    if a.status == "retry"
                ]
            )
            done = [a for a in mine if a.status != "retry"]
            uow.outbox.finish_many(
                [
                    {
                        "_key": a.message.key,
                        "status": a.status,
                        "reason": a.reason,
                        "response": a.response,
                        "sent_at": now if a.status == "sent" else None,
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
                if a.status == "failed":
                    data["resume_error"] = a.reason or "request failed"
                port = "next" if a.status == "sent" else "error"
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
    status: str = "sent"
    """sent, failed, or retry."""
    reason: str | None = None
    response: dict[str, Any] | None = None
