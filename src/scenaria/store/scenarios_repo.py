"""Scenarios: the stored spec (graph as JSON), status and version."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from scenaria.errors import NotFound
from scenaria.model.scenario import Scenario, ScenarioStatus
from scenaria.store.dialect import lock_rows
from scenaria.store.schema import scenarios


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
