"""Response shapes of the message history and channel report endpoints."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from scenaria.clock import to_datetime
from scenaria.services.channel_report import ChannelReport, MessageHistory


class StatusEntryOut(BaseModel):
    status: str = Field(
        description="queued, sent, failed, skipped, or what came back: delivered, opened, "
        "clicked, unsubscribed, subscription_confirmed."
    )
    at: datetime
    reason: str | None = Field(default=None, description="Why it failed or was skipped.")
    url: str | None = Field(default=None, description="The link followed, for clicks.")
    data: dict[str, Any] | None = None


class MessageHistoryOut(BaseModel):
    key: str = Field(description="The outbox key: task:node:visit.")
    scenario_id: int
    node_id: str
    task_id: int
    profile_id: int
    channel: str
    status: str = Field(description="The delivery status now.")
    attempts: int
    history: list[StatusEntryOut] = Field(description="Oldest first.")

    @classmethod
    def of(cls, h: MessageHistory) -> MessageHistoryOut:
        return cls(
            key=h.key,
            scenario_id=h.scenario_id,
            node_id=h.node_id,
            task_id=h.task_id,
            profile_id=h.profile_id,
            channel=h.channel,
            status=h.status,
            attempts=h.attempts,
            history=[
                StatusEntryOut(
                    status=e.status, at=to_datetime(e.at), reason=e.reason, url=e.url, data=e.data
                )
                for e in h.history
            ],
        )


class ChannelNodeOut(BaseModel):
    id: str
    kind: str = Field(description="email or sms.")
    name: str
    sent: int
    delivered: int
    opened: int = Field(description="Messages opened at least once.")
    clicked: int = Field(description="Messages with at least one tracked link followed.")
    unsubscribed: int
    failed: int
    skipped: int = Field(description="Not sent: no subscription, unsubscribed, cancelled.")


class PausedResourceOut(BaseModel):
    channel: str = Field(description="email, sms or api_request.")
    resource: str = Field(description="The subscription resource, or the API host.")
    reason: str = Field(description="The last connection failure.")
    until: float = Field(description="When delivery tries it again (Unix seconds).")
    failures: int = Field(description="Consecutive connection failures.")


class ChannelReportOut(BaseModel):
    scenario_id: int
    date_from: date
    date_to: date = Field(description="Included; days are UTC days.")
    nodes: list[ChannelNodeOut]
    paused_resources: list[PausedResourceOut] = Field(
        default_factory=list,
        description="Resources of this scenario paused by their circuit breaker.",
    )

    @classmethod
    def of(cls, r: ChannelReport) -> ChannelReportOut:
        return cls(
            scenario_id=r.scenario_id,
            date_from=r.date_from,
            date_to=r.date_to,
            nodes=[ChannelNodeOut.model_validate(n, from_attributes=True) for n in r.nodes],
            paused_resources=[
                PausedResourceOut.model_validate(p, from_attributes=True)
                for p in r.paused_resources
            ],
        )
