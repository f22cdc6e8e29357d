"""Request and response shapes of the scenario endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from scenaria.api.schemas.errors import ProblemOut
from scenaria.clock import to_datetime
from scenaria.model.scenario import (
    AttributeDefinition,
    ReentryMode,
    Scenario,
    ScenarioStatus,
)
from scenaria.services.scenarios import Engagement, Listed, Saved

MAX_ID = 2**53 - 1
"""The largest id the API takes: exact in every JSON client (the database holds 64 bits)."""


def _number(value: Any) -> Any:
    # JSON numbers only: "1" is not an id and true is not 1 (1.0 is, as JSON Schema says).
    if isinstance(value, (str, bool)):
        raise ValueError("expected a whole number")
    return value


# Request fields are strict about types: 0 is not false.
Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_number)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]
AttributeValue = Annotated[str, StringConstraints(max_length=200)]
Attributes = Annotated[
    dict[str, AttributeValue],
    Field(max_length=50, description="Values of the attributes from GET /scenario-attributes."),
]
Coordinate = Annotated[float, Field(allow_inf_nan=False, strict=True)]
Flag = Annotated[bool, Field(strict=True)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors -------------------------------------------------------------------------------


# -- the scenario -------------------------------------------------------------------------


class NodeSchema(Request):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    kind: str = Field(min_length=1, max_length=64, description="A kind from GET /node-kinds.")
    name: str = Field(default="", max_length=200)
    settings: dict[str, Any] = Field(
        default_factory=dict, description="As the kind's `settings_schema` describes."
    )
    position: tuple[Coordinate, Coordinate] | None = Field(
        default=None, description="Where the editor draws it."
    )


class EdgeSchema(Request):
    source: str = Field(min_length=1, max_length=64)
    port: str = Field(
        default="next", min_length=1, max_length=32, description="`next`, `yes`/`no` or `error`."
    )
    target: str = Field(min_length=1, max_length=64)


class ScenarioCreate(Request):
    database_id: Id = Field(description="The profile database the scenario captures from.")
    name: str = Field(min_length=1, max_length=200)
    reentry: ReentryMode = Field(description="What happens when a profile is captured again.")
    description: str = Field(default="", max_length=10_000)
    tags: list[Label] = Field(default_factory=list, max_length=50)
    groups: list[Label] = Field(
        default_factory=list,
        max_length=50,
        description="Access groups; none makes the scenario visible to everyone.",
    )
    attributes: Attributes = Field(default_factory=dict)
    nodes: list[NodeSchema] = Field(
        default_factory=list,
        max_length=500,
        description="The default capture (`default`) is added if missing.",
    )
    edges: list[EdgeSchema] = Field(default_factory=list, max_length=2000)


class ScenarioUpdate(Request):
    """Only what is given changes; omitted or null fields keep their value."""

    database_id: Id | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    reentry: ReentryMode | None = None
    description: str | None = Field(default=None, max_length=10_000)
    tags: list[Label] | None = Field(default=None, max_length=50)
    groups: list[Label] | None = Field(default=None, max_length=50)
    attributes: Attributes | None = None
    nodes: list[NodeSchema] | None = Field(default=None, max_length=500)
    edges: list[EdgeSchema] | None = Field(default=None, max_length=2000)

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class ScenarioOut(BaseModel):
    id: int
    database_id: int
    name: str
    description: str
    tags: list[str]
    groups: list[str]
    attributes: dict[str, str]
    reentry: ReentryMode
    status: ScenarioStatus
    version: int
    nodes: list[NodeSchema]
    edges: list[EdgeSchema]
    problems: list[ProblemOut] = Field(
        description="What blocks activation; empty when the scenario can be activated."
    )

    @classmethod
    def of(cls, saved: Saved) -> ScenarioOut:
        s = saved.scenario
        assert s.id is not None
        return cls(
            id=s.id,
            database_id=s.database_id,
            name=s.name,
            description=s.description,
            tags=s.tags,
            groups=s.groups,
            attributes=s.attributes,
            reentry=s.reentry,
            status=s.status,
            version=s.version,
            nodes=[NodeSchema.model_validate(n.model_dump()) for n in s.nodes],
            edges=[EdgeSchema.model_validate(e.model_dump()) for e in s.edges],
            problems=[ProblemOut.of(p) for p in saved.problems],
        )


class ScenarioSummaryOut(BaseModel):
    id: int
    database_id: int
    name: str
    status: ScenarioStatus
    reentry: ReentryMode
    tags: list[str]
    groups: list[str]
    valid: bool = Field(description="False while problems block activation.")
    inside: int = Field(description="Profiles in the scenario now.")
    updated_at: datetime

    @classmethod
    def of(cls, listed: Listed) -> ScenarioSummaryOut:
        s = listed.summary
        return cls(
            id=s.id,
            database_id=s.database_id,
            name=s.name,
            status=s.status,
            reentry=s.reentry,
            tags=s.tags,
            groups=s.groups,
            valid=s.valid,
            inside=listed.inside,
            updated_at=to_datetime(s.updated_at),
        )


class StatusOut(BaseModel):
    id: int
    status: ScenarioStatus
    version: int

    @classmethod
    def of(cls, scenario: Scenario) -> StatusOut:
        assert scenario.id is not None
        return cls(id=scenario.id, status=scenario.status, version=scenario.version)


class ValidationOut(BaseModel):
    valid: bool = Field(description="True when nothing blocks activation.")
    problems: list[ProblemOut]


# -- running ------------------------------------------------------------------------------


class ActivateOut(BaseModel):
    id: int
    status: ScenarioStatus
    woken: int = Field(description="Frozen tasks that woke and continue where they stopped.")


class StopIn(Request):
    keep_profiles: Flag = Field(
        default=False,
        description="Freeze the profiles inside; they wake when the scenario is activated "
        "again. Otherwise they all leave the scenario.",
    )


class StopOut(BaseModel):
    id: int
    status: ScenarioStatus
    keep_profiles: bool
    tasks: int = Field(description="Tasks frozen (keep_profiles) or taken out.")


class CloneIn(Request):
    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="Default: '<name> (copy)'."
    )


class EngageIn(Request):
    profile_id: Id
    api_content: dict[str, Any] | None = Field(
        default=None,
        description="JSON kept with the task, usable in templates and downloadable later.",
    )


class AddProfileIn(Request):
    profile_id: Id


class EngageOut(BaseModel):
    profile_id: int
    captured: bool
    task_id: int | None = Field(description="The new task, if captured.")
    refused_by: str | None = Field(
        description="The re-entry rule that refused the profile: `once_ever` or `not_while_active`."
    )
    reason: str | None = Field(description="Why the profile was not captured, readable.")

    @classmethod
    def of(cls, e: Engagement) -> EngageOut:
        return cls(
            profile_id=e.profile_id,
            captured=e.captured,
            task_id=e.task_id,
            refused_by=e.refused_by,
            reason=e.reason,
        )


class RemovedOut(BaseModel):
    removed: int = Field(description="Tasks taken out of the scenario.")


# -- journal, catalogue, attributes -------------------------------------------------------


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    user_name: str
    action: str
    details: dict[str, Any] | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> AuditEntryOut:
        return cls(
            id=row["id"],
            at=to_datetime(row["at"]),
            user_id=row["user_id"],
            user_name=row["user_name"],
            action=row["action"],
            details=row["details"],
        )


class NodeKindOut(BaseModel):
    kind: str
    title: str
    group: str = Field(description="trigger, operator, channel or action.")
    outputs: list[str]
    branches: list[str] = Field(description="Outputs that must be connected.")
    waits: bool = Field(description="A waiting element: a loop through it is allowed.")
    settings_schema: dict[str, Any] = Field(description="JSON Schema of the node's settings.")


class AttributeIn(Request):
    required: Flag = Field(default=False, description="Every scenario must then set it.")
    choices: list[AttributeValue] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Allowed values, each once; null: any text.",
        json_schema_extra={"uniqueItems": True},
    )


class AttributeOut(BaseModel):
    name: str
    required: bool
    choices: list[str] | None

    @classmethod
    def of(cls, d: AttributeDefinition) -> AttributeOut:
        return cls(
            name=d.name,
            required=d.required,
            choices=list(d.choices) if d.choices is not None else None,
        )
