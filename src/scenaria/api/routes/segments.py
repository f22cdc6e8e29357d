"""The segments endpoints, and sending a segment's members to a scenario."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from scenaria.api.deps import AppDep, CurrentUser
from scenaria.api.schemas.segments import (
    REFUSALS,
    Member,
    MemberPage,
    MembersChanged,
    MembersCleared,
    MembersRequest,
    PreviewRequest,
    SegmentCount,
    SegmentCreate,
    SegmentDeleted,
    SegmentList,
    SegmentOut,
    SegmentUpdate,
    SendSegmentRequest,
    SendSegmentResult,
)
from scenaria.model.segments import MAX_ID, SegmentKind
from scenaria.services.segments import MemberChange

router = APIRouter(tags=["segments"], responses=REFUSALS)

SegmentId = Annotated[int, Path(ge=1, lt=MAX_ID + 1, description="The segment's id.")]
ScenarioId = Annotated[int, Path(ge=1, lt=MAX_ID + 1, description="The scenario's id.")]


def _changed(change: MemberChange) -> MembersChanged:
    return MembersChanged(
        changed=change.changed,
        unchanged=change.unchanged,
        unknown_profile_ids=change.unknown_profile_ids,
        unknown_match_keys=change.unknown_match_keys,
    )


@router.post(
    "/segments",
    response_model=SegmentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a static or dynamic segment",
)
def create_segment(body: SegmentCreate, app: AppDep, user: CurrentUser) -> SegmentOut:
    segment = app.segments.create(
        body.database_id, body.name, body.kind, body.rules, body.groups, actor=user
    )
    return SegmentOut.of(segment)


@router.get("/segments", response_model=SegmentList, summary="List the segments you can see")
def list_segments(
    app: AppDep,
    user: CurrentUser,
    database_id: Annotated[int | None, Query(ge=1, lt=MAX_ID + 1)] = None,
    kind: SegmentKind | None = None,
) -> SegmentList:
    found = app.segments.list_all(user, database_id, kind)
    return SegmentList(items=[SegmentOut.of(s) for s in found])


@router.post(
    "/segments/preview",
    response_model=SegmentCount,
    summary="Count the profiles that rules would select, without saving",
)
def preview_segment(body: PreviewRequest, app: AppDep, user: CurrentUser) -> SegmentCount:
    return SegmentCount(count=app.segments.preview(body.database_id, body.rules, actor=user))


@router.get("/segments/{segment_id:int}", response_model=SegmentOut, summary="Get a segment")
def get_segment(segment_id: SegmentId, app: AppDep, user: CurrentUser) -> SegmentOut:
    return SegmentOut.of(app.segments.get(segment_id, user))


@router.patch(
    "/segments/{segment_id:int}",
    response_model=SegmentOut,
    summary="Rename a segment, change its rules or its access groups",
)
def update_segment(
    segment_id: SegmentId, body: SegmentUpdate, app: AppDep, user: CurrentUser
) -> SegmentOut:
    segment = app.segments.update(
        segment_id, user, name=body.name, rules=body.rules, groups=body.groups
    )
    return SegmentOut.of(segment)


@router.delete(
    "/segments/{segment_id:int}", response_model=SegmentDeleted, summary="Delete a segment"
)
def delete_segment(segment_id: SegmentId, app: AppDep, user: CurrentUser) -> SegmentDeleted:
    app.segments.delete(segment_id, user)
    return SegmentDeleted(id=segment_id)


@router.get(
    "/segments/{segment_id:int}/count",
    response_model=SegmentCount,
    summary="Count a segment's members now",
)
def count_segment(segment_id: SegmentId, app: AppDep, user: CurrentUser) -> SegmentCount:
    return SegmentCount(count=app.segments.count(segment_id, user))


@router.get(
    "/segments/{segment_id:int}/members",
    response_model=MemberPage,
    summary="List a segment's members, a page at a time by profile id",
)
def list_members(
    segment_id: SegmentId,
    app: AppDep,
    user: CurrentUser,
    after: Annotated[
        int, Query(ge=0, lt=MAX_ID + 1, description="Members with a profile id above this.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> MemberPage:
    page = app.segments.members(segment_id, user, after, limit)
    return MemberPage(items=[Member.of(r) for r in page.items], next_after=page.next_after)


@router.post(
    "/segments/{segment_id:int}/members",
    response_model=MembersChanged,
    summary="Add profiles to a static segment, by id or match key",
)
def add_members(
    segment_id: SegmentId, body: MembersRequest, app: AppDep, user: CurrentUser
) -> MembersChanged:
    return _changed(app.segments.add_members(segment_id, user, body.profile_ids, body.match_keys))


@router.post(
    "/segments/{segment_id:int}/members/remove",
    response_model=MembersChanged,
    summary="Remove profiles from a static segment, by id or match key",
)
def remove_members(
    segment_id: SegmentId, body: MembersRequest, app: AppDep, user: CurrentUser
) -> MembersChanged:
    change = app.segments.remove_members(segment_id, user, body.profile_ids, body.match_keys)
    return _changed(change)


@router.delete(
    "/segments/{segment_id:int}/members",
    response_model=MembersCleared,
    summary="Empty a static segment",
)
def clear_members(segment_id: SegmentId, app: AppDep, user: CurrentUser) -> MembersCleared:
    return MembersCleared(removed=app.segments.clear(segment_id, user))


@router.post(
    "/scenarios/{scenario_id:int}/send-segment",
    response_model=SendSegmentResult,
    tags=["scenarios"],
    summary="Send a segment's profiles through the scenario's default capture",
    description="Every member is offered to the default capture, 1,000 per transaction. "
    "Refused with 422 if the segment's profile database is not the scenario's, and with "
    "409 if the scenario is not active. The answer counts the members processed, captured, "
    "and refused by each re-entry rule.",
)
def send_segment(
    scenario_id: ScenarioId, body: SendSegmentRequest, app: AppDep, user: CurrentUser
) -> SendSegmentResult:
    result = app.segments.send_to_scenario(body.segment_id, scenario_id, user)
    return SendSegmentResult(
        segment_id=result.segment_id,
        scenario_id=result.scenario_id,
        processed=result.processed,
        captured=result.captured,
        refused=result.refused,
        batches=result.batches,
    )
