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
        batch_size: int = 50,
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
        for row in rows:
            self._deliver(row)
        return len(rows)

    def _deliver(self, row: dict[str, Any]) -> None:
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
        status, reason, response = "sent", None, None
        try:
            response = channel.send(message).response
        except RetryableDeliveryError as exc:
            if message.attempt < self.retry.max_attempts:
                at = self.clock.now() + self.retry.delay(message.attempt)
                with self.store.transaction() as uow:
                    uow.outbox.retry_later(message.key, at, str(exc))
                return
            status, reason = "failed", f"gave up after {message.attempt} attempts: {exc}"
        except PermanentDeliveryError as exc:
            status, reason = "failed", str(exc)
            response = getattr(exc, "response", None)
        now = self.clock.now()
        with self.store.transaction() as uow:
            if not uow.outbox.finish(message.key, status, now, reason, response):
                return  # our lease expired and another deliverer took the message over
            if channel.resumes_task:
                task = uow.tasks.get(message.task_id)
                data = dict(task.data)
                data["api_response"] = response
                if status == "failed":
                    data["resume_error"] = reason or "request failed"
                uow.tasks.set_resume(
                    message.task_id, "next" if status == "sent" else "error", now, data
                )
