"""Clocks: time is injected so a one-day pause is testable in milliseconds.

Timestamps are float seconds since the Unix epoch (UTC) everywhere inside the
engine and store; only the edges (CLI, API) turn them into dates.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

Timestamp = float
DAY = 86400.0


class Clock(Protocol):
    def now(self) -> Timestamp: ...


class SystemClock:
    """Wall-clock time, for production."""

    def now(self) -> Timestamp:
        return time.time()


class FakeClock:
    """A clock that moves only when told to, for tests and demos."""

    def __init__(self, start: Timestamp = 1_767_225_600.0) -> None:  # 2026-01-01T00:00Z
        self._now = start

    def now(self) -> Timestamp:
        return self._now

    def advance(self, seconds: float) -> Timestamp:
        if seconds < 0:
            raise ValueError("a clock does not run backwards")
        self._now += seconds
        return self._now

    def advance_to(self, when: Timestamp) -> Timestamp:
        self._now = max(self._now, when)
        return self._now


def to_datetime(ts: Timestamp) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def day_of(ts: Timestamp) -> int:
    """The UTC day number a timestamp falls in; statistics are bucketed by it."""
    return int(ts // DAY)
