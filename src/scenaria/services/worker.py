"""The worker: advance due tasks and deliver due messages until told to stop.

``scenaria worker`` runs one in its own process; any number of them may share one
PostgreSQL database, each claiming disjoint batches (``FOR UPDATE SKIP LOCKED``),
with nothing of the work held only in its memory. ``scenaria serve`` runs one in
threads next to the API (the embedded SQLite default).

The scheduler and the deliverer are two loops, each in its own thread with its own
transactions and its own idle sleep, so a provider that hangs holds up its own
messages only: due tasks keep moving.

A supervisor (the caller's thread in ``scenaria worker``, a thread of its own in
``scenaria serve``) restarts a loop whose thread died of an exception no batch
may catch (``MemoryError``, any ``BaseException``), after a growing delay, with
an error in the log and a count in :meth:`Worker.status` — which ``/readyz``
reports, not ready until the restarted loop has completed a pass.

Stopping (SIGTERM or SIGINT in a worker process) lets the batch in hand end
cleanly: the scheduler's batch commits, the deliverer's messages sent so far are
recorded and the rest of its batch goes back to the queue.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Any

from scenaria.services.app import App

log = logging.getLogger(__name__)

Monotonic = Callable[[], float]


@dataclass
class WorkDone:
    """What a worker claimed so far (its loops count from their own threads)."""

    task_batches: int = 0
    tasks: int = 0
    messages: int = 0
    failed_batches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(
        self, *, task_batches: int = 0, tasks: int = 0, messages: int = 0, failed_batches: int = 0
    ) -> None:
        with self._lock:
            self.task_batches += task_batches
            self.tasks += tasks
            self.messages += messages
            self.failed_batches += failed_batches


class LoopState(StrEnum):
    RUNNING = "running"
    """Alive, and has completed a pass since it last died (if it ever did)."""
    STARTING = "starting"
    """Not started yet."""
    RESTARTING = "restarting"
    """Restarted after its thread died, no pass completed since."""
    DEAD = "dead"
    """Its thread died; the supervisor restarts it after a delay."""
    STOPPED = "stopped"
    """Asked to stop (the worker is shutting down)."""


@dataclass(frozen=True)
class LoopStatus:
    """One engine loop as the supervisor sees it."""

    name: str
    """scheduler or deliverer."""
    state: LoopState
    alive: bool
    """Its thread is running."""
    restarts: int
    """Times the supervisor restarted it after its thread died."""
    last_pass_seconds_ago: float | None
    """Since its last completed pass (a batch or an idle poll); None before the first."""
    last_error: str | None
    """The type of the exception its thread last died of (never its text: no data leaks)."""


class Loop:
    """One engine loop in its own thread: ``step`` until stopped, sleeping
    ``idle_seconds`` whenever a step found nothing to do."""

    def __init__(
        self,
        name: str,
        step: Callable[[], int],
        *,
        stop: threading.Event,
        done: WorkDone,
        idle_seconds: float,
        when_idle: Callable[[], None] | None = None,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.name = name
        self.step = step
        self.stop = stop
        self.done = done
        self.idle_seconds = idle_seconds
        self.when_idle = when_idle
        self.monotonic = monotonic
        self.thread: threading.Thread | None = None
        self.restarts = 0
        self.deaths_in_a_row = 0
        """Deaths since it last completed a pass: the supervisor's backoff grows with it."""
        self.died_at: float | None = None
        self.last_pass: float | None = None
        self.last_error: str | None = None

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"scenaria-{self.name}", daemon=True)
        self.thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                moved = self._step()
                self.last_pass = self.monotonic()
                self.deaths_in_a_row = 0
                if moved == 0:
                    if self.when_idle is not None:
                        self.when_idle()
                    self.stop.wait(self.idle_seconds)
        except BaseException as exc:
            # The thread ends here; the supervisor sees it dead and restarts it.
            self.died_at = self.monotonic()
            self.deaths_in_a_row += 1
            self.last_error = type(exc).__name__
            try:
                log.critical("the %s thread died", self.name, exc_info=True)
            except BaseException:  # out of memory even to log: the status still says it
                pass

    def _step(self) -> int:
        try:
            return self.step()
        except MemoryError:
            raise  # the process is in trouble: not a batch to retry in place
        except Exception:  # a failed batch rolled back; its work stays due
            log.exception("%s batch failed; retrying", self.name)
            self.done.add(failed_batches=1)
            return 0

    def status(self) -> LoopStatus:
        alive = self.alive
        last = self.last_pass
        if self.stop.is_set():
            state = LoopState.STOPPED
        elif alive:
            state = LoopState.RESTARTING if self.deaths_in_a_row else LoopState.RUNNING
        else:
            state = LoopState.DEAD if self.died_at is not None else LoopState.STARTING
        return LoopStatus(
            name=self.name,
            state=state,
            alive=alive,
            restarts=self.restarts,
            last_pass_seconds_ago=None if last is None else max(0.0, self.monotonic() - last),
            last_error=self.last_error,
        )


class Worker:
    """The scheduler and the deliverer, each in its own thread, and their supervisor."""

    def __init__(
        self,
        app: App,
        idle_seconds: float = 0.2,
        *,
        schedule: bool = True,
        deliver: bool = True,
        restart_seconds: float = 1.0,
        max_restart_seconds: float = 60.0,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        """A loop that died is restarted ``restart_seconds`` later, the delay doubling
        with each death in a row up to ``max_restart_seconds``."""
        self.app = app
        self.idle_seconds = idle_seconds
        self.schedule = schedule
        self.deliver = deliver
        self.restart_seconds = restart_seconds
        self.max_restart_seconds = max_restart_seconds
        self.monotonic = monotonic
        self.done = WorkDone()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loops: list[Loop] = []
        # One loop ends hung workers' transactions when idle: the scheduler if there is one.
        if schedule:
            self.loops.append(self._loop("scheduler", self._schedule_once, self._end_stale_batches))
        if deliver:
            idle_work = None if schedule else self._end_stale_batches
            self.loops.append(self._loop("deliverer", self._deliver_once, idle_work))

    def _loop(
        self, name: str, step: Callable[[], int], when_idle: Callable[[], None] | None
    ) -> Loop:
        return Loop(
            name,
            step,
            stop=self._stop,
            done=self.done,
            idle_seconds=self.idle_seconds,
            when_idle=when_idle,
            monotonic=self.monotonic,
        )

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Finish the batches in hand, then return from :meth:`run`."""
        self._stop.set()

    def _schedule_once(self) -> int:
        tasks = self.app.scheduler.run_batch()
        if tasks:
            self.done.add(task_batches=1, tasks=tasks)
        return tasks

    def _deliver_once(self) -> int:
        messages = self.app.deliverer.run_once(lambda: self.stopping)
        self.done.add(messages=messages)
        return messages

    def run(self) -> None:
        """Start the loops and supervise them until stopped; return once every loop
        has ended its batch in hand. Call from the main thread of a worker process
        (signals keep being handled) or through :meth:`start`."""
        for loop in self.loops:
            if not self.stopping:
                loop.start()
        while not self._stop.wait(min(0.1, self.restart_seconds)):
            self._revive()
        for loop in self.loops:
            while loop.alive:  # in short joins: a signal handler may still run meanwhile
                loop.join(0.2)

    def _revive(self) -> None:
        now = self.monotonic()
        for loop in self.loops:
            if loop.alive or loop.died_at is None or self.stopping:
                continue
            delay = min(
                self.max_restart_seconds, self.restart_seconds * 2 ** (loop.deaths_in_a_row - 1)
            )
            if now - loop.died_at < delay:
                continue
            loop.restarts += 1
            log.error(
                "restarting the %s thread (restart %d; it died of %s)",
                loop.name,
                loop.restarts,
                loop.last_error,
            )
            loop.died_at = None
            loop.start()

    def status(self) -> list[LoopStatus]:
        return [loop.status() for loop in self.loops]

    def _end_stale_batches(self) -> None:
        try:
            ended = self.app.store.end_stale_batches()
        except Exception:
            log.exception("could not look for hung workers")
            return
        if ended:
            log.warning("ended %d hung worker transaction(s); their batches are free again", ended)

    def start(self) -> None:
        """Run in background threads (next to the API server)."""
        self._thread = threading.Thread(target=self.run, name="scenaria-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loops to stop after their current batch, and wait for them."""
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
