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
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, status

from scenaria.api.deps import AppDep
from scenaria.api.schemas.errors import error_responses
from scenaria.api.schemas.sms import SmsStatusIn, SmsStatusOut

ENV_SECRET = "SCENARIA_SMS_CALLBACK_SECRET"

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
    recorded = app.sms_status.record(body.reference, body.status, body.model_extra)
    return SmsStatusOut(
        reference=recorded.reference, event=recorded.event, profile_id=recorded.profile_id
    )
