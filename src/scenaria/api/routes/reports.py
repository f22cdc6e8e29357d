"""Message events: a message's status history and a scenario's channel report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from scenaria.api.deps import AppDep, CurrentUser
from scenaria.api.routes.scenarios import ERRORS, ScenarioId
from scenaria.api.schemas.stats import IsoDate
from scenaria.api.schemas.tracking import ChannelReportOut, MessageHistoryOut

router = APIRouter(tags=["messages"], responses=ERRORS)

MessageKey = Annotated[
    str,
    Path(min_length=1, max_length=200, description="The message's outbox key (task:node:visit)."),
]


@router.get("/messages/{key}/history", response_model=MessageHistoryOut)
def message_history(app: AppDep, user: CurrentUser, key: MessageKey) -> MessageHistoryOut:
    """Every status of one message with its time: queued, sent / failed / skipped (with the
    reason), then delivered, opened, clicked, unsubscribed."""
    return MessageHistoryOut.of(app.channel_report.history(key, user))


@router.get("/scenarios/{scenario_id:int}/channel-report", response_model=ChannelReportOut)
def channel_report(
    app: AppDep,
    user: CurrentUser,
    scenario_id: ScenarioId,
    date_from: Annotated[
        IsoDate | None, Query(description="First day (UTC), included; default: 6 days before.")
    ] = None,
    date_to: Annotated[
        IsoDate | None, Query(description="Last day (UTC), included; default: today.")
    ] = None,
) -> ChannelReportOut:
    """Per Email/SMS node: messages sent, delivered, opened, clicked, unsubscribed, failed
    and skipped over a period (default the last 7 days). A message opened or clicked
    several times counts once."""
    return ChannelReportOut.of(app.channel_report.report(scenario_id, date_from, date_to, user))
