"""Message events: one message's status history, and a scenario's channel report.

A message's history is its outbox row (queued when written; then sent, failed or
skipped, with the reason) followed by what came back for it (delivered, opened,
clicked, unsubscribed, subscription confirmed), oldest first.

The channel report counts, per Email/SMS node of a scenario, the messages that
were sent, failed or skipped during a period (UTC days, both included; by default
the last 7 days) and the messages that were delivered, opened, clicked or led to
an unsubscription during it: a message opened five times counts once. It also
lists the delivery resources the scenario uses (an Email/SMS node's resource, an
API Request node's host) that a circuit breaker holds paused after connection
failures, with the reason and when the next try is due: the deliverer's in-process
state, so a report served by ``scenaria serve --no-worker`` shows only what its
own deliverer saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from scenaria.clock import DAY, Clock, day_of
from scenaria.engine.delivery import PausedResource
from scenaria.errors import InvalidInput, NotFound
from scenaria.model.access import SYSTEM, User
from scenaria.model.nodes.api_request import CHANNEL as API_REQUEST
from scenaria.model.nodes.api_request import host_of
from scenaria.model.nodes.condition import CHANNEL_NODE_KINDS
from scenaria.model.outbox import OutboxStatus
from scenaria.model.scenario import Scenario
from scenaria.services.scenarios import visible
from scenaria.services.stats import DEFAULT_PERIOD_DAYS, day_date, day_number
from scenaria.store.database import Store

MAX_PERIOD_DAYS = 3660
EVENT_COUNTS = ("delivered", "opened", "clicked", "unsubscribed")


@dataclass(frozen=True)
class StatusEntry:
    status: str
    """queued, sent, failed, skipped, or an event: delivered, opened, clicked …"""
    at: float
    reason: str | None = None
    """Why it failed or was skipped."""
    url: str | None = None
    """The link followed, for clicks."""
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class MessageHistory:
    key: str
    scenario_id: int
    node_id: str
    task_id: int
    profile_id: int
    channel: str
    status: str
    """The outbox status now: queued, sending, sent, failed or skipped."""
    attempts: int
    history: list[StatusEntry]


@dataclass(frozen=True)
class ChannelNodeCounts:
    id: str
    kind: str
    name: str
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class ChannelReport:
    scenario_id: int
    date_from: date
    date_to: date
    nodes: list[ChannelNodeCounts] = field(default_factory=list)
    paused_resources: list[PausedResource] = field(default_factory=list)
    """Resources of this scenario's nodes that delivery holds back for now."""


def period(today: date, date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """The period asked for, completed as the statistics complete it."""
    if date_to is None:
        date_to = (
            date_from + timedelta(days=DEFAULT_PERIOD_DAYS - 1) if date_from is not None else today
        )
    if date_from is None:
        date_from = date_to - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if date_from > date_to:
        raise InvalidInput(f"date_from {date_from} is after date_to {date_to}")
    if (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise InvalidInput(f"a report covers at most {MAX_PERIOD_DAYS} days")
    return date_from, date_to


def uses(scenario: Scenario, resource: PausedResource) -> bool:
    """Does one of the scenario's nodes send through this resource?"""
    for node in scenario.nodes:
        if node.kind == resource.channel == API_REQUEST:
            url = str(node.settings.get("url", ""))
            if "{" in url or host_of(url) == resource.resource:
                return True
        elif node.kind == resource.channel and node.kind in CHANNEL_NODE_KINDS:
            if str(node.settings.get("resource", "default")) == resource.resource:
                return True
    return False


class ChannelReportService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        paused: Callable[[], list[PausedResource]] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.paused = paused
        """The deliverer's ``paused_resources``, if one runs in this process."""

    def history(self, key: str, actor: User = SYSTEM) -> MessageHistory:
        """The statuses of one message with their times (NotFound outside the actor's
        scenarios)."""
        with self.store.read() as tx:
            message = tx.outbox.get(key)
            try:
                visible(tx, message["scenario_id"], actor)
            except NotFound:
                raise NotFound(f"message {key} does not exist") from None
            entries = [StatusEntry(OutboxStatus.QUEUED, message["created_at"])]
            status = message["status"]
            if status == OutboxStatus.SENT:
                entries.append(
                    StatusEntry(OutboxStatus.SENT, message["sent_at"] or message["created_at"])
                )
            elif status in (OutboxStatus.FAILED, OutboxStatus.SKIPPED):
                at = message["next_attempt_at"] or message["created_at"]
                entries.append(StatusEntry(status, at, reason=message["reason"]))
            for event in tx.events.for_message(message["task_id"], message["node_id"], key):
                data = event["data"] if isinstance(event["data"], dict) else None
                url = data.get("url") if data else None
                entries.append(
                    StatusEntry(
                        event["type"],
                        event["at"],
                        url=url if isinstance(url, str) else None,
                        data=data,
                    )
                )
            entries.sort(key=lambda e: e.at)
            return MessageHistory(
                key=key,
                scenario_id=message["scenario_id"],
                node_id=message["node_id"],
                task_id=message["task_id"],
                profile_id=message["profile_id"],
                channel=message["channel"],
                status=status,
                attempts=message["attempts"],
                history=entries,
            )

    def report(
        self,
        scenario_id: int,
        date_from: date | None = None,
        date_to: date | None = None,
        actor: User = SYSTEM,
    ) -> ChannelReport:
        """Per Email/SMS node: sent, delivered, opened, clicked, unsubscribed, failed and
        skipped messages over the period."""
        today = day_date(day_of(self.clock.now()))
        date_from, date_to = period(today, date_from, date_to)
        start = day_number(date_from) * DAY
        end = (day_number(date_to) + 1) * DAY
        with self.store.read() as tx:
            scenario = visible(tx, scenario_id, actor)
            outcomes = tx.outbox.outcome_counts(scenario_id, start, end)
            events = tx.events.message_counts(scenario_id, EVENT_COUNTS, start, end)
        nodes = [
            ChannelNodeCounts(
                id=n.id,
                kind=n.kind,
                name=n.name,
                sent=outcomes.get((n.id, OutboxStatus.SENT), 0),
                failed=outcomes.get((n.id, OutboxStatus.FAILED), 0),
                skipped=outcomes.get((n.id, OutboxStatus.SKIPPED), 0),
                **{e: events.get((n.id, e), 0) for e in EVENT_COUNTS},
            )
            for n in scenario.nodes
            if n.kind in CHANNEL_NODE_KINDS
        ]
        paused = [p for p in (self.paused() if self.paused else []) if uses(scenario, p)]
        return ChannelReport(scenario_id, date_from, date_to, nodes, paused)
