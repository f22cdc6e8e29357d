"""Tasks and their node-visit history."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Row, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from scenaria.errors import NotFound
from scenaria.model.task import LIVE_STATES, Task, TaskState, states_that_may_become
from scenaria.store.dialect import chunks, execute_many, lock_for_claim
from scenaria.store.schema import tasks, visits

_MUTABLE = (
    "state",
    "node_id",
    "node_entered_at",
    "due_at",
    "resume_port",
    "visit",
    "data",
    "ended_at",
    "end_reason",
    "exit_node",
)
_LIVE = [s.value for s in LIVE_STATES]


def _task(row: Row[Any]) -> Task:
    return Task(
        id=row.id,
        scenario_id=row.scenario_id,
        profile_id=row.profile_id,
        state=TaskState(row.state),
        node_id=row.node_id,
        node_entered_at=row.node_entered_at,
        entered_at=row.entered_at,
        due_at=row.due_at,
        resume_port=row.resume_port,
        visit=row.visit,
        data=row.data or {},
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        exit_node=row.exit_node,
    )


def _values(task: Task) -> dict[str, Any]:
    values = {name: getattr(task, name) for name in _MUTABLE}
    values["state"] = task.state.value
    values["data"] = task.data or None
    return values


def _raw_values(task: Task) -> dict[str, Any]:
    """Column values for :func:`execute_many`, JSON already serialised."""
    return {
        "_id": task.id,
        "state": task.state.value,
        "node_id": task.node_id,
        "node_entered_at": task.node_entered_at,
        "due_at": task.due_at,
        "resume_port": task.resume_port,
        "visit": task.visit,
        "data": orjson.dumps(task.data).decode() if task.data else None,
        "ended_at": task.ended_at,
        "end_reason": task.end_reason,
        "exit_node": task.exit_node,
    }


# Hot statements are built once: constructing a SQLAlchemy statement costs more
# than running it on SQLite.
_UPDATE = (
    update(tasks)
    .where(tasks.c.id == bindparam("_id"))
    .values({name: bindparam(name) for name in _MUTABLE})
)
_CLAIM = (
    select(tasks)
    .where(tasks.c.state == TaskState.SCHEDULED.value, tasks.c.due_at <= bindparam("now"))
    .order_by(tasks.c.due_at)
    .limit(bindparam("limit"))
)
_INSERT_VISIT = insert(visits).values({c.name: bindparam(c.name) for c in visits.columns})
_GET_MANY = select(tasks).where(tasks.c.id.in_(bindparam("ids", expanding=True)))
_RESUME = (
    update(tasks)
    .where(
        tasks.c.id == bindparam("_id"),
        or_(tasks.c.state == TaskState.AWAITING.value, tasks.c.state == TaskState.FROZEN.value),
        tasks.c.due_at.is_(None),
    )
    .values(
        resume_port=bindparam("port"),
        due_at=bindparam("due_at"),
        data=bindparam("data"),
        # A task whose scenario was stopped with its profiles kept stays frozen.
        state=case(
            (tasks.c.state == TaskState.FROZEN.value, TaskState.FROZEN.value),
            else_=TaskState.SCHEDULED.value,
        ),
    )
)


class TaskRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._claim = lock_for_claim(conn, _CLAIM)

    def claim_due(self, now: float, limit: int) -> list[Task]:
        return [_task(r) for r in self.conn.execute(self._claim, {"now": now, "limit": limit})]

    def next_due(self) -> float | None:
        value = self.conn.execute(
            select(func.min(tasks.c.due_at)).where(tasks.c.state == TaskState.SCHEDULED.value)
        ).scalar()
        return float(value) if value is not None else None

    def insert_many(self, new: Sequence[Task]) -> None:
        """Insert tasks and set their ids."""
        if not new:
            return
        rows = [
            {
                **_values(t),
                "scenario_id": t.scenario_id,
                "profile_id": t.profile_id,
                "entered_at": t.entered_at,
            }
            for t in new
        ]
        result = self.conn.execute(
            insert(tasks).returning(tasks.c.id, sort_by_parameter_order=True), rows
        )
        for task, (task_id,) in zip(new, result, strict=True):
            task.id = task_id

    def update_many(self, changed: Iterable[Task]) -> None:
        execute_many(self.conn, _UPDATE, [_raw_values(t) for t in changed])

    def get(self, task_id: int) -> Task:
        found = self.get_many([task_id])
        if not found:
            raise NotFound(f"task {task_id} does not exist")
        return found[task_id]

    def get_many(self, ids: Sequence[int]) -> dict[int, Task]:
        out: dict[int, Task] = {}
        for chunk in chunks(ids):
            rows = self.conn.execute(_GET_MANY, {"ids": list(chunk)})
            out.update((r.id, _task(r)) for r in rows)
        return out

    def for_profiles(self, scenario_id: int, profile_ids: Sequence[int]) -> dict[int, list[Task]]:
        """Every task (live or ended) these profiles have had in the scenario."""
        found: dict[int, list[Task]] = {}
        for chunk in chunks(profile_ids):
            rows = self.conn.execute(
                select(tasks).where(
                    tasks.c.scenario_id == scenario_id, tasks.c.profile_id.in_(chunk)
                )
            )
            for row in rows:
                found.setdefault(row.profile_id, []).append(_task(row))
        return found

    def for_profile(self, profile_id: int) -> list[Task]:
        rows = self.conn.execute(
            select(tasks).where(tasks.c.profile_id == profile_id).order_by(tasks.c.id)
        )
        return [_task(r) for r in rows]

    def live(
        self, scenario_id: int, node_id: str | None = None, batch: int = 2000
    ) -> Iterator[list[Task]]:
        """Live tasks of a scenario (or one node), in batches, oldest first."""
        last = 0
        while True:
            query = select(tasks).where(
                tasks.c.scenario_id == scenario_id,
                tasks.c.state.in_(_LIVE),
                tasks.c.id > last,
            )
            if node_id is not None:
                query = query.where(tasks.c.node_id == node_id)
            chunk = [_task(r) for r in self.conn.execute(query.order_by(tasks.c.id).limit(batch))]
            if not chunk:
                return
            yield chunk
            last = chunk[-1].id

    def in_node(self, scenario_id: int, node_id: str, limit: int, offset: int) -> list[Task]:
        rows = self.conn.execute(
            select(tasks)
            .where(
                tasks.c.scenario_id == scenario_id,
                tasks.c.node_id == node_id,
                tasks.c.state.in_(_LIVE),
            )
            .order_by(tasks.c.due_at, tasks.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_task(r) for r in rows]

    def freeze(self, scenario_id: int) -> int:
        sources = [s.value for s in states_that_may_become(TaskState.FROZEN) if s in LIVE_STATES]
        result = self.conn.execute(
            update(tasks)
            .where(tasks.c.scenario_id == scenario_id, tasks.c.state.in_(sources))
            .values(state=TaskState.FROZEN.value)
        )
        return int(result.rowcount)

    def unfreeze(self, scenario_id: int) -> int:
        """Wake frozen tasks where they stopped: timers resume, overdue ones fire at once."""
        result = self.conn.execute(
            update(tasks)
            .where(tasks.c.scenario_id == scenario_id, tasks.c.state == TaskState.FROZEN.value)
            .values(
                state=case(
                    (tasks.c.due_at.is_(None), TaskState.AWAITING.value),
                    else_=TaskState.SCHEDULED.value,
                )
            )
        )
        return int(result.rowcount)

    def count_live(self, scenario_id: int | None = None) -> int:
        query = select(func.count()).select_from(tasks).where(tasks.c.state.in_(_LIVE))
        if scenario_id is not None:
            query = query.where(tasks.c.scenario_id == scenario_id)
        return int(self.conn.execute(query).scalar_one())

    def count_by_state(self, scenario_id: int) -> dict[str, int]:
        rows = self.conn.execute(
            select(tasks.c.state, func.count())
            .where(tasks.c.scenario_id == scenario_id)
            .group_by(tasks.c.state)
        )
        return {r[0]: int(r[1]) for r in rows}

    def live_by_node(self, scenario_id: int) -> dict[str, int]:
        rows = self.conn.execute(
            select(tasks.c.node_id, func.count())
            .where(tasks.c.scenario_id == scenario_id, tasks.c.state.in_(_LIVE))
            .group_by(tasks.c.node_id)
        )
        return {r[0]: int(r[1]) for r in rows}

    def resume_many(self, rows: list[dict[str, Any]]) -> None:
        """Resume awaiting tasks: rows of ``_id``, ``port``, ``due_at``, ``data``."""
        execute_many(
            self.conn,
            _RESUME,
            [{**r, "data": orjson.dumps(r["data"]).decode() if r["data"] else None} for r in rows],
        )

    def all_ids(self, scenario_id: int) -> list[int]:
        return list(
            self.conn.execute(
                select(tasks.c.id).where(tasks.c.scenario_id == scenario_id).order_by(tasks.c.id)
            ).scalars()
        )


class VisitRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert_many(self, rows: list[dict[str, Any]]) -> None:
        """Rows of task_id, seq, node_id, entered_at, left_at, port."""
        execute_many(self.conn, _INSERT_VISIT, rows)

    def for_task(self, task_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            select(visits).where(visits.c.task_id == task_id).order_by(visits.c.seq)
        )
        return [dict(r._mapping) for r in rows]

    def count_by_node(self, task_ids: Sequence[int] | None = None) -> dict[str, int]:
        query = select(visits.c.node_id, func.count()).group_by(visits.c.node_id)
        if task_ids is not None:
            query = query.where(visits.c.task_id.in_(task_ids))
        return {r[0]: int(r[1]) for r in self.conn.execute(query)}

    def exists(self, task_id: int, seq: int) -> bool:
        return (
            self.conn.execute(
                select(visits.c.seq).where(and_(visits.c.task_id == task_id, visits.c.seq == seq))
            ).first()
            is not None
        )
