"""The SMS gateway's delivery-status callback: ``POST /sms/status``.

The gateway calls back with the message's reference (the outbox key it was sent
under) and a status; ``delivered`` and ``failed`` (and their common synonyms)
become a message event against the profile, the message and the scenario node.
The gateway proves itself with a shared secret, from ``SCENARIA_SMS_CALLBACK_SECRET``,
in the ``X-Callback-Secret`` header or the ``secret`` query parameter, compared in
constant time. Without a configured secret every callback is refused.
"""

from __future__ import annotations

import hmac
import os
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from scenaria.api.deps import AppDep
from scenaria.api.schemas.errors import error_responses
from scenaria.channels.sms_http import CHANNEL
from scenaria.engine.delivery import storable
from scenaria.errors import NotFound

ENV_SECRET = "SCENARIA_SMS_CALLBACK_SECRET"

EVENTS = {
    "delivered": "delivered",
    "delivrd": "delivered",
    "failed": "failed",
    "undelivered": "failed",
    "undeliverable": "failed",
    "rejected": "failed",
    "expired": "failed",
}


class SmsStatusIn(BaseModel):
    """What the gateway reports; any further fields are kept with the event."""

    model_config = ConfigDict(extra="allow")

    reference: str = Field(min_length=1, max_length=200, description="The outbox key.")
    status: str = Field(min_length=1, max_length=40, description="delivered or failed.")


class SmsStatusOut(BaseModel):
    reference: str
    event: str
    profile_id: int


router = APIRouter(tags=["tracking"])


def _authorised(offered: str | None) -> None:
    expected = os.environ.get(ENV_SECRET)
    if not expected:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "SMS status callbacks are not configured")
    if offered is None or not hmac.compare_digest(offered.encode(), expected.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the callback secret is wrong")


@router.post(
    "/sms/status",
    response_model=SmsStatusOut,
    summary="The SMS gateway reports a message delivered or failed",
    responses=error_responses(
        400, 403, 404, 422, _403="Missing or wrong secret.", _404="No such SMS."
    ),
)
def sms_status(
    body: SmsStatusIn,
    app: AppDep,
    secret: Annotated[str | None, Query(max_length=200)] = None,
    x_callback_secret: Annotated[str | None, Header(max_length=200)] = None,
) -> SmsStatusOut:
    _authorised(x_callback_secret if x_callback_secret is not None else secret)
    event = EVENTS.get(body.status.strip().lower())
    if event is None:
        raise HTTPException(
            422,
            f"status '{body.status}' is not one of: {', '.join(sorted(set(EVENTS)))}",
        )
    try:
        with app.store.read() as tx:
            message = tx.outbox.get(body.reference)
    except NotFound:
        message = None
    if message is None or message["channel"] != CHANNEL:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no SMS was sent under this reference")
    extra: dict[str, Any] = {"status": body.status, **(body.model_extra or {})}
    recorded = app.profiles.record_message_event(body.reference, event, storable(extra))
    return SmsStatusOut(reference=body.reference, event=event, profile_id=recorded.profile_id)
