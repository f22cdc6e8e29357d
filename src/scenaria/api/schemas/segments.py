"""Request and response shapes of the segments endpoints.

The rule grammar itself is the domain's (:mod:`scenaria.model.segments`): one
definition serves validation, storage and the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scenaria.api.schemas.errors import error_responses
from scenaria.clock import to_datetime
from scenaria.model.segments import RecordId, RuleGroup, Segment, SegmentKind

MAX_BATCH = 10_000
"""Profiles named in one request to add or remove members."""

Name = Annotated[str, Field(min_length=1, max_length=200)]
GroupName = Annotated[str, Field(min_length=1, max_length=100)]
Groups = Annotated[list[GroupName], Field(max_length=50)]
MatchKey = Annotated[str, Field(min_length=1, max_length=320)]


REFUSALS = error_responses(
    400, 401, 404, 409, 422, _404="No such segment or scenario, or not in your groups."
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SegmentCreate(_Request):
    database_id: RecordId
    name: Name
    kind: SegmentKind
    rules: RuleGroup | None = None
    """Required for a dynamic segment, absent for a static one."""
    groups: Groups = Field(default_factory=list)
    """Access groups; empty means visible to everyone."""


class SegmentUpdate(_Request):
    """Only the fields given change; kind and database are fixed at creation."""

    name: Name | None = None
    rules: RuleGroup | None = None
    groups: Groups | None = None


class SegmentOut(BaseModel):
    id: int
    database_id: int
    name: str
    kind: SegmentKind
    rules: RuleGroup | None
    groups: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, segment: Segment) -> SegmentOut:
        assert segment.id is not None
        return cls(
            id=segment.id,
            database_id=segment.database_id,
            name=segment.name,
            kind=segment.kind,
            rules=segment.rules,
            groups=list(segment.groups),
            created_at=to_datetime(segment.created_at),
            updated_at=to_datetime(segment.updated_at),
        )


class SegmentList(BaseModel):
    items: list[SegmentOut]


class SegmentDeleted(BaseModel):
    id: int
    deleted: bool = True


class MembersRequest(_Request):
    """Profiles of the segment's database, by id, by match key (e.g. email), or both."""

    profile_ids: Annotated[list[RecordId], Field(max_length=MAX_BATCH)] = Field(
        default_factory=list
    )
    match_keys: Annotated[list[MatchKey], Field(max_length=MAX_BATCH)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some(self) -> MembersRequest:
        if not self.profile_ids and not self.match_keys:
            raise ValueError("name at least one profile in profile_ids or match_keys")
        return self


class MembersChanged(BaseModel):
    changed: int
    """Profiles added (or removed)."""
    unchanged: int
    """Profiles that already were members (or, on removal, were not)."""
    unknown_profile_ids: list[int]
    """Ids that name no profile of the segment's database."""
    unknown_match_keys: list[str]
    """Match keys that name no profile of the segment's database."""


class MembersCleared(BaseModel):
    removed: int


class Member(BaseModel):
    id: int
    match_key: str
    fields: dict[str, Any]
    subscriptions: dict[str, str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> Member:
        return cls(
            id=row["id"],
            match_key=row["match_key"],
            fields=row["fields"],
            subscriptions=row["subscriptions"],
            created_at=to_datetime(row["created_at"]),
            updated_at=to_datetime(row["updated_at"]),
        )


class MemberPage(BaseModel):
    items: list[Member]
    next_after: int | None
    """Pass as ``after`` to get the next page; null on the last page."""


class SegmentCount(BaseModel):
    count: int


class PreviewRequest(_Request):
    database_id: RecordId
    rules: RuleGroup


class SendSegmentRequest(_Request):
    segment_id: RecordId


class SendSegmentResult(BaseModel):
    segment_id: int
    scenario_id: int
    processed: int
    """Members read from the segment and offered to the default capture."""
    captured: int
    """Members that entered the scenario (a new task each)."""
    refused: dict[str, int]
    """Members the re-entry mode refused, by rule: ``once_ever``, ``not_while_active``."""
    batches: int
    """Transactions of up to 1,000 members each."""
