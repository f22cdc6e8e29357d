"""The application: one store, one clock, the services, the scheduler and the deliverer."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

from scenaria.channels.api_request import ApiRequestChannel
from scenaria.channels.email_smtp import SmtpChannel
from scenaria.channels.resources import Resources
from scenaria.channels.sms_http import HttpSmsChannel
from scenaria.clock import Clock, FakeClock, SystemClock
from scenaria.engine.delivery import Channel, Deliverer
from scenaria.engine.scheduler import GraphCache, Scheduler
from scenaria.services.access import AccessService
from scenaria.services.channel_report import ChannelReportService
from scenaria.services.jobs import JobRunner
from scenaria.services.profiles import ProfileService
from scenaria.services.scenarios import ScenarioService
from scenaria.services.segments import SegmentService
from scenaria.services.sms_status import SmsStatusService
from scenaria.services.stats import StatsService
from scenaria.services.tracking import TrackingService
from scenaria.store.database import Store

SECRET_ENV = "SCENARIA_SECRET"
"""Signs tracking, unsubscribe and double opt-in links; every process of one
installation must share it."""


def secret_from_env() -> bytes | None:
    """The configured link-signing secret, or None when ``SCENARIA_SECRET`` is unset or empty."""
    value = os.environ.get(SECRET_ENV)
    return value.encode() if value else None


def _secret_from_env() -> bytes:
    # Without a configured secret, links stay valid only for this process's life
    # (the CLI refuses multi-process setups without one and warns otherwise).
    return secret_from_env() or secrets.token_bytes(32)


@dataclass(frozen=True)
class Config:
    database_url: str | None = None
    """SQLAlchemy URL; None takes ``SCENARIA_DATABASE_URL`` or ``sqlite:///scenaria.db``."""
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    """Hosts API Request nodes may call; anything else is refused."""
    batch_size: int = 1000
    """Tasks the scheduler claims per transaction."""
    public_url: str = "http://127.0.0.1:8000"
    """Where recipients reach the tracking links (pixel, clicks, unsubscribe, DOI)."""
    secret: bytes = field(default_factory=lambda: _secret_from_env())
    """Signs tracking links; from ``SCENARIA_SECRET`` (never logged)."""
    resources: Resources = field(default_factory=lambda: Resources(email={}))
    """Subscription resources: the SMTP servers and SMS gateways messages go out through
    (``Resources.load()`` reads them from a file). A channel with no resource gets no
    sender, so its messages wait in the outbox until one is configured."""


class App:
    def __init__(
        self,
        config: Config | None = None,
        *,
        clock: Clock | None = None,
        store: Store | None = None,
        channels: dict[str, Channel] | None = None,
    ) -> None:
        self.config = config or Config()
        self.clock = clock or SystemClock()
        self.store = store or Store(self.config.database_url)
        graphs = GraphCache()
        self.scenarios = ScenarioService(self.store, self.clock, self.config.allowed_hosts)
        self.profiles = ProfileService(self.store, self.clock, GraphCache())
        self.jobs = JobRunner(self.store, self.clock, self.profiles)
        self.stats = StatsService(self.store, self.clock)
        self.access = AccessService(self.store, self.clock)
        self.segments = SegmentService(self.store, self.clock, self.scenarios)
        self.scheduler = Scheduler(self.store, self.clock, self.config.batch_size, graphs)
        if channels is None:
            config = self.config
            channels = {"api_request": ApiRequestChannel(config.allowed_hosts)}
            if config.resources.email:
                channels["email"] = SmtpChannel(
                    config.resources.email, config.public_url, config.secret
                )
            if config.resources.sms:
                channels["sms"] = HttpSmsChannel(config.resources.sms)
        self.deliverer = Deliverer(self.store, self.clock, channels)
        self.tracking = TrackingService(self.store, self.clock, self.config.secret)
        # Through a lambda: tests and tools may swap the deliverer after construction.
        self.channel_report = ChannelReportService(
            self.store, self.clock, lambda: self.deliverer.paused_resources()
        )
        self.sms_status = SmsStatusService(self.store, self.profiles)

    def close(self) -> None:
        """Close the channels' connections and the database pool."""
        self.jobs.stop()
        for channel in self.deliverer.channels.values():
            channel.close()
        self.store.dispose()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_pending(self) -> int:
        """Advance every due task and deliver every due message, at the current time."""
        total = 0
        while True:
            moved = self.scheduler.run_due() + self.deliverer.run_once()
            if moved == 0:
                return total
            total += moved

    def run_until_idle(self, clock: FakeClock, max_rounds: int = 100_000) -> int:
        """Run, jumping the fake clock to each next timer, until nothing waits on time.

        Tasks waiting for an outside event are left where they are.
        """
        total = 0
        for _ in range(max_rounds):
            total += self.run_pending()
            with self.store.read() as tx:
                due = [
                    tx.tasks.next_due(),
                    tx.outbox.next_attempt(list(self.deliverer.channels)),
                ]
            upcoming = [t for t in due if t is not None]
            if not upcoming:
                return total
            clock.advance_to(min(upcoming))
        raise RuntimeError("the scenario did not settle")
