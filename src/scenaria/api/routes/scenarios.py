"""The scenarios endpoints: list, create, edit, validate, run, engage, files, journal."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request, Response
from fastapi import status as http
from starlette.concurrency import run_in_threadpool

from scenaria.api.deps import AppDep, CurrentUser
from scenaria.api.schemas.errors import ProblemOut, error_responses
from scenaria.api.schemas.scenarios import (
    MAX_ID,
    ActivateOut,
    AddProfileIn,
    AttributeIn,
    AttributeOut,
    AuditEntryOut,
    CloneIn,
    EngageIn,
    EngageOut,
    NodeKindOut,
    RemovedOut,
    ScenarioCreate,
    ScenarioOut,
    ScenarioSummaryOut,
    ScenarioUpdate,
    StatusOut,
    StopIn,
    StopOut,
    ValidationOut,
)
from scenaria.errors import InvalidInput
from scenaria.model import scenario_file
from scenaria.model.scenario import ATTRIBUTE_NAME, AttributeDefinition, ScenarioStatus

ERRORS = error_responses(
    400, 401, 404, 409, 422, _422="Invalid input; scenario problems are listed."
)

router = APIRouter(tags=["scenarios"], responses=ERRORS)

ScenarioId = Annotated[int, Path(ge=1, le=MAX_ID, description="The scenario's id.")]
ScenarioFileBody = {
    "required": True,
    "description": "A scenario file (as GET /scenarios/{scenario_id}/file exports), YAML or JSON.",
    "content": {
        "application/yaml": {"schema": {"type": "string"}},
        "text/yaml": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "object"}},
        "text/plain": {"schema": {"type": "string"}},
    },
}
FILE_TYPES = {"yaml": "application/yaml", "json": "application/json"}


@router.get("/scenarios", response_model=list[ScenarioSummaryOut])
def list_scenarios(
    app: AppDep,
    user: CurrentUser,
    tag: Annotated[str | None, Query(max_length=64, description="Only with this tag.")] = None,
    status: Annotated[
        ScenarioStatus | None,
        Query(description="Only in this status; the trash shows only with `trashed`."),
    ] = None,
) -> list[ScenarioSummaryOut]:
    """Scenarios the user may see, with how many profiles are inside now."""
    return [
        ScenarioSummaryOut.of(s) for s in app.scenarios.list_scenarios(user, tag=tag, status=status)
    ]


@router.post("/scenarios", response_model=ScenarioOut, status_code=http.HTTP_201_CREATED)
def create_scenario(app: AppDep, user: CurrentUser, body: ScenarioCreate) -> ScenarioOut:
    """A new draft. Problems that block activation are listed; those that forbid saving
    (an unconnected trigger, more than 10 triggers, a missing required attribute) get 422."""
    return ScenarioOut.of(app.scenarios.create(body.model_dump(), user))


@router.post("/scenarios/validate", response_model=ValidationOut)
def validate_scenario(app: AppDep, user: CurrentUser, body: ScenarioCreate) -> ValidationOut:
    """The problems a scenario would have, each naming its node, without saving it."""
    problems = app.scenarios.check_spec(body.model_dump())
    return ValidationOut(valid=not problems, problems=[ProblemOut.of(p) for p in problems])


@router.post(
    "/scenarios/import",
    response_model=ScenarioOut,
    status_code=http.HTTP_201_CREATED,
    openapi_extra={"requestBody": ScenarioFileBody},
)
async def import_scenario(
    request: Request,
    app: AppDep,
    user: CurrentUser,
    database_id: Annotated[
        int, Query(ge=1, le=MAX_ID, description="The profile database to bind it to.")
    ],
) -> ScenarioOut:
    """A new draft from a scenario file (at most 1 MiB; YAML aliases are refused)."""
    raw = await request.body()
    if len(raw) > scenario_file.MAX_DOCUMENT_BYTES:  # before decoding it
        raise InvalidInput(
            f"a scenario file may hold at most {scenario_file.MAX_DOCUMENT_BYTES} bytes"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("a scenario file must be UTF-8 text") from exc
    saved = await run_in_threadpool(app.scenarios.import_text, text, database_id, user)
    return ScenarioOut.of(saved)


@router.get("/scenarios/{scenario_id:int}", response_model=ScenarioOut)
def get_scenario(app: AppDep, user: CurrentUser, scenario_id: ScenarioId) -> ScenarioOut:
    """The scenario with its graph and the problems that block its activation now."""
    return ScenarioOut.of(app.scenarios.inspect(scenario_id, user))


@router.patch("/scenarios/{scenario_id:int}", response_model=ScenarioOut)
def update_scenario(
    app: AppDep, user: CurrentUser, scenario_id: ScenarioId, body: ScenarioUpdate
) -> ScenarioOut:
    """Change name, description, tags, groups, attributes, database, re-entry mode or graph.
    Nodes removed from the graph take the profiles waiting in them out of the scenario."""
    return ScenarioOut.of(app.scenarios.update(scenario_id, body.changes(), user))


@router.post("/scenarios/{scenario_id:int}/activate", response_model=ActivateOut)
def activate_scenario(app: AppDep, user: CurrentUser, scenario_id: ScenarioId) -> ActivateOut:
    """Start capturing; frozen profiles wake and continue where they stopped."""
    woken = app.scenarios.activate(scenario_id, user)
    return ActivateOut(id=scenario_id, status=ScenarioStatus.ACTIVE, woken=woken)


@router.post("/scenarios/{scenario_id:int}/stop", response_model=StopOut)
def stop_scenario(
    app: AppDep,
    user: CurrentUser,
    scenario_id: ScenarioId,
    body: Annotated[StopIn | None, Body()] = None,
) -> StopOut:
    """Stop capturing; the profiles inside leave, or are frozen with `keep_profiles`."""
    keep = body.keep_profiles if body else False
    tasks = app.scenarios.stop(scenario_id, keep, user)
    return StopOut(id=scenario_id, status=ScenarioStatus.INACTIVE, keep_profiles=keep, tasks=tasks)


@router.post(
    "/scenarios/{scenario_id:int}/clone",
    response_model=ScenarioOut,
    status_code=http.HTTP_201_CREATED,
)
def clone_scenario(
    app: AppDep,
    user: CurrentUser,
    scenario_id: ScenarioId,
    body: Annotated[CloneIn | None, Body()] = None,
) -> ScenarioOut:
    """A new draft with the same settings and graph, without profiles or statistics."""
    return ScenarioOut.of(app.scenarios.clone(scenario_id, user, body.name if body else None))


@router.post("/scenarios/{scenario_id:int}/trash", response_model=StatusOut)
def trash_scenario(app: AppDep, user: CurrentUser, scenario_id: ScenarioId) -> StatusOut:
    """Move an inactive scenario to the trash (409 while it is active)."""
    return StatusOut.of(app.scenarios.trash(scenario_id, user))


@router.post("/scenarios/{scenario_id:int}/restore", response_model=StatusOut)
def restore_scenario(app: AppDep, user: CurrentUser, scenario_id: ScenarioId) -> StatusOut:
    """Take a scenario out of the trash; it comes back inactive."""
    return StatusOut.of(app.scenarios.restore(scenario_id, user))


@router.post("/scenarios/{scenario_id:int}/engage", response_model=EngageOut)
def engage_profile(
    app: AppDep, user: CurrentUser, scenario_id: ScenarioId, body: EngageIn
) -> EngageOut:
    """Bring a profile in through the default capture, with optional API content. The
    answer says whether it was captured or which re-entry rule refused it."""
    return EngageOut.of(
        app.scenarios.engage_profile(scenario_id, body.profile_id, body.api_content, user)
    )


@router.post("/scenarios/{scenario_id:int}/profiles", response_model=EngageOut)
def add_profile(
    app: AppDep, user: CurrentUser, scenario_id: ScenarioId, body: AddProfileIn
) -> EngageOut:
    """Add a profile by hand (through the default capture); recorded in the audit journal."""
    return EngageOut.of(
        app.scenarios.engage_profile(scenario_id, body.profile_id, None, user, manual=True)
    )


@router.post("/scenarios/{scenario_id:int}/clear", response_model=RemovedOut)
def clear_profiles(app: AppDep, user: CurrentUser, scenario_id: ScenarioId) -> RemovedOut:
    """'Clear all profiles': take every profile inside now out of the scenario."""
    return RemovedOut(removed=app.scenarios.clear_all(scenario_id, user))


@router.get(
    "/scenarios/{scenario_id:int}/file",
    response_model=None,
    response_class=Response,
    responses={
        200: {
            "description": "The scenario file, as an attachment.",
            "content": {
                "application/yaml": {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
def export_scenario(
    app: AppDep,
    user: CurrentUser,
    scenario_id: ScenarioId,
    fmt: Annotated[
        Literal["yaml", "json"], Query(alias="format", description="File format.")
    ] = "yaml",
) -> Response:
    """The scenario as a readable, diffable YAML or JSON file (POST /scenarios/import
    takes it back)."""
    text = app.scenarios.export(scenario_id, fmt, user)
    return Response(
        text,
        media_type=FILE_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="scenario-{scenario_id}.{fmt}"'},
    )


@router.get("/scenarios/{scenario_id:int}/audit", response_model=list[AuditEntryOut])
def scenario_audit(
    app: AppDep,
    user: CurrentUser,
    scenario_id: ScenarioId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    """Who changed the scenario and when, newest first."""
    return [AuditEntryOut.of(e) for e in app.scenarios.audit_log(scenario_id, user, limit)]


@router.get("/node-kinds", response_model=list[NodeKindOut])
def node_kinds(app: AppDep, user: CurrentUser) -> list[NodeKindOut]:
    """Every node kind an editor can place: group, outputs and settings schema."""
    return [NodeKindOut.model_validate(k) for k in app.scenarios.node_kinds()]


@router.get("/scenario-attributes", response_model=list[AttributeOut])
def list_attributes(app: AppDep, user: CurrentUser) -> list[AttributeOut]:
    """The account's scenario attributes; required ones must be set on every scenario."""
    return [AttributeOut.of(d) for d in app.scenarios.attributes()]


@router.put(
    "/scenario-attributes/{name}",
    response_model=AttributeOut,
    responses=error_responses(403),
)
def define_attribute(
    app: AppDep,
    user: CurrentUser,
    name: Annotated[str, Path(pattern=ATTRIBUTE_NAME)],
    body: AttributeIn,
) -> AttributeOut:
    """Create or change an attribute (admins only): whether it is required and its
    allowed values."""
    if not user.is_admin:
        raise HTTPException(http.HTTP_403_FORBIDDEN, "only an admin can define scenario attributes")
    choices = tuple(body.choices) if body.choices is not None else None
    definition = AttributeDefinition(name=name, required=body.required, choices=choices)
    return AttributeOut.of(app.scenarios.define_attribute(definition, user))
