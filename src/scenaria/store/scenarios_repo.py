"""Scenarios: the stored spec (graph as JSON), status and version; attribute definitions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from scenaria.errors import NotFound
from scenaria.model.scenario import (
    AttributeDefinition,
    ReentryMode,
    Scenario,
    ScenarioStatus,
    ScenarioSummary,
)
from scenaria.store.dialect import lock_rows
from scenaria.store.schema import scenario_attributes, scenarios

_SUMMARY = select(
    scenarios.c.id,
    scenarios.c.database_id,
    scenarios.c.name,
    scenarios.c.status,
    scenarios.c.reentry,
    scenarios.c.tags,
    scenarios.c.groups,
    scenarios.c.valid,
    scenarios.c.updated_at,
).order_by(scenarios.c.id)


class ScenarioRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _values(s: Scenario, valid: bool, now: float) -> dict[str, Any]:
        graph = s.model_dump(mode="json", include={"nodes", "edges"})
        return {
            "database_id": s.database_id,
            "name": s.name,
            "description": s.description,
            "tags": s.tags,
            "groups": s.groups,
            "attributes": s.attributes or None,
            "reentry": s.reentry.value,
            "status": s.status.value,
            "graph": graph,
            "version": s.version,
            "valid": valid,
            "updated_at": now,
        }

    def add(self, scenario: Scenario, valid: bool, now: float) -> int:
        result = self.conn.execute(
            insert(scenarios).values(**self._values(scenario, valid, now), created_at=now)
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])

    def update(self, scenario: Scenario, valid: bool, now: float) -> None:
        self.conn.execute(
            update(scenarios)
            .where(scenarios.c.id == scenario.id)
            .values(**self._values(scenario, valid, now))
        )

    def set_status(self, scenario_id: int, status: ScenarioStatus, now: float) -> None:
        self.conn.execute(
            update(scenarios)
            .where(scenarios.c.id == scenario_id)
            .values(status=status.value, updated_at=now, version=scenarios.c.version + 1)
        )

    def get(self, scenario_id: int, *, lock: bool = False) -> Scenario:
        query = select(scenarios).where(scenarios.c.id == scenario_id)
        row = self.conn.execute(lock_rows(self.conn, query) if lock else query).first()
        if row is None:
            raise NotFound(f"scenario {scenario_id} does not exist")
        return Scenario.model_validate(
            {
                "id": row.id,
                "database_id": row.database_id,
                "name": row.name,
                "description": row.description,
                "tags": row.tags,
                "groups": row.groups,
                "attributes": row.attributes or {},
                "reentry": row.reentry,
                "status": row.status,
                "version": row.version,
                **row.graph,
            }
        )

    def versions(self, ids: Iterable[int]) -> dict[int, int]:
        rows = self.conn.execute(
            select(scenarios.c.id, scenarios.c.version).where(scenarios.c.id.in_(list(ids)))
        )
        return {r.id: r.version for r in rows}

    def active_for_database(self, database_id: int) -> list[int]:
        return list(
            self.conn.execute(
                select(scenarios.c.id).where(
                    scenarios.c.database_id == database_id,
                    scenarios.c.status == ScenarioStatus.ACTIVE.value,
                )
            ).scalars()
        )

    def list_ids(self) -> list[int]:
        return list(self.conn.execute(select(scenarios.c.id).order_by(scenarios.c.id)).scalars())

    def summaries(self, statuses: Iterable[ScenarioStatus] | None = None) -> list[ScenarioSummary]:
        """The scenario list, graphs left unread."""
        query = _SUMMARY
        if statuses is not None:
            query = query.where(scenarios.c.status.in_([s.value for s in statuses]))
        return [
            ScenarioSummary(
                id=r.id,
                database_id=r.database_id,
                name=r.name,
                status=ScenarioStatus(r.status),
                reentry=ReentryMode(r.reentry),
                tags=list(r.tags),
                groups=list(r.groups),
                valid=bool(r.valid),
                updated_at=r.updated_at,
            )
            for r in self.conn.execute(query)
        ]

    def attribute_definitions(self) -> list[AttributeDefinition]:
        rows = self.conn.execute(select(scenario_attributes).order_by(scenario_attributes.c.name))
        return [
            AttributeDefinition(
                name=r.name,
                required=r.required,
                choices=tuple(r.choices) if r.choices is not None else None,
            )
            for r in rows
        ]

    def define_attribute(self, definition: AttributeDefinition) -> None:
        """Create or replace the definition of one attribute."""
        self.conn.execute(
            delete(scenario_attributes).where(scenario_attributes.c.name == definition.name)
        )
        self.conn.execute(
            insert(scenario_attributes).values(
                name=definition.name,
                required=definition.required,
                choices=list(definition.choices) if definition.choices is not None else None,
            )
        )
