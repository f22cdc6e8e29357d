"""Delivery reports an SMS gateway calls back with: one message event each.

The gateway names the message by the outbox key it was sent under and says
``delivered`` or ``failed`` in its own words (``DELIVRD``, ``undeliverable`` …);
the report becomes a message event against the profile, the message and its node,
so Conditions and the channel report see it like an open or a click.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scenaria.channels.sms_http import CHANNEL
from scenaria.engine.delivery import storable
from scenaria.errors import InvalidInput, NotFound
from scenaria.services.profiles import ProfileService
from scenaria.store.database import Store

EVENTS = {
    "delivered": "delivered",
    "delivrd": "delivered",
    "failed": "failed",
    "undelivered": "failed",
    "undeliverable": "failed",
    "rejected": "failed",
    "expired": "failed",
}
"""Gateway statuses (lower case) and the message event each becomes."""


@dataclass(frozen=True)
class SmsStatusRecorded:
    reference: str
    event: str
    profile_id: int


class SmsStatusService:
    def __init__(self, store: Store, profiles: ProfileService) -> None:
        self.store = store
        self.profiles = profiles

    def record(
        self, reference: str, status: str, extra: Mapping[str, Any] | None = None
    ) -> SmsStatusRecorded:
        """Record the gateway's report; InvalidInput for a status it cannot mean,
        NotFound when no SMS went out under ``reference``."""
        event = EVENTS.get(status.strip().lower())
        if event is None:
            raise InvalidInput(f"status '{status}' is not one of: {', '.join(sorted(set(EVENTS)))}")
        try:
            with self.store.read() as tx:
                channel = tx.outbox.get(reference)["channel"]
        except NotFound:
            channel = None
        if channel != CHANNEL:
            raise NotFound("no SMS was sent under this reference")
        data: dict[str, Any] = {"status": status, **(extra or {})}
        recorded = self.profiles.record_message_event(reference, event, storable(data))
        return SmsStatusRecorded(reference, event, recorded.profile_id)
