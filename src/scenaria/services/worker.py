"""The worker: advance due tasks and deliver due messages until told to stop.

``scenaria worker`` runs one in its own process; any number of them may share one
PostgreSQL database, each claiming disjoint batches (``FOR UPDATE SKIP LOCKED``),
with nothing of the work held only in its memory. ``scenaria serve`` runs one in
a thread next to the API (the embedded SQLite default).

Stopping (SIGTERM or SIGINT in a worker process) lets the batch in hand end
cleanly: the scheduler's batch commits, the deliverer's messages sent so far are
recorded and the rest of its batch goes back to the queue.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from scenaria.services.app import App

log = logging.getLogger(__name__)


@dataclass
class WorkDone:
    """What a worker claimed so far."""

    task_batches: int = 0
    tasks: int = 0
    messages: int = 0
    failed_batches: int = 0


class Worker:
    """Runs the scheduler and the deliverer in turns; sleeps ``idle_seconds`` when
    nothing is due."""

    def __init__(
        self,
        app: App,
        idle_seconds: float = 0.2,
        *,
        schedule: bool = True,
        deliver: bool = True,
    ) -> None:
        self.app = app
        self.idle_seconds = idle_seconds
        self.schedule = schedule
        self.deliver = deliver
        self.done = WorkDone()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Finish the batch in hand, then return from :meth:`run`."""
        self._stop.set()

    def run_once(self) -> int:
        """One scheduler batch and one deliverer batch; returns how many tasks and
        messages were claimed."""
        moved = 0
        if self.schedule:
            tasks = self.app.scheduler.run_batch()
            if tasks:
                self.done.task_batches += 1
                self.done.tasks += tasks
            moved += tasks
        if self.deliver and not self.stopping:
            messages = self.app.deliverer.run_once(lambda: self.stopping)
            self.done.messages += messages
            moved += messages
        return moved

    def run(self) -> None:
        while not self.stopping:
            try:
                moved = self.run_once()
            except Exception:  # a failed batch rolled back; its tasks stay due
                log.exception("worker batch failed; retrying")
                self.done.failed_batches += 1
                moved = 0
            if moved == 0:
                self._end_stale_batches()
                self._stop.wait(self.idle_seconds)

    def _end_stale_batches(self) -> None:
        try:
            ended = self.app.store.end_stale_batches()
        except Exception:
            log.exception("could not look for hung workers")
            return
        if ended:
            log.warning("ended %d hung worker transaction(s); their batches are free again", ended)

    def start(self) -> None:
        """Run in a background thread (next to the API server)."""
        self._thread = threading.Thread(target=self.run, name="scenaria-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop after its current batch, and wait for it."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def stop_on_signals(self) -> None:
        """SIGTERM and SIGINT ask the worker to stop (call from the main thread)."""

        def handle(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %s: stopping after the batch in hand", signum)
            self.request_stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def hold(self, marker: Path) -> Callable[[Any], None]:
        """A fault hook for tests of worker processes: the first time it is called,
        write ``marker`` (this process's id) and wait until the worker is asked to
        stop, so a test can kill or stop it at a known point of a batch."""
        held = threading.Event()

        def hook(_what: Any) -> None:
            if held.is_set():
                return
            held.set()
            partial = marker.with_name(f".{marker.name}.partial")
            partial.write_text(str(os.getpid()), encoding="ascii")
            os.replace(partial, marker)
            while not self._stop.wait(0.05):
                pass

        return hook
