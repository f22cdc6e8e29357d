"""What recipients do with a message, through its signed tracking links.

Each link's token (see :mod:`scenaria.channels.tracking`) names its purpose and the
message's outbox key; the message row gives the profile, task and scenario node the
event is recorded against, so a ``message opened`` condition on that node sees it.

    link             records                    repeated
    open pixel       opened                     recorded again (counts stay per message)
    click redirect   clicked, with the URL      recorded again (counts stay per message)
    unsubscribe      unsubscribed               nothing: already unsubscribed
    DOI confirm      subscription_confirmed     nothing: already subscribed

A forged, altered or malformed token, or one made for another purpose, is refused
with :class:`BadLink` and records nothing; a click only redirects to the URL its
token carries, and only when that URL is in the message's stored body.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from scenaria.channels import tracking
from scenaria.channels.tracking import Claim, Purpose
from scenaria.clock import Clock
from scenaria.errors import InvalidInput
from scenaria.model.profiles import Channel, SubscriptionStatus
from scenaria.services import events as event_rules
from scenaria.services.events import SubscriptionAction
from scenaria.store.database import Store
from scenaria.store.repositories import Tx

OPENED, CLICKED = "opened", "clicked"
REDIRECT_SCHEMES = ("http://", "https://")

PURPOSE_TEXT = {
    Purpose.OPEN: "an open-tracking pixel",
    Purpose.CLICK: "a tracked link",
    Purpose.UNSUBSCRIBE: "an unsubscribe link",
    Purpose.CONFIRM: "a subscription confirmation link",
}


class BadLink(InvalidInput):
    """The tracking link is not valid."""


@dataclass(frozen=True)
class Unsubscription:
    channel: Channel
    address: str | None
    """The recipient's address, as the message was sent to it."""
    changed: bool
    """False if the profile was already unsubscribed."""


@dataclass(frozen=True)
class Confirmation:
    channel: Channel
    changed: bool
    """False if the subscription was already confirmed."""


class TrackingService:
    def __init__(self, store: Store, clock: Clock, secret: bytes) -> None:
        self.store = store
        self.clock = clock
        self.secret = secret

    def claim(self, token: str, purpose: Purpose) -> Claim:
        """The token's claim if it is genuine and made for ``purpose``; BadLink otherwise."""
        try:
            claim = tracking.verify(self.secret, token)
        except InvalidInput as exc:
            raise BadLink(f"{exc}: it was altered or not issued here") from None
        if claim.purpose is not purpose:
            raise BadLink(
                f"the tracking link is {PURPOSE_TEXT[claim.purpose]}, not {PURPOSE_TEXT[purpose]}"
            )
        return claim

    # --------------------------------------------------------------- opens, clicks

    def open(self, token: str) -> None:
        """Record that the message was opened (its pixel was loaded)."""
        claim = self.claim(token, Purpose.OPEN)
        with self.store.transaction() as tx:
            self._add(tx, tx.outbox.get(claim.key), OPENED)

    def click(self, token: str) -> str:
        """Record the click and return where to redirect: the URL the token carries,
        provided the message really linked to it."""
        claim = self.claim(token, Purpose.CLICK)
        url = claim.url
        if not url or not url.lower().startswith(REDIRECT_SCHEMES):
            raise BadLink("the tracking link has no http(s) address to go to")
        with self.store.transaction() as tx:
            message = tx.outbox.get(claim.key)
            if not _links_to(message["payload"], url):
                raise BadLink("the tracking link's address is not in the message it came from")
            self._add(tx, message, CLICKED, {"url": url})
        return url

    # ------------------------------------------------------------- subscriptions

    def unsubscribe_target(self, token: str) -> Unsubscription:
        """What the unsubscribe link would do, without doing it (the confirmation page)."""
        claim = self.claim(token, Purpose.UNSUBSCRIBE)
        with self.store.read() as tx:
            message = tx.outbox.get(claim.key)
            channel = _channel(message)
            status = _status(tx.profiles.get(message["profile_id"]), channel)
            return Unsubscription(
                channel, _address(message), status is not SubscriptionStatus.UNSUBSCRIBED
            )

    def unsubscribe(self, token: str) -> Unsubscription:
        """Unsubscribe the message's profile from the message's channel."""
        claim = self.claim(token, Purpose.UNSUBSCRIBE)
        with self.store.transaction() as tx:
            message = tx.outbox.get(claim.key)
            channel = _channel(message)
            changed = self._change(tx, message, channel, SubscriptionAction.UNSUBSCRIBE)
            return Unsubscription(channel, _address(message), changed)

    def confirm(self, token: str) -> Confirmation:
        """Confirm the double opt-in the message asked for (Conflict if none is pending)."""
        claim = self.claim(token, Purpose.CONFIRM)
        with self.store.transaction() as tx:
            message = tx.outbox.get(claim.key)
            channel = _channel(message)
            changed = self._change(tx, message, channel, SubscriptionAction.CONFIRM)
            return Confirmation(channel, changed)

    # ------------------------------------------------------------------- helpers

    def _change(
        self, tx: Tx, message: dict[str, Any], channel: Channel, action: SubscriptionAction
    ) -> bool:
        profile = tx.profiles.get(message["profile_id"])
        outcome = event_rules.change(action, False, _status(profile, channel))
        if outcome is None:
            return False
        status, event = outcome
        subscriptions = {**profile["subscriptions"], channel.value: status.value}
        now = self.clock.now()
        tx.profiles.update_subscriptions(
            [{"_id": profile["id"], "subscriptions": subscriptions}], now
        )
        self._add(tx, message, event, {"channel": channel.value})
        return True

    def _add(
        self, tx: Tx, message: dict[str, Any], event: str, data: dict[str, Any] | None = None
    ) -> None:
        tx.events.add(
            message["profile_id"],
            event,
            self.clock.now(),
            task_id=message["task_id"],
            node_id=message["node_id"],
            outbox_key=message["key"],
            data=data,
        )


def _links_to(payload: Any, url: str) -> bool:
    """Whether the message's HTML or text body holds ``url`` (HTML may escape ``&``)."""
    if not isinstance(payload, dict):
        return False
    text = payload.get("text")
    body = payload.get("html")
    return (isinstance(text, str) and url in text) or (
        isinstance(body, str) and (url in body or html.escape(url) in body)
    )


def _channel(message: dict[str, Any]) -> Channel:
    try:
        return Channel(message["channel"])
    except ValueError:
        raise BadLink("the message was not sent on a subscription channel") from None


def _status(profile: dict[str, Any], channel: Channel) -> SubscriptionStatus | None:
    raw = (profile.get("subscriptions") or {}).get(channel.value)
    return SubscriptionStatus(raw) if raw else None


def _address(message: dict[str, Any]) -> str | None:
    payload = message.get("payload")
    to = payload.get("to") if isinstance(payload, dict) else None
    return str(to) if to else None
