"""The life of an outbox message, as the store records it and every layer reads it.

queued ──claim──▶ sending ──▶ sent | failed
   ▲                 │
   └──retry / put back (rate limit, breaker, stop)
skipped: written final (no subscription), never sent
"""

from __future__ import annotations

from enum import StrEnum


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    """Waiting for its time: new, a retry, or put back unsent."""
    SENDING = "sending"
    """Leased to a deliverer; back in the queue if the lease runs out."""
    SENT = "sent"
    """The provider accepted it."""
    FAILED = "failed"
    """Given up: a permanent refusal, or out of attempts."""
    SKIPPED = "skipped"
    """Never sent: the profile could not receive it (no subscription, no address)."""


FINAL_STATUSES = frozenset({OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.SKIPPED})


class Outcome(StrEnum):
    """What one delivery attempt ended with, before it is recorded."""

    SENT = "sent"
    FAILED = "failed"
    RETRY = "retry"
    """Queued again for a later attempt."""
