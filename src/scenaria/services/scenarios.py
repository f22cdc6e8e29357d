"""Scenario use cases: save with validation, activate, stop, engage, take tasks out, files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenaria.clock import Clock
from scenaria.engine import control
from scenaria.engine.capture import CaptureResult, capture
from scenaria.engine.effects import Effects
from scenaria.errors import Conflict, InvalidInput, NotFound, ScenarioInvalid
from scenaria.model import scenario_file
from scenaria.model.access import SYSTEM, User
from scenaria.model.graph import compile_scenario
from scenaria.model.nodes.base import ValidationContext
from scenaria.model.problems import Problem
from scenaria.model.scenario import DEFAULT_CAPTURE_ID, Scenario, ScenarioStatus
from scenaria.model.task import EndReason
from scenaria.model.validation import validate
from scenaria.services.access import audit
from scenaria.store.database import Store
from scenaria.store.repositories import Tx


@dataclass(frozen=True)
class Saved:
    scenario: Scenario
    problems: list[Problem] = field(default_factory=list)
    """Problems that block activation (the scenario was saved anyway)."""


class ScenarioService:
    def __init__(self, store: Store, clock: Clock, allowed_hosts: frozenset[str]) -> None:
        self.store = store
        self.clock = clock
        self.allowed_hosts = allowed_hosts

    def _context(self, tx: Tx, database_id: int) -> ValidationContext:
        database = tx.databases.get(database_id)
        return ValidationContext(
            fields=database.all_fields(),
            promo_pools=tx.promo.pools(),
            allowed_hosts=self.allowed_hosts,
        )

    def check(self, scenario: Scenario) -> list[Problem]:
        with self.store.read() as tx:
            return validate(scenario, self._context(tx, scenario.database_id))

    def save(self, scenario: Scenario, actor: User = SYSTEM) -> Saved:
        """Create or update; problems are reported, and those that forbid saving raise."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            problems = validate(scenario, self._context(tx, scenario.database_id))
            blocking = [p for p in problems if p.blocks_save]
            if blocking:
                raise ScenarioInvalid(
                    blocking, "The scenario cannot be saved: " + "; ".join(str(p) for p in blocking)
                )
            if scenario.id is None:
                saved = scenario.model_copy(update={"status": ScenarioStatus.DRAFT, "version": 1})
                saved.id = tx.scenarios.add(saved, not problems, now)
                audit(tx, now, actor, saved.id, "create", version=1, problems=len(problems))
                return Saved(saved, problems)
            current = tx.scenarios.get(scenario.id, lock=True)
            if current.status is ScenarioStatus.TRASHED:
                raise Conflict("the scenario is in the trash; restore it before editing")
            if current.status is ScenarioStatus.ACTIVE and problems:
                raise ScenarioInvalid(
                    problems,
                    "An active scenario must stay valid: " + "; ".join(str(p) for p in problems),
                )
            if (
                current.status is ScenarioStatus.ACTIVE
                and current.database_id != scenario.database_id
            ):
                raise Conflict("stop the scenario before changing its profile database")
            saved = scenario.model_copy(
                update={"status": current.status, "version": current.version + 1}
            )
            tx.scenarios.update(saved, not problems, now)
            kept = {n.id for n in saved.nodes}
            for node in current.nodes:
                if node.id not in kept:
                    # Deleting a node takes the tasks in it out of the scenario.
                    control.end_live_tasks(tx, saved.id or 0, EndReason.NODE_DELETED, now, node.id)
            audit(tx, now, actor, saved.id, "save", version=saved.version, problems=len(problems))
            return Saved(saved, problems)

    def get(self, scenario_id: int) -> Scenario:
        with self.store.read() as tx:
            return tx.scenarios.get(scenario_id)

    def list_all(self) -> list[Scenario]:
        with self.store.read() as tx:
            return [tx.scenarios.get(i) for i in tx.scenarios.list_ids()]

    def activate(self, scenario_id: int, actor: User = SYSTEM) -> int:
        """Start capturing; frozen tasks wake where they stopped. Returns how many woke."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            scenario = tx.scenarios.get(scenario_id, lock=True)
            if scenario.status is ScenarioStatus.TRASHED:
                raise Conflict("the scenario is in the trash; restore it first")
            if scenario.status is ScenarioStatus.ACTIVE:
                return 0
            problems = validate(scenario, self._context(tx, scenario.database_id))
            if problems:
                raise ScenarioInvalid(
                    problems,
                    "The scenario cannot be activated: " + "; ".join(str(p) for p in problems),
                )
            tx.scenarios.set_status(scenario_id, ScenarioStatus.ACTIVE, now)
            woken = control.wake(tx, scenario_id)
            audit(tx, now, actor, scenario_id, "activate", woken=woken)
            return woken

    def stop(self, scenario_id: int, keep_profiles: bool = False, actor: User = SYSTEM) -> int:
        """Stop capturing; freeze the tasks inside or end them all. Returns how many."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            scenario = tx.scenarios.get(scenario_id, lock=True)
            if scenario.status is not ScenarioStatus.ACTIVE:
                raise Conflict("the scenario is not active")
            tx.scenarios.set_status(scenario_id, ScenarioStatus.INACTIVE, now)
            count = control.stop(tx, scenario_id, keep_profiles, now)
            audit(tx, now, actor, scenario_id, "stop", keep_profiles=keep_profiles, tasks=count)
            return count

    def engage(
        self, scenario_id: int, profile_id: int, api_content: dict[str, Any] | None = None
    ) -> CaptureResult:
        """Bring a profile in through the default capture (API, manual add, segment)."""
        return self.engage_many(scenario_id, [profile_id], api_content)[0]

    def engage_many(
        self, scenario_id: int, profile_ids: list[int], api_content: dict[str, Any] | None = None
    ) -> list[CaptureResult]:
        now = self.clock.now()
        with self.store.transaction() as tx:
            scenario = tx.scenarios.get(scenario_id)
            fields = tx.databases.get(scenario.database_id).all_fields()
            graph = compile_scenario(scenario, fields)
            for profile_id in set(profile_ids):
                if tx.profiles.get(profile_id)["database_id"] != scenario.database_id:
                    raise InvalidInput(
                        f"profile {profile_id} belongs to another database than the scenario's"
                    )
            fx = Effects(now)
            results = capture(
                tx, graph, DEFAULT_CAPTURE_ID, profile_ids, fx, api_content=api_content
            )
            fx.flush(tx)
            return results

    def remove_task(self, task_id: int, actor: User = SYSTEM) -> None:
        now = self.clock.now()
        with self.store.transaction() as tx:
            scenario_id = tx.tasks.get(task_id).scenario_id
            control.remove_task(tx, task_id, now)
            audit(tx, now, actor, scenario_id, "remove_task", task_id=task_id)

    def remove_node_tasks(self, scenario_id: int, node_id: str, actor: User = SYSTEM) -> int:
        now = self.clock.now()
        with self.store.transaction() as tx:
            if tx.scenarios.get(scenario_id).node(node_id) is None:
                raise NotFound(f"scenario {scenario_id} has no node '{node_id}'")
            count = control.end_live_tasks(tx, scenario_id, EndReason.REMOVED, now, node_id)
            audit(tx, now, actor, scenario_id, "remove_node_tasks", node_id=node_id, tasks=count)
            return count

    def clear_all(self, scenario_id: int, actor: User = SYSTEM) -> int:
        """'Clear all profiles': take every profile currently inside out of the scenario."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            tx.scenarios.get(scenario_id)
            count = control.end_live_tasks(tx, scenario_id, EndReason.CLEARED, now)
            audit(tx, now, actor, scenario_id, "clear_all", tasks=count)
            return count

    def import_file(self, path: Path, database_id: int) -> Saved:
        return self.save(scenario_file.load(path, database_id))

    def export(self, scenario_id: int, fmt: str = "yaml") -> str:
        return scenario_file.dumps(self.get(scenario_id), fmt)
