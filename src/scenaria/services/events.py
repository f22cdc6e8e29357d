"""Events about profiles: custom events with properties, and subscription changes.

A subscription change moves a channel's status and records what happened:

    action        from                       to            event
    subscribe     none / unsubscribed        subscribed    subscribed
    subscribe+DOI none / unsubscribed        unconfirmed   subscription_pending
    subscribe     unconfirmed                subscribed    subscribed
    confirm       unconfirmed                subscribed    subscription_confirmed
    unsubscribe   anything but unsubscribed  unsubscribed  unsubscribed

A change to the status the channel already has records nothing (a second
click on a confirmation link is harmless); confirming with no double opt-in
pending is refused. Message events (delivered, opened, clicked) come from the
outbox and are reserved, like the subscription events, so a custom event
cannot pass for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from scenaria.errors import Conflict, InvalidInput
from scenaria.model.profiles import Channel, ProfileDatabase, SubscriptionStatus
from scenaria.services.matching import lookup_key
from scenaria.store.repositories import Tx

SUBSCRIBED = "subscribed"
PENDING = "subscription_pending"
CONFIRMED = "subscription_confirmed"
UNSUBSCRIBED = "unsubscribed"
MESSAGE_EVENTS = frozenset({"delivered", "opened", "clicked"})
RESERVED = frozenset({SUBSCRIBED, PENDING, CONFIRMED, UNSUBSCRIBED, *MESSAGE_EVENTS})


class SubscriptionAction(StrEnum):
    SUBSCRIBE = "subscribe"
    CONFIRM = "confirm"
    """Confirm a pending double opt-in."""
    UNSUBSCRIBE = "unsubscribe"


@dataclass(frozen=True)
class ProfileRef:
    """A profile by id, or by the value of its database's match field."""

    id: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        return f"profile {self.id}" if self.id is not None else f"profile {self.key!r}"


@dataclass(frozen=True)
class CustomEvent:
    profile: ProfileRef
    type: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SubscriptionChange:
    profile: ProfileRef
    channel: Channel
    action: SubscriptionAction
    double_opt_in: bool = False
    """Subscribe pending confirmation (``unconfirmed``) rather than at once."""


EventInput = CustomEvent | SubscriptionChange


@dataclass
class EventsResult:
    profile_ids: list[int] = field(default_factory=list)
    """The profile of each event, in order."""
    recorded: list[bool] = field(default_factory=list)
    """Whether each event was recorded (a change to the same status records nothing)."""


def change(
    action: SubscriptionAction, double_opt_in: bool, current: SubscriptionStatus | None
) -> tuple[SubscriptionStatus, str] | None:
    """The new status and the event to record, or None if nothing changes."""
    if action is SubscriptionAction.UNSUBSCRIBE:
        target, event = SubscriptionStatus.UNSUBSCRIBED, UNSUBSCRIBED
    elif action is SubscriptionAction.CONFIRM:
        if current is SubscriptionStatus.SUBSCRIBED:
            return None
        if current is not SubscriptionStatus.UNCONFIRMED:
            raise Conflict("no double opt-in is pending")
        target, event = SubscriptionStatus.SUBSCRIBED, CONFIRMED
    elif double_opt_in and current is not SubscriptionStatus.SUBSCRIBED:
        target, event = SubscriptionStatus.UNCONFIRMED, PENDING
    else:
        target, event = SubscriptionStatus.SUBSCRIBED, SUBSCRIBED
    return None if target is current else (target, event)


def record(
    tx: Tx, database: ProfileDatabase, events: Sequence[EventInput], now: float
) -> EventsResult:
    """Resolve each event's profile in ``database``, apply subscription changes in
    order and write the events; the first bad event refuses them all, named by position."""
    assert database.id is not None
    keys: dict[str, str] = {}
    for i, event in enumerate(events, 1):
        if isinstance(event, CustomEvent) and event.type in RESERVED:
            raise InvalidInput(f"event #{i}: '{event.type}' is a reserved event type")
        raw = event.profile.key
        if raw is not None and raw not in keys:
            try:
                keys[raw] = lookup_key(database, raw)
            except InvalidInput as exc:
                raise InvalidInput(f"event #{i}: {exc}") from None
    by_id = tx.profiles.owners_and_subscriptions(
        [e.profile.id for e in events if e.profile.id is not None]
    )
    by_key = {
        key: (found[0], found[2])
        for key, found in tx.profiles.by_keys(database.id, sorted(set(keys.values()))).items()
    }
    subscriptions: dict[int, dict[str, str]] = {}
    changed: set[int] = set()
    rows: list[dict[str, Any]] = []
    result = EventsResult()
    for i, event in enumerate(events, 1):
        profile_id, subs = _resolve(event.profile, database.id, by_id, by_key, keys, i)
        subs = subscriptions.setdefault(profile_id, dict(subs))
        row: dict[str, Any] | None
        if isinstance(event, CustomEvent):
            row = {"type": event.type, "data": event.properties or None}
        else:
            raw = subs.get(event.channel.value)
            try:
                outcome = change(
                    event.action, event.double_opt_in, SubscriptionStatus(raw) if raw else None
                )
            except Conflict as exc:
                raise Conflict(
                    f"event #{i}: cannot confirm the {event.channel.value} subscription "
                    f"of {event.profile}: {exc}"
                ) from None
            row = None
            if outcome is not None:
                subs[event.channel.value] = outcome[0].value
                changed.add(profile_id)
                row = {"type": outcome[1], "data": {"channel": event.channel.value}}
        if row is not None:
            rows.append({"profile_id": profile_id, "at": now, **row})
        result.profile_ids.append(profile_id)
        result.recorded.append(row is not None)
    tx.profiles.update_subscriptions(
        [{"_id": pid, "subscriptions": subscriptions[pid]} for pid in sorted(changed)], now
    )
    tx.events.add_many(rows)
    return result


def _resolve(
    ref: ProfileRef,
    database_id: int,
    by_id: dict[int, tuple[int, dict[str, str]]],
    by_key: dict[str, tuple[int, dict[str, str]]],
    keys: dict[str, str],
    position: int,
) -> tuple[int, dict[str, str]]:
    if ref.id is not None:
        owner = by_id.get(ref.id)
        if owner is None:
            raise InvalidInput(f"event #{position}: profile {ref.id} does not exist")
        if owner[0] != database_id:
            raise InvalidInput(
                f"event #{position}: profile {ref.id} is not in profile database {database_id}"
            )
        return ref.id, owner[1]
    assert ref.key is not None
    found = by_key.get(keys[ref.key])
    if found is None:
        raise InvalidInput(
            f"event #{position}: no profile of database {database_id} has the key {ref.key!r}"
        )
    return found
