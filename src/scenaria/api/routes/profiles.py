"""The profiles endpoints: databases, profile imports, the profile card, CSV files, events."""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile, status
from fastapi.responses import JSONResponse

from scenaria.api.deps import AppDep, CurrentUser, VisibleDatabase
from scenaria.api.schemas.errors import error_responses
from scenaria.api.schemas.jobs import JobOut
from scenaria.api.schemas.profiles import (
    MAX_ID,
    BatchImportOut,
    CardOut,
    CsvImportOut,
    DatabaseIn,
    DatabaseOut,
    DatabaseUpdate,
    EventBatchIn,
    EventBatchOut,
    EventIn,
    EventResultOut,
    ImportOut,
    MatchKey,
    MessageEventIn,
    MessageEventOut,
    ProfileBatchIn,
    ProfileIn,
    ProfileOut,
)
from scenaria.clock import to_datetime
from scenaria.services.jobs import SYNC_CSV_BYTES


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return error_responses(*codes, _404="No such database, profile or message.")


router = APIRouter(tags=["profiles"], responses=_errors(400, 401, 422))

DatabaseId = Annotated[int, Path(ge=1, lt=MAX_ID + 1, description="The profile database.")]
ProfileId = Annotated[int, Path(ge=1, lt=MAX_ID + 1)]
JobId = Annotated[int, Path(ge=1, lt=MAX_ID + 1, description="The job.")]
OutboxKey = Annotated[
    str, Path(min_length=1, max_length=200, description="The message's outbox key.")
]


@router.post(
    "/databases",
    response_model=DatabaseOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a profile database with its field schema",
)
def create_database(body: DatabaseIn, app: AppDep, user: CurrentUser) -> DatabaseOut:
    database = app.profiles.create_database(
        body.name, body.fields, body.match_field, body.groups, actor=user
    )
    return DatabaseOut.of(database, profiles=0)


@router.get(
    "/databases", response_model=list[DatabaseOut], summary="List the profile databases you see"
)
def list_databases(app: AppDep, user: CurrentUser) -> list[DatabaseOut]:
    return [DatabaseOut.of(d) for d in app.profiles.list_databases(user)]


@router.get(
    "/databases/{database_id:int}",
    response_model=DatabaseOut,
    responses=_errors(404),
    summary="A profile database, with its profile count",
)
def get_database(database_id: DatabaseId, app: AppDep, user: CurrentUser) -> DatabaseOut:
    database = app.profiles.get_database(database_id, user)
    return DatabaseOut.of(database, app.profiles.count_profiles(database_id, user))


@router.patch(
    "/databases/{database_id:int}",
    response_model=DatabaseOut,
    responses=_errors(404),
    summary="Change a profile database's access groups",
)
def update_database(
    database_id: DatabaseId, body: DatabaseUpdate, app: AppDep, user: CurrentUser
) -> DatabaseOut:
    database = app.profiles.set_database_groups(database_id, body.groups, user)
    return DatabaseOut.of(database, app.profiles.count_profiles(database_id, user))


@router.post(
    "/databases/{database_id:int}/profiles",
    response_model=ImportOut,
    responses=_errors(404),
    summary="Import or update one profile",
    description="Creates the profile, or updates the one with the same match-field value; "
    "the import triggers of `source` fire in the active scenarios of the database.",
)
def import_profile(database: VisibleDatabase, body: ProfileIn, app: AppDep) -> ImportOut:
    assert database.id is not None
    result = app.profiles.import_profiles(database.id, [body.to_import()], body.source)
    profile_id = result.row_ids[0]
    assert profile_id is not None, "a single import refuses a row it cannot import"
    return ImportOut(
        profile_id=profile_id,
        created=profile_id in result.created_ids,
        captured=result.captured,
    )


@router.post(
    "/databases/{database_id:int}/profiles/batch",
    response_model=BatchImportOut,
    responses=_errors(404),
    summary="Import or update up to 1,000 profiles in one transaction",
    description="All or nothing: a row that cannot be imported (an unknown field, a value "
    "not of its field's type, an `email` that is not an e-mail address, a `phone` that is "
    "not a phone number …) refuses the batch, and the reason names it (`profile #3: …`). "
    "With `skip_invalid` such rows are left out and listed in `rejected`, and the others "
    "are imported.",
)
def import_profiles(database: VisibleDatabase, body: ProfileBatchIn, app: AppDep) -> BatchImportOut:
    assert database.id is not None
    rows = [row.to_import() for row in body.profiles]
    result = app.profiles.import_profiles(
        database.id, rows, body.source, skip_invalid=body.skip_invalid
    )
    return BatchImportOut.of(result)


@router.post(
    "/databases/{database_id:int}/profiles/csv",
    response_model=CsvImportOut,
    responses={
        **_errors(404),
        202: {
            "model": JobOut,
            "description": "A large file (or `background=true`): queued as a job; poll "
            "`GET /jobs/{id}` (the `Location` header) for its progress and report.",
        },
    },
    summary="Import a CSV file of profiles",
    description="The header row names the columns: fields of the database and optional "
    "`<channel>_subscription` columns (`email_subscription`, `sms_subscription`) holding "
    "`subscribed`, `unconfirmed` or `unsubscribed`. Empty cells leave a field unchanged. "
    "Imported in batches of 1,000 with source `file`; bad lines are rejected with their "
    "line number and reason and do not stop the others. A file that is not UTF-8 is "
    "refused whole, naming its first line that is not. Files up to 1 MiB are imported "
    "before the answer (200, the report); larger ones answer at once with a job (202) "
    "that imports in the background.",
)
def import_csv(
    database: VisibleDatabase,
    file: Annotated[UploadFile, File(description="UTF-8 CSV, header row first.")],
    app: AppDep,
    user: CurrentUser,
    delimiter: Annotated[
        str, Query(description="The column separator.", pattern="^(,|;|\\||\t)$")
    ] = ",",
    background: Annotated[
        bool | None,
        Query(
            description="`true`: always import in a background job (202); `false`: always "
            "before answering; unset: in the background when the file is over 1 MiB."
        ),
    ] = None,
) -> CsvImportOut | JSONResponse:
    assert database.id is not None
    data = file.file
    data.seek(0, os.SEEK_END)
    size = data.tell()
    data.seek(0)
    if background is None:
        background = size > SYNC_CSV_BYTES
    if not background:
        return CsvImportOut.of(app.profiles.import_csv(database.id, data, delimiter))
    job = app.jobs.submit_csv_import(database.id, data, delimiter, user)
    return JSONResponse(
        JobOut.of(job).model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/jobs/{job.id}"},
    )


@router.get(
    "/jobs/{job_id:int}",
    response_model=JobOut,
    responses=error_responses(404, _404="No such job, or another user's."),
    tags=["jobs"],
    summary="A background job: its status, progress and, once done, its report",
    description="`queued`, `running` (with the rows processed, imported and failed so "
    "far), then `done` (with the result: for a CSV import, the report of every line) "
    "or `failed` (with the reason). Only the user who started it, and admins, see it.",
)
def get_job(job_id: JobId, app: AppDep, user: CurrentUser) -> JobOut:
    return JobOut.of(app.jobs.get(job_id, user))


@router.get(
    "/databases/{database_id:int}/profiles/by-key",
    response_model=ProfileOut,
    responses=_errors(404),
    summary="Find a profile by the value of its match field",
)
def find_profile(
    database_id: DatabaseId,
    key: Annotated[MatchKey, Query(description="e.g. the e-mail address or external id.")],
    app: AppDep,
    user: CurrentUser,
) -> ProfileOut:
    return ProfileOut.of(app.profiles.find_profile(database_id, key, user))


@router.get(
    "/databases/{database_id:int}/profiles/{profile_id:int}",
    response_model=ProfileOut,
    responses=_errors(404),
    summary="One profile",
)
def get_profile(
    database_id: DatabaseId, profile_id: ProfileId, app: AppDep, user: CurrentUser
) -> ProfileOut:
    return ProfileOut.of(app.profiles.get_profile(database_id, profile_id, user))


@router.get(
    "/databases/{database_id:int}/profiles/{profile_id:int}/card",
    response_model=CardOut,
    responses=_errors(404),
    summary="The profile card: fields, subscriptions, events and scenario interactions",
    description="Interactions list each task in the scenarios the caller may see: the "
    "scenario, when it entered, the nodes it went through with the port it left each by, "
    "and where and why it left.",
)
def profile_card(
    database_id: DatabaseId,
    profile_id: ProfileId,
    app: AppDep,
    user: CurrentUser,
    events: Annotated[int, Query(ge=0, le=1000, description="How many latest events.")] = 100,
) -> CardOut:
    card = app.profiles.card(profile_id, database_id, viewer=user, events_limit=events)
    return CardOut.of_card(card)


@router.post(
    "/databases/{database_id:int}/events",
    response_model=EventResultOut,
    responses=_errors(404, 409),
    tags=["events"],
    summary="Record one event: a custom event or a subscription change",
    description="`kind: custom` records an event with a type and properties; "
    "`kind: subscription` subscribes (optionally pending double opt-in), confirms a "
    "double opt-in or unsubscribes one channel, and records it. The profile is given by "
    "`id` or by `match_key`.",
)
def record_event(
    database_id: DatabaseId, body: EventIn, app: AppDep, user: CurrentUser
) -> EventResultOut:
    result = app.profiles.record_events(database_id, [body.to_input()], user)
    return EventResultOut(profile_id=result.profile_ids[0], recorded=result.recorded[0])


@router.post(
    "/databases/{database_id:int}/events/batch",
    response_model=EventBatchOut,
    responses=_errors(404, 409),
    tags=["events"],
    summary="Record up to 1,000 events in one transaction",
    description="All or nothing: the first event that cannot be recorded refuses the batch, "
    "and the reason names it (`event #3: …`).",
)
def record_events(
    database_id: DatabaseId, body: EventBatchIn, app: AppDep, user: CurrentUser
) -> EventBatchOut:
    inputs = [event.to_input() for event in body.events]
    return EventBatchOut.of(app.profiles.record_events(database_id, inputs, user))


@router.post(
    "/messages/{outbox_key}/events",
    response_model=MessageEventOut,
    responses=_errors(404),
    tags=["events"],
    summary="Record what a recipient did with a message: delivered, opened, clicked",
)
def record_message_event(
    outbox_key: OutboxKey, body: MessageEventIn, app: AppDep, user: CurrentUser
) -> MessageEventOut:
    recorded = app.profiles.record_message_event(outbox_key, body.event, body.data, user)
    return MessageEventOut(
        profile_id=recorded.profile_id, event=recorded.type, at=to_datetime(recorded.at)
    )
