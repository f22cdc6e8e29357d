"""The statistics endpoints: period and real-time counts, the tasks waiting in a node,
their API content, and taking them out of the scenario."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from scenaria.api.deps import AppDep, CurrentUser
from scenaria.api.routes.scenarios import ERRORS, ScenarioId
from scenaria.api.schemas.scenarios import MAX_ID, RemovedOut
from scenaria.api.schemas.stats import IsoDate, PeriodStatsOut, RealtimeStatsOut, WaitingPageOut

router = APIRouter(tags=["stats"], responses=ERRORS)

NodeId = Annotated[str, Path(min_length=1, max_length=64, description="The node's id.")]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID, description="The task's id.")]


@router.get("/scenarios/{scenario_id:int}/stats", response_model=PeriodStatsOut)
def period_stats(
    app: AppDep,
    user: CurrentUser,
    scenario_id: ScenarioId,
    date_from: Annotated[
        IsoDate | None, Query(description="First day (UTC), included; default: 6 days before.")
    ] = None,
    date_to: Annotated[
        IsoDate | None, Query(description="Last day (UTC), included; default: today.")
    ] = None,
) -> PeriodStatsOut:
    """Profiles entered, completed and errors over a period (default the last 7 days), and
    how many entered and left each node."""
    return PeriodStatsOut.of(app.stats.period(scenario_id, date_from, date_to, user))


@router.get("/scenarios/{scenario_id:int}/stats/realtime", response_model=RealtimeStatsOut)
def realtime_stats(app: AppDep, user: CurrentUser, scenario_id: ScenarioId) -> RealtimeStatsOut:
    """Profiles inside the scenario right now, in all and per node."""
    return RealtimeStatsOut.of(app.stats.realtime(scenario_id, user))


@router.get("/scenarios/{scenario_id:int}/nodes/{node_id}/tasks", response_model=WaitingPageOut)
def tasks_in_node(
    app: AppDep,
    user: CurrentUser,
    scenario_id: ScenarioId,
    node_id: NodeId,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> WaitingPageOut:
    """The profiles in a node, soonest to leave first, with the exact time each leaves."""
    page = app.stats.waiting(scenario_id, node_id, limit, offset, user)
    return WaitingPageOut.of(page, limit, offset)


@router.delete("/scenarios/{scenario_id:int}/nodes/{node_id}/tasks", response_model=RemovedOut)
def remove_node_tasks(
    app: AppDep, user: CurrentUser, scenario_id: ScenarioId, node_id: NodeId
) -> RemovedOut:
    """Take every profile now in this node out of the scenario."""
    return RemovedOut(removed=app.scenarios.remove_node_tasks(scenario_id, node_id, user))


@router.get(
    "/scenarios/{scenario_id:int}/tasks/{task_id:int}/api-content",
    response_model=dict[str, Any],
    responses={200: {"description": "The task's API content, as a JSON file."}},
)
def download_api_content(
    app: AppDep, user: CurrentUser, scenario_id: ScenarioId, task_id: TaskId
) -> JSONResponse:
    """The API content the profile was engaged with, as a file (404 if there was none)."""
    content = app.stats.api_content(scenario_id, task_id, user)
    return JSONResponse(
        content,
        headers={"Content-Disposition": f'attachment; filename="task-{task_id}-api-content.json"'},
    )


@router.delete("/scenarios/{scenario_id:int}/tasks/{task_id:int}", response_model=RemovedOut)
def remove_task(
    app: AppDep, user: CurrentUser, scenario_id: ScenarioId, task_id: TaskId
) -> RemovedOut:
    """Take one profile's task out of the scenario (409 if it has already left)."""
    app.scenarios.remove_task(task_id, user, scenario_id)
    return RemovedOut(removed=1)
