"""The worker loop: advance due tasks and deliver due messages until told to stop."""

from __future__ import annotations

import logging
import threading

from scenaria.services.app import App

log = logging.getLogger(__name__)


class Worker:
    """Runs :meth:`App.run_pending` in a loop; sleeps ``idle_seconds`` when nothing is due."""

    def __init__(self, app: App, idle_seconds: float = 0.2) -> None:
        self.app = app
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                moved = self.app.run_pending()
            except Exception:  # a failed batch rolled back; its tasks stay due
                log.exception("worker batch failed; retrying")
                moved = 0
            if moved == 0:
                self._stop.wait(self.idle_seconds)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="scenaria-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop after its current batch, and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
