"""Request and response shapes of the statistics endpoints."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from scenaria.clock import to_datetime
from scenaria.services.stats import PeriodStats, RealtimeStats, WaitingPage

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A calendar date written YYYY-MM-DD, nothing looser (not a timestamp)."""


class NodePeriodOut(BaseModel):
    id: str
    kind: str
    name: str
    entered: int
    exited: int
    errors: int


class PeriodStatsOut(BaseModel):
    date_from: date
    date_to: date = Field(description="Included; days are UTC days.")
    entered: int = Field(description="Profiles that entered the scenario.")
    completed: int = Field(description="Tasks that went through to the end or an Exit.")
    failed: int = Field(description="Tasks ended by an error with no error path.")
    removed: int = Field(description="Tasks taken out (stop, clear, removal, restart).")
    errors: int = Field(description="Errors on nodes.")
    nodes: list[NodePeriodOut]

    @classmethod
    def of(cls, s: PeriodStats) -> PeriodStatsOut:
        return cls(
            date_from=s.date_from,
            date_to=s.date_to,
            entered=s.entered,
            completed=s.completed,
            failed=s.failed,
            removed=s.removed,
            errors=s.errors,
            nodes=[NodePeriodOut.model_validate(n, from_attributes=True) for n in s.nodes],
        )


class NodeInsideOut(BaseModel):
    id: str
    kind: str
    name: str
    inside: int


class RealtimeStatsOut(BaseModel):
    inside: int = Field(description="Profiles in the scenario now (frozen ones included).")
    nodes: list[NodeInsideOut]

    @classmethod
    def of(cls, s: RealtimeStats) -> RealtimeStatsOut:
        return cls(
            inside=s.inside,
            nodes=[NodeInsideOut.model_validate(n, from_attributes=True) for n in s.nodes],
        )


class WaitingTaskOut(BaseModel):
    task_id: int
    profile_id: int
    state: str = Field(description="scheduled, awaiting (an outside answer) or frozen.")
    entered_at: datetime = Field(description="When the profile entered the scenario.")
    node_entered_at: datetime
    leaves_at: datetime | None = Field(
        description="Exactly when it will leave the node; null while it waits for an outside "
        "answer or is frozen in a stopped scenario."
    )
    has_api_content: bool


class WaitingPageOut(BaseModel):
    total: int = Field(description="All tasks in the node now.")
    limit: int
    offset: int
    tasks: list[WaitingTaskOut]

    @classmethod
    def of(cls, page: WaitingPage, limit: int, offset: int) -> WaitingPageOut:
        return cls(
            total=page.total,
            limit=limit,
            offset=offset,
            tasks=[
                WaitingTaskOut(
                    task_id=t.task_id,
                    profile_id=t.profile_id,
                    state=t.state,
                    entered_at=to_datetime(t.entered_at),
                    node_entered_at=to_datetime(t.node_entered_at),
                    leaves_at=to_datetime(t.leaves_at) if t.leaves_at is not None else None,
                    has_api_content=t.has_api_content,
                )
                for t in page.tasks
            ],
        )
