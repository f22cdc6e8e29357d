"""Clocks: time is injected so a one-day pause is testable in milliseconds.

Timestamps are float seconds since the Unix epoch (UTC) everywhere inside the
engine and store; only the edges (CLI, API) turn them into dates.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
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


class FileClock:
    """A fake clock shared by processes: the current instant is the number in a file.

    Tests of worker processes advance it from outside (``advance``/``advance_to``
    in the test, ``now`` in every worker); each move replaces the file at once, so
    a reader never sees half a number.
    """

    def __init__(self, path: Path | str, start: Timestamp | None = None) -> None:
        self.path = Path(path)
        if start is not None:
            self.set(start)

    def now(self) -> Timestamp:
        return float(self.path.read_text(encoding="ascii"))

    def set(self, when: Timestamp) -> Timestamp:
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        partial.write_text(repr(float(when)), encoding="ascii")
        os.replace(partial, self.path)
        return when

    def advance(self, seconds: float) -> Timestamp:
        if seconds < 0:
            raise ValueError("a clock does not run backwards")
        return self.set(self.now() + seconds)

    def advance_to(self, when: Timestamp) -> Timestamp:
        return self.set(max(self.now(), when))


def to_datetime(ts: Timestamp) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def day_of(ts: Timestamp) -> int:
    """The UTC day number a timestamp falls in; statistics are bucketed by it."""
    return int(ts // DAY)
