"""Request and response shapes of the profile databases, profiles, imports and events."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
)

from scenaria.clock import to_datetime
from scenaria.model.profiles import (
    INT_MAX,
    INT_MIN,
    Channel,
    FieldType,
    ImportSource,
    ProfileDatabase,
    SubscriptionStatus,
)
from scenaria.model.task import TaskState
from scenaria.services import events as ev
from scenaria.services.csv_import import CsvImportReport
from scenaria.services.matching import MAX_KEY_LENGTH
from scenaria.services.profiles import MAX_BATCH, ImportResult, ProfileImport

MAX_ID = 2**63 - 1
# lt, not le: 2**63 is exact as the float an OpenAPI document holds, 2**63 - 1 is not.
Id = Annotated[int, Field(ge=1, lt=MAX_ID + 1)]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,63}$")]
GroupName = Annotated[str, Field(min_length=1, max_length=100)]
Groups = Annotated[list[GroupName], Field(max_length=50)]


def _scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise ValueError("a field value must be a string, number, boolean or null")


FieldValue = Annotated[
    Any,
    PlainValidator(_scalar),
    WithJsonSchema({"type": ["string", "number", "boolean", "null"]}),
]
"""A field's value as sent: the import converts it to the field's type, or refuses it
naming the field and the profile (``profile #2: loyalty_points: 'many' is not a valid int``)."""
MatchKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH)]
EventType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
MAX_JSON_DEPTH = 32


def _json_value(value: Any, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise ValueError(f"the integer {value} does not fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
    elif isinstance(value, dict):
        for item in value.values():
            _json_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _json_value(item, depth + 1)


def _storable(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse what the JSON columns cannot store: non-finite numbers, integers past
    64 bits, nesting deeper than :data:`MAX_JSON_DEPTH`."""
    _json_value(value)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_storable)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------- databases


class DatabaseIn(_In):
    name: str = Field(min_length=1, max_length=200)
    fields: dict[FieldName, FieldType] = Field(
        default_factory=dict,
        max_length=200,
        description="Custom fields and their types; `email` and `phone` (strings) always exist.",
    )
    match_field: FieldName = Field(
        "email", description="The field imports match existing profiles on (string, int or date)."
    )
    groups: Groups = Field(
        default_factory=list,
        description="Access groups: only their members (and admins) see the database, its "
        "profiles and segments; empty means everyone.",
    )


class DatabaseUpdate(_In):
    groups: Groups = Field(description="The new access groups; empty means everyone.")


class DatabaseOut(BaseModel):
    id: int
    name: str
    fields: dict[str, FieldType]
    """The custom fields."""
    all_fields: dict[str, FieldType]
    """Every field, the built-in ``email`` and ``phone`` included."""
    match_field: str
    groups: list[str]
    profiles: int | None = None
    """How many profiles it holds (given when one database is asked for)."""

    @classmethod
    def of(cls, database: ProfileDatabase, profiles: int | None = None) -> DatabaseOut:
        assert database.id is not None
        return cls(
            id=database.id,
            name=database.name,
            fields=dict(database.fields),
            all_fields=database.all_fields(),
            match_field=database.match_field,
            groups=list(database.groups),
            profiles=profiles,
        )


# -------------------------------------------------------------------------- profiles


class ProfileRowIn(_In):
    fields: dict[str, FieldValue] = Field(
        description="Field values by name; the match field is required. "
        "Each value is converted to its field's type (`date`: YYYY-MM-DD)."
    )
    subscriptions: dict[Channel, SubscriptionStatus] = Field(default_factory=dict)

    def to_import(self) -> ProfileImport:
        return ProfileImport.model_construct(
            fields=dict(self.fields), subscriptions=dict(self.subscriptions)
        )


class ProfileIn(ProfileRowIn):
    source: ImportSource = Field(
        ImportSource.API, description="Where the import comes from: its triggers fire."
    )


class ProfileBatchIn(_In):
    source: ImportSource = Field(
        ImportSource.API, description="Where the import comes from: its triggers fire."
    )
    profiles: list[ProfileRowIn] = Field(min_length=1, max_length=MAX_BATCH)
    skip_invalid: StrictBool = Field(
        False,
        description="Leave out the rows that cannot be imported (listed in `rejected` with "
        "their reason) and import the others, instead of refusing the whole batch.",
    )


class ImportOut(BaseModel):
    profile_id: int
    created: bool
    """False when an existing profile (same match key) was updated."""
    captured: int
    """Tasks the import triggers started."""


class RejectedRowOut(BaseModel):
    row: int
    """Its position in ``profiles``, from 1."""
    reason: str


class BatchImportOut(BaseModel):
    created: int
    updated: int
    captured: int
    profile_ids: list[int | None]
    """The profile of each row, in the order of the rows (null: a row left out)."""
    rejected: list[RejectedRowOut] = Field(default_factory=list)
    """With ``skip_invalid``: the rows left out, each with its reason."""

    @classmethod
    def of(cls, result: ImportResult) -> BatchImportOut:
        return cls(
            created=result.created,
            updated=result.updated,
            captured=result.captured,
            profile_ids=result.row_ids,
            rejected=[RejectedRowOut(row=n, reason=why) for n, why in result.rejected],
        )


class ProfileOut(BaseModel):
    id: int
    database_id: int
    match_key: str
    fields: dict[str, Any]
    subscriptions: dict[Channel, SubscriptionStatus]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> ProfileOut:
        return cls(**_profile(row))


def _profile(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "database_id": row["database_id"],
        "match_key": row["match_key"],
        "fields": row["fields"],
        "subscriptions": row["subscriptions"],
        "created_at": to_datetime(row["created_at"]),
        "updated_at": to_datetime(row["updated_at"]),
    }


class EventOut(BaseModel):
    id: int
    type: str
    at: datetime
    data: dict[str, Any] | None
    """A custom event's properties; the channel of a subscription event."""
    task_id: int | None
    node_id: str | None
    outbox_key: str | None
    """The message a message event (delivered, opened, clicked) is about."""


class VisitOut(BaseModel):
    node_id: str
    entered_at: datetime
    left_at: datetime
    port: str
    """The output it left by, or why it was taken out there."""


class InteractionOut(BaseModel):
    """One task: a pass of the profile through a scenario."""

    task_id: int
    scenario_id: int
    scenario_name: str | None
    state: TaskState
    entered_at: datetime
    current_node: str | None
    """Where a live task is now."""
    path: list[VisitOut]
    """The nodes it went through, each with the port it left by."""
    ended_at: datetime | None
    exit_node: str | None
    """The node it left the scenario at."""
    end_reason: str | None
    """Why it left: completed, exit_node, error, scenario_stopped, cleared …"""
    data: dict[str, Any]
    """API content, promo code, API responses, last error."""


class CardOut(ProfileOut):
    events: list[EventOut]
    """The latest events, newest first."""
    interactions: list[InteractionOut]

    @classmethod
    def of_card(cls, card: dict[str, Any]) -> CardOut:
        events = [
            EventOut(
                id=e["id"],
                type=e["type"],
                at=to_datetime(e["at"]),
                data=e["data"],
                task_id=e["task_id"],
                node_id=e["node_id"],
                outbox_key=e["outbox_key"],
            )
            for e in card["events"]
        ]
        interactions = []
        for task in card["tasks"]:
            ended = task["ended_at"]
            interactions.append(
                InteractionOut(
                    task_id=task["task_id"],
                    scenario_id=task["scenario_id"],
                    scenario_name=task["scenario_name"],
                    state=task["state"],
                    entered_at=to_datetime(task["entered_at"]),
                    current_node=None if ended is not None else task["node_id"],
                    path=[
                        VisitOut(
                            node_id=v["node_id"],
                            entered_at=to_datetime(v["entered_at"]),
                            left_at=to_datetime(v["left_at"]),
                            port=v["port"],
                        )
                        for v in task["path"]
                    ],
                    ended_at=None if ended is None else to_datetime(ended),
                    exit_node=task["exit_node"],
                    end_reason=task["end_reason"],
                    data=task["data"],
                )
            )
        return cls(**_profile(card), events=events, interactions=interactions)


class CsvRejectedOut(BaseModel):
    line: int
    """The line of the file (the header is line 1)."""
    reason: str


class CsvImportOut(BaseModel):
    database_id: int
    rows_read: int
    created: int
    updated: int
    captured: int
    """Tasks started by the import triggers the file fired."""
    batches: int
    """Transactions of up to 1,000 profiles the file was imported in."""
    rejected_count: int
    rejected: list[CsvRejectedOut]
    """The rejected lines (the first 1,000), each with its reason."""

    @classmethod
    def of(cls, report: CsvImportReport) -> CsvImportOut:
        return cls(
            database_id=report.database_id,
            rows_read=report.rows_read,
            created=report.created,
            updated=report.updated,
            captured=report.captured,
            batches=report.batches,
            rejected_count=report.rejected_count,
            rejected=[CsvRejectedOut(line=r.line, reason=r.reason) for r in report.rejected],
        )


# ---------------------------------------------------------------------------- events


class ProfileById(_In):
    id: Id


class ProfileByKey(_In):
    match_key: MatchKey
    """The value of the database's match field (an e-mail address, an external id …)."""


ProfileRefIn = ProfileById | ProfileByKey


def _ref(profile: ProfileRefIn) -> ev.ProfileRef:
    if isinstance(profile, ProfileById):
        return ev.ProfileRef(id=profile.id)
    return ev.ProfileRef(key=profile.match_key)


class CustomEventIn(_In):
    kind: Literal["custom"]
    profile: ProfileRefIn
    type: EventType = Field(description="The event's type, e.g. `purchase`.")
    properties: JsonObject = Field(default_factory=dict)

    def to_input(self) -> ev.EventInput:
        return ev.CustomEvent(_ref(self.profile), self.type, dict(self.properties))


class SubscriptionEventIn(_In):
    kind: Literal["subscription"]
    profile: ProfileRefIn
    channel: Channel
    action: ev.SubscriptionAction
    double_opt_in: StrictBool = Field(
        False, description="With `subscribe`: pending confirmation (`unconfirmed`) until confirmed."
    )

    def to_input(self) -> ev.EventInput:
        return ev.SubscriptionChange(
            _ref(self.profile), self.channel, self.action, self.double_opt_in
        )


EventIn = Annotated[CustomEventIn | SubscriptionEventIn, Field(discriminator="kind")]


class EventBatchIn(_In):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class EventResultOut(BaseModel):
    profile_id: int
    recorded: bool
    """False for a subscription change to the status the channel already had."""


class EventBatchOut(BaseModel):
    recorded: int
    results: list[EventResultOut]
    """One per event, in order."""

    @classmethod
    def of(cls, result: ev.EventsResult) -> EventBatchOut:
        return cls(
            recorded=sum(result.recorded),
            results=[
                EventResultOut(profile_id=p, recorded=r)
                for p, r in zip(result.profile_ids, result.recorded, strict=True)
            ],
        )


class MessageEventIn(_In):
    event: Literal["delivered", "opened", "clicked"]
    data: JsonObject | None = Field(None, description="e.g. the clicked link.")


class MessageEventOut(BaseModel):
    profile_id: int
    event: str
    at: datetime
