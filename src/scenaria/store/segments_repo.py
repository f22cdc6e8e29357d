"""Segments, static members, and dynamic rules turned into one SQL condition.

A dynamic segment is evaluated by the database, never by a Python loop over
profiles: its rules become a WHERE clause on ``profiles`` (JSON field access,
cast to the field's type) with EXISTS subqueries on ``events`` and ``tasks``,
so counting a million profiles is one statement. Every clause is written to be
TRUE or FALSE, never NULL (a missing field compares as false), so ``negate``
is an exact complement.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from scenaria.clock import DAY
from scenaria.errors import InvalidInput, NotFound
from scenaria.model.profiles import NUMERIC_TYPES, FieldType
from scenaria.model.segments import (
    EventRule,
    FieldRule,
    Participation,
    RuleGroup,
    ScenarioRule,
    Segment,
    SegmentKind,
    SubscriptionRule,
)
from scenaria.model.task import LIVE_STATES, TaskState
from scenaria.store.dialect import chunks
from scenaria.store.schema import events, profiles, segment_members, segments, tasks

_CHUNK = 500
_MEMBER_COLUMNS = (
    profiles.c.id,
    profiles.c.match_key,
    profiles.c.fields,
    profiles.c.subscriptions,
    profiles.c.created_at,
    profiles.c.updated_at,
)
_COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
_PARTICIPATION_STATES: dict[Participation, list[str] | None] = {
    Participation.EVER: None,
    Participation.NOW: sorted(s.value for s in LIVE_STATES),
    Participation.COMPLETED: [TaskState.FINISHED.value],
    Participation.FAILED: [TaskState.FAILED.value],
}


def _field_clause(rule: FieldRule, kind: FieldType) -> ColumnElement[bool]:
    raw = profiles.c.fields[rule.field]
    text = raw.as_string()
    if rule.op == "is_set":
        return and_(text.is_not(None), text != "")
    if rule.op == "is_not_set":
        return or_(text.is_(None), text == "")
    if rule.op == "contains":
        needle = str(rule.value).lower()
        return and_(text.is_not(None), func.lower(text).contains(needle, autoescape=True))
    value: Any
    column: ColumnElement[Any]
    if kind in NUMERIC_TYPES:
        assert isinstance(rule.value, (int, float)), "rules are coerced when saved"
        column, value = raw.as_float(), float(rule.value)
    elif kind is FieldType.BOOL:
        column, value = raw.as_boolean(), bool(rule.value)
    else:  # strings, and dates as ISO text, which sorts like the dates
        column, value = text, str(rule.value)
    if rule.op == "ne":
        return or_(column.is_(None), column != value)
    compare = _COMPARE[rule.op]
    return and_(column.is_not(None), compare(column, value))


def _clause(rule: Any, fields: Mapping[str, FieldType], now: float) -> ColumnElement[bool]:
    clause: ColumnElement[bool]
    if isinstance(rule, RuleGroup):
        return rules_clause(rule, fields, now)
    if isinstance(rule, FieldRule):
        kind = fields.get(rule.field)
        if kind is None:
            raise InvalidInput(f"field '{rule.field}' is no longer in the profile database")
        clause = _field_clause(rule, kind)
    elif isinstance(rule, SubscriptionRule):
        status = profiles.c.subscriptions[rule.channel.value].as_string()
        clause = and_(status.is_not(None), status == rule.status.value)
    elif isinstance(rule, EventRule):
        query = exists().where(events.c.profile_id == profiles.c.id, events.c.type == rule.event)
        if rule.within_days is not None:
            query = query.where(events.c.at >= now - rule.within_days * DAY)
        clause = query
    else:
        assert isinstance(rule, ScenarioRule)
        query = exists().where(
            tasks.c.scenario_id == rule.scenario_id, tasks.c.profile_id == profiles.c.id
        )
        states = _PARTICIPATION_STATES[rule.participation]
        if states is not None:
            query = query.where(tasks.c.state.in_(states))
        clause = query
    return not_(clause) if rule.negate else clause


def rules_clause(
    group: RuleGroup, fields: Mapping[str, FieldType], now: float
) -> ColumnElement[bool]:
    """The WHERE condition on ``profiles`` that selects the profiles matching ``group``.

    ``now`` anchors the "in the last N days" of event rules.
    """
    parts = [_clause(rule, fields, now) for rule in group.rules]
    joined = and_(*parts) if group.match == "all" else or_(*parts)
    return not_(joined) if group.negate else joined


def _segment(row: Row[Any]) -> Segment:
    return Segment(
        id=row.id,
        database_id=row.database_id,
        name=row.name,
        kind=SegmentKind(row.kind),
        rules=RuleGroup.model_validate(row.rules) if row.rules is not None else None,
        groups=tuple(row.groups),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SegmentRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # ----------------------------------------------------------------- segments

    @staticmethod
    def _values(segment: Segment) -> dict[str, Any]:
        return {
            "database_id": segment.database_id,
            "name": segment.name,
            "kind": segment.kind.value,
            "rules": segment.rules.model_dump(mode="json") if segment.rules else None,
            "groups": list(segment.groups),
        }

    def add(self, segment: Segment, now: float) -> Segment:
        result = self.conn.execute(
            insert(segments).values(**self._values(segment), created_at=now, updated_at=now)
        )
        assert result.inserted_primary_key is not None
        return segment.model_copy(
            update={"id": result.inserted_primary_key[0], "created_at": now, "updated_at": now}
        )

    def update(self, segment: Segment, now: float) -> Segment:
        self.conn.execute(
            update(segments)
            .where(segments.c.id == segment.id)
            .values(**self._values(segment), updated_at=now)
        )
        return segment.model_copy(update={"updated_at": now})

    def get(self, segment_id: int) -> Segment:
        row = self.conn.execute(select(segments).where(segments.c.id == segment_id)).first()
        if row is None:
            raise NotFound(f"segment {segment_id} does not exist")
        return _segment(row)

    def list_all(
        self, database_id: int | None = None, kind: SegmentKind | None = None
    ) -> list[Segment]:
        query = select(segments).order_by(segments.c.id)
        if database_id is not None:
            query = query.where(segments.c.database_id == database_id)
        if kind is not None:
            query = query.where(segments.c.kind == kind.value)
        return [_segment(r) for r in self.conn.execute(query)]

    def delete(self, segment_id: int) -> None:
        self.conn.execute(delete(segment_members).where(segment_members.c.segment_id == segment_id))
        self.conn.execute(delete(segments).where(segments.c.id == segment_id))

    # ----------------------------------------------------------- static members

    def profiles_in_database(self, database_id: int, ids: Sequence[int]) -> set[int]:
        """Which of ``ids`` are profiles of the database."""
        found: set[int] = set()
        for chunk in chunks(ids, _CHUNK):
            found.update(
                self.conn.execute(
                    select(profiles.c.id).where(
                        profiles.c.database_id == database_id, profiles.c.id.in_(chunk)
                    )
                ).scalars()
            )
        return found

    def ids_by_keys(self, database_id: int, keys: Sequence[str]) -> dict[str, int]:
        """Profile ids by match key, for the keys that name a profile of the database."""
        found: dict[str, int] = {}
        for chunk in chunks(keys, _CHUNK):
            rows = self.conn.execute(
                select(profiles.c.match_key, profiles.c.id).where(
                    profiles.c.database_id == database_id, profiles.c.match_key.in_(chunk)
                )
            )
            found.update((r.match_key, r.id) for r in rows)
        return found

    def add_members(self, segment_id: int, database_id: int, profile_ids: Sequence[int]) -> int:
        """Add the profiles of the database that are not members yet; returns how many."""
        added = 0
        for chunk in chunks(profile_ids, _CHUNK):
            already = exists().where(
                segment_members.c.segment_id == segment_id,
                segment_members.c.profile_id == profiles.c.id,
            )
            source = select(literal(segment_id), profiles.c.id).where(
                profiles.c.id.in_(chunk), profiles.c.database_id == database_id, ~already
            )
            # An INSERT's rowcount is only kept when asked for (psycopg drops it).
            result = self.conn.execute(
                insert(segment_members).from_select(["segment_id", "profile_id"], source),
                execution_options={"preserve_rowcount": True},
            )
            added += int(result.rowcount)
        return added

    def remove_members(self, segment_id: int, profile_ids: Sequence[int]) -> int:
        removed = 0
        for chunk in chunks(profile_ids, _CHUNK):
            result = self.conn.execute(
                delete(segment_members).where(
                    segment_members.c.segment_id == segment_id,
                    segment_members.c.profile_id.in_(chunk),
                )
            )
            removed += int(result.rowcount)
        return removed

    def clear_members(self, segment_id: int) -> int:
        result = self.conn.execute(
            delete(segment_members).where(segment_members.c.segment_id == segment_id)
        )
        return int(result.rowcount)

    # ---------------------------------------------------------------- members

    def _members(
        self, segment: Segment, fields: Mapping[str, FieldType], now: float, columns: Any
    ) -> tuple[Select[Any], ColumnElement[Any]]:
        """The members query and the profile-id column to order and page it by."""
        if segment.kind is SegmentKind.STATIC:
            joined = segment_members.join(profiles, profiles.c.id == segment_members.c.profile_id)
            query = (
                select(*columns)
                .select_from(joined)
                .where(segment_members.c.segment_id == segment.id)
            )
            return query, segment_members.c.profile_id
        assert segment.rules is not None
        return self._matching(segment.database_id, segment.rules, fields, now, columns), (
            profiles.c.id
        )

    @staticmethod
    def _matching(
        database_id: int,
        rules: RuleGroup,
        fields: Mapping[str, FieldType],
        now: float,
        columns: Any,
    ) -> Select[Any]:
        return select(*columns).where(
            profiles.c.database_id == database_id, rules_clause(rules, fields, now)
        )

    def member_page(
        self,
        segment: Segment,
        fields: Mapping[str, FieldType],
        now: float,
        after: int = 0,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Members with an id above ``after``, by id: the page after the one ending at it."""
        query, key = self._members(segment, fields, now, _MEMBER_COLUMNS)
        rows = self.conn.execute(query.where(key > after).order_by(key).limit(limit))
        return [dict(r._mapping) for r in rows]

    def member_ids(
        self,
        segment: Segment,
        fields: Mapping[str, FieldType],
        now: float,
        after: int = 0,
        limit: int = 1000,
    ) -> list[int]:
        query, key = self._members(segment, fields, now, (profiles.c.id,))
        rows = self.conn.execute(query.where(key > after).order_by(key).limit(limit))
        return list(rows.scalars())

    def count(self, segment: Segment, fields: Mapping[str, FieldType], now: float) -> int:
        query, _ = self._members(segment, fields, now, (func.count(),))
        return int(self.conn.execute(query).scalar_one())

    def count_matching(
        self, database_id: int, rules: RuleGroup, fields: Mapping[str, FieldType], now: float
    ) -> int:
        """How many profiles of the database the rules select (the count preview)."""
        query = self._matching(database_id, rules, fields, now, (func.count(),))
        return int(self.conn.execute(query).scalar_one())
