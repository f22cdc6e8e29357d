"""The deliverer: take outbox messages, hand them to their channel, record the answer.

A message is leased before sending and marked after, in two transactions, so
a deliverer that dies between the two leaves a lease that expires and another
deliverer re-sends under the same idempotency key. Channels whose answer a
task waits for (the API request) resume that task by ``next`` or ``error``.
"""

from __future__ import annotations

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
    ) -> None:
        self.store = store
        self.clock = clock
        self.channels = channels
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.retry = retry or RetryPolicy()

    def run_once(self) -> int:
        """Deliver one batch of due messages; return how many were attempted."""
        if not self.channels:
            return 0
        with self.store.transaction() as uow:
            rows = uow.outbox.claim(
                list(self.channels), self.clock.now(), self.batch_size, self.lease_seconds
            )
        if rows:
            self._record([self._deliver(row) for row in rows])
        return len(rows)

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

    def _record(self, attempts: list[Attempt]) -> None:
        """Write a batch's outcomes in one transaction, skipping messages whose lease
        expired meanwhile (another deliverer owns them now)."""
        now = self.clock.now()
        with self.store.transaction() as uow:
            ours = uow.outbox.still_leased({a.message.key: a.lease for a in attempts})
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
