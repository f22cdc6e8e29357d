"""Scenario use cases: save with validation, activate, stop, engage, take tasks out, files.

Every use case takes the acting user: a scenario assigned to groups exists only
for their members (and admins), so for anyone else it is "not found", and
every change is written to the audit journal under the actor's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from scenaria.clock import Clock
from scenaria.engine import control
from scenaria.engine.capture import REFUSAL_TEXT, CaptureResult, capture
from scenaria.engine.effects import Effects
from scenaria.errors import Conflict, InvalidInput, NotFound, ScenarioInvalid, ScenarioNotActive
from scenaria.model import scenario_file
from scenaria.model.access import SYSTEM, User
from scenaria.model.graph import compile_scenario
from scenaria.model.nodes import catalogue
from scenaria.model.nodes.base import ValidationContext
from scenaria.model.problems import Problem
from scenaria.model.scenario import (
    DEFAULT_CAPTURE_ID,
    AttributeDefinition,
    Scenario,
    ScenarioStatus,
    ScenarioSummary,
    attribute_problems,
)
from scenaria.model.scenario_status import StatusAction, gate
from scenaria.model.task import EndReason
from scenaria.model.validation import validate
from scenaria.services.access import audit, visible_database
from scenaria.store.database import Store
from scenaria.store.repositories import Tx

SAVE_BLOCKING_CODES = frozenset({"too_many_triggers"})
"""Problems refused at save on top of those validation marks ``blocks_save``: the seed
allows at most ten triggers, so an eleventh cannot be added, let alone saved."""
MAX_API_CONTENT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Saved:
    scenario: Scenario
    problems: list[Problem] = field(default_factory=list)
    """Problems that block activation (the scenario was saved anyway)."""


@dataclass(frozen=True)
class Listed:
    """One line of the scenario list."""

    summary: ScenarioSummary
    inside: int
    """Profiles in the scenario right now (frozen ones included)."""


@dataclass(frozen=True)
class Engagement:
    """The answer to engaging one profile through the default capture."""

    profile_id: int
    task_id: int | None
    refused_by: str | None = None
    """The re-entry rule that refused the capture (``once_ever``/``not_while_active``)."""
    reason: str | None = None
    """Why it was refused, readable."""

    @property
    def captured(self) -> bool:
        return self.task_id is not None


def visible(tx: Tx, scenario_id: int, actor: User, *, lock: bool = False) -> Scenario:
    """The scenario if ``actor`` may see it; otherwise it does not exist for them."""
    scenario = tx.scenarios.get(scenario_id, lock=lock)
    if not actor.can_access(scenario.groups):
        raise NotFound(f"scenario {scenario_id} does not exist")
    return scenario


def inside_now(tx: Tx, scenario_ids: list[int]) -> dict[int, int]:
    """Profiles inside each scenario now, from the scenario-wide counters."""
    totals = tx.counters.scenario_totals(scenario_ids)
    out = {}
    for scenario_id in scenario_ids:
        t = totals.get(scenario_id, {})
        ended = t.get("completed", 0) + t.get("failed", 0) + t.get("removed", 0)
        out[scenario_id] = t.get("entered", 0) - ended
    return out


def _storable(scenario: Scenario) -> None:
    """Refuse values the JSON columns cannot hold (integers beyond 64 bits …)."""
    try:
        orjson.dumps(scenario.model_dump(mode="json"))
    except orjson.JSONEncodeError as exc:
        raise InvalidInput(f"the scenario holds a value that cannot be stored: {exc}") from exc


def _spec(data: Mapping[str, Any]) -> Scenario:
    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "scenario"
        raise InvalidInput(f"{where}: {first['msg']}") from exc


def _problem_text(problems: list[Problem]) -> str:
    return "; ".join(str(p) for p in problems)


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

    def _problems(self, tx: Tx, scenario: Scenario) -> list[Problem]:
        definitions = tx.scenarios.attribute_definitions()
        graph = [
            replace(p, blocks_save=True) if p.code in SAVE_BLOCKING_CODES else p
            for p in validate(scenario, self._context(tx, scenario.database_id))
        ]
        return attribute_problems(scenario.attributes, definitions) + graph

    def check(self, scenario: Scenario) -> list[Problem]:
        with self.store.read() as tx:
            return self._problems(tx, scenario)

    def check_spec(self, spec: Mapping[str, Any]) -> list[Problem]:
        """The problems a scenario spec would have, without saving it."""
        return self.check(_spec(spec))

    # -- reading ---------------------------------------------------------------------------

    def get(self, scenario_id: int, actor: User = SYSTEM) -> Scenario:
        with self.store.read() as tx:
            return visible(tx, scenario_id, actor)

    def inspect(self, scenario_id: int, actor: User = SYSTEM) -> Saved:
        """The scenario with the problems it has now (attributes defined since included)."""
        with self.store.read() as tx:
            scenario = visible(tx, scenario_id, actor)
            return Saved(scenario, self._problems(tx, scenario))

    def list_all(self) -> list[Scenario]:
        with self.store.read() as tx:
            return [tx.scenarios.get(i) for i in tx.scenarios.list_ids()]

    def list_scenarios(
        self,
        actor: User = SYSTEM,
        *,
        tag: str | None = None,
        status: ScenarioStatus | None = None,
    ) -> list[Listed]:
        """The scenarios ``actor`` may see; the trash only when asked for by status."""
        statuses: list[ScenarioStatus]
        if status is None:
            statuses = [s for s in ScenarioStatus if s is not ScenarioStatus.TRASHED]
        else:
            statuses = [status]
        with self.store.read() as tx:
            found = [
                s
                for s in tx.scenarios.summaries(statuses)
                if actor.can_access(s.groups) and (tag is None or tag in s.tags)
            ]
            inside = inside_now(tx, [s.id for s in found])
        return [Listed(s, inside[s.id]) for s in found]

    def audit_log(
        self, scenario_id: int, actor: User = SYSTEM, limit: int = 100
    ) -> list[dict[str, Any]]:
        with self.store.read() as tx:
            visible(tx, scenario_id, actor)
            return tx.audit.for_scenario(scenario_id, limit)

    @staticmethod
    def node_kinds() -> list[dict[str, Any]]:
        """The node catalogue for editors: group, outputs, settings schema of each kind."""
        return catalogue()

    # -- saving ----------------------------------------------------------------------------

    def _save(
        self, tx: Tx, scenario: Scenario, actor: User, action: str, **details: object
    ) -> Saved:
        """Create or update in ``tx``; problems are reported, those that forbid saving raise."""
        now = self.clock.now()
        _storable(scenario)
        if not actor.can_access(scenario.groups):
            mine = ", ".join(sorted(actor.groups)) or "none"
            raise InvalidInput(
                "you would lose access to the scenario: assign it to no group or to at least "
                f"one of yours ({mine})"
            )
        problems = self._problems(tx, scenario)
        blocking = [p for p in problems if p.blocks_save]
        if blocking:
            raise ScenarioInvalid(
                blocking, "The scenario cannot be saved: " + _problem_text(blocking)
            )
        if scenario.id is None:
            visible_database(tx, scenario.database_id, actor)
            saved = scenario.model_copy(update={"status": ScenarioStatus.DRAFT, "version": 1})
            saved.id = tx.scenarios.add(saved, not problems, now)
            audit(tx, now, actor, saved.id, action, version=1, problems=len(problems), **details)
            return Saved(saved, problems)
        current = tx.scenarios.get(scenario.id, lock=True)
        if current.status is ScenarioStatus.TRASHED:
            raise Conflict("the scenario is in the trash; restore it before editing")
        if current.status is ScenarioStatus.ACTIVE and problems:
            raise ScenarioInvalid(
                problems, "An active scenario must stay valid: " + _problem_text(problems)
            )
        if current.database_id != scenario.database_id:
            visible_database(tx, scenario.database_id, actor)
            if current.status is ScenarioStatus.ACTIVE:
                raise Conflict("stop the scenario before changing its profile database")
            if inside_now(tx, [scenario.id])[scenario.id]:
                raise Conflict(
                    "profiles of the old database are still in the scenario: "
                    "clear all profiles before changing its profile database"
                )
        saved = scenario.model_copy(
            update={"status": current.status, "version": current.version + 1}
        )
        tx.scenarios.update(saved, not problems, now)
        kept = {n.id for n in saved.nodes}
        for node in current.nodes:
            if node.id not in kept:
                # Deleting a node takes the tasks in it out of the scenario.
                control.end_live_tasks(tx, scenario.id, EndReason.NODE_DELETED, now, node.id)
        audit(
            tx,
            now,
            actor,
            saved.id,
            action,
            version=saved.version,
            problems=len(problems),
            **details,
        )
        return Saved(saved, problems)

    def save(self, scenario: Scenario, actor: User = SYSTEM) -> Saved:
        """Create or update; problems are reported, and those that forbid saving raise."""
        with self.store.transaction() as tx:
            if scenario.id is not None:
                visible(tx, scenario.id, actor, lock=True)
            return self._save(tx, scenario, actor, "create" if scenario.id is None else "save")

    def create(self, spec: Mapping[str, Any], actor: User = SYSTEM) -> Saved:
        """A new draft from a spec: database, name, re-entry mode and optionally a graph."""
        scenario = _spec({k: v for k, v in spec.items() if k not in ("id", "status", "version")})
        with self.store.transaction() as tx:
            return self._save(tx, scenario, actor, "create")

    def update(self, scenario_id: int, changes: Mapping[str, Any], actor: User = SYSTEM) -> Saved:
        """Change some of name, description, tags, groups, attributes, database, re-entry
        mode, nodes and edges; the rest stays as it is."""
        allowed = set(Scenario.model_fields) - {"id", "status", "version"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise InvalidInput(f"these cannot be changed: {', '.join(unknown)}")
        with self.store.transaction() as tx:
            current = visible(tx, scenario_id, actor, lock=True)
            scenario = _spec({**current.model_dump(), **changes})
            return self._save(tx, scenario, actor, "update", changed=sorted(changes))

    def clone(self, scenario_id: int, actor: User = SYSTEM, name: str | None = None) -> Saved:
        """A new draft with the same spec (no tasks, no statistics)."""
        with self.store.transaction() as tx:
            source = visible(tx, scenario_id, actor)
            copy = source.model_copy(
                update={
                    "id": None,
                    "name": name or f"{source.name} (copy)"[:200],
                    "status": ScenarioStatus.DRAFT,
                    "version": 0,
                },
                deep=True,
            )
            return self._save(tx, copy, actor, "clone", source=scenario_id)

    def trash(self, scenario_id: int, actor: User = SYSTEM) -> Scenario:
        """Move an inactive scenario to the trash; frozen tasks stay frozen until restored."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            scenario = visible(tx, scenario_id, actor, lock=True)
            status = gate(StatusAction.TRASH, scenario.status)
            tx.scenarios.set_status(scenario_id, status, now)
            audit(tx, now, actor, scenario_id, "trash", previous=scenario.status.value)
            return tx.scenarios.get(scenario_id)

    def restore(self, scenario_id: int, actor: User = SYSTEM) -> Scenario:
        """Take a scenario out of the trash; it comes back inactive."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            scenario = visible(tx, scenario_id, actor, lock=True)
            status = gate(StatusAction.RESTORE, scenario.status)
            tx.scenarios.set_status(scenario_id, status, now)
            audit(tx, now, actor, scenario_id, "restore")
            return tx.scenarios.get(scenario_id)

    # -- attributes ------------------------------------------------------------------------

    def attributes(self) -> list[AttributeDefinition]:
        with self.store.read() as tx:
            return tx.scenarios.attribute_definitions()

    def define_attribute(
        self, definition: AttributeDefinition, actor: User = SYSTEM
    ) -> AttributeDefinition:
        """Create or change an account-wide attribute; a required one must then be set on
        every scenario saved or activated from now on."""
        if definition.choices is not None:
            if not definition.choices:
                raise InvalidInput("choices: give at least one value, or none to allow any")
            if len(set(definition.choices)) != len(definition.choices):
                raise InvalidInput("choices: each value may appear only once")
        now = self.clock.now()
        with self.store.transaction() as tx:
            tx.scenarios.define_attribute(definition)
            audit(
                tx,
                now,
                actor,
                None,
                "define_attribute",
                name=definition.name,
                required=definition.required,
            )
        return definition

    # -- running ---------------------------------------------------------------------------

    def activate(self, scenario_id: int, actor: User = SYSTEM) -> int:
        """Start capturing; frozen tasks wake where they stopped. Returns how many woke."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            scenario = visible(tx, scenario_id, actor, lock=True)
            if scenario.status is ScenarioStatus.ACTIVE:
                return 0  # activating twice is not an error: nothing to do
            status = gate(StatusAction.ACTIVATE, scenario.status)
            problems = self._problems(tx, scenario)
            if problems:
                raise ScenarioInvalid(
                    problems, "The scenario cannot be activated: " + _problem_text(problems)
                )
            tx.scenarios.set_status(scenario_id, status, now)
            woken = control.wake(tx, scenario_id)
            audit(tx, now, actor, scenario_id, "activate", woken=woken)
            return woken

    def stop(self, scenario_id: int, keep_profiles: bool = False, actor: User = SYSTEM) -> int:
        """Stop capturing; freeze the tasks inside or end them all. Returns how many."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            scenario = visible(tx, scenario_id, actor, lock=True)
            status = gate(StatusAction.STOP, scenario.status)
            tx.scenarios.set_status(scenario_id, status, now)
            count = control.stop(tx, scenario_id, keep_profiles, now)
            audit(tx, now, actor, scenario_id, "stop", keep_profiles=keep_profiles, tasks=count)
            return count

    def engage(
        self,
        scenario_id: int,
        profile_id: int,
        api_content: dict[str, Any] | None = None,
        actor: User = SYSTEM,
    ) -> CaptureResult:
        """Bring a profile in through the default capture (API, manual add, segment)."""
        return self.engage_many(scenario_id, [profile_id], api_content, actor)[0]

    def engage_many(
        self,
        scenario_id: int,
        profile_ids: list[int],
        api_content: dict[str, Any] | None = None,
        actor: User = SYSTEM,
    ) -> list[CaptureResult]:
        return self._engage(scenario_id, profile_ids, api_content, actor)

    def _engage(
        self,
        scenario_id: int,
        profile_ids: list[int],
        api_content: dict[str, Any] | None,
        actor: User,
        audit_action: str | None = None,
    ) -> list[CaptureResult]:
        now = self.clock.now()
        if api_content:
            try:
                size = len(orjson.dumps(api_content))
            except orjson.JSONEncodeError as exc:
                raise InvalidInput(f"api_content cannot be stored: {exc}") from exc
            if size > MAX_API_CONTENT_BYTES:
                raise InvalidInput(
                    f"api_content is {size} bytes; at most {MAX_API_CONTENT_BYTES} are kept"
                )
        with self.store.transaction() as tx:
            scenario = visible(tx, scenario_id, actor)
            if scenario.status is not ScenarioStatus.ACTIVE:
                # Checked before compiling: only an active scenario is known to be valid.
                raise ScenarioNotActive(
                    f"scenario '{scenario.name}' is not active, so it captures nobody"
                )
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
            if audit_action:
                for r in results:
                    audit(
                        tx,
                        now,
                        actor,
                        scenario_id,
                        audit_action,
                        profile_id=r.profile_id,
                        task_id=r.task_id,
                        refused=r.refused,
                    )
            return results

    def engage_profile(
        self,
        scenario_id: int,
        profile_id: int,
        api_content: dict[str, Any] | None = None,
        actor: User = SYSTEM,
        *,
        manual: bool = False,
    ) -> Engagement:
        """Engage one profile and say whether it was captured or which re-entry rule refused
        it; a profile added by hand (``manual``) is recorded in the audit journal."""
        action = "add_profile" if manual else None
        result = self._engage(scenario_id, [profile_id], api_content, actor, action)[0]
        reason = REFUSAL_TEXT.get(result.refused, result.refused) if result.refused else None
        return Engagement(profile_id, result.task_id, result.refused, reason)

    # -- taking tasks out ------------------------------------------------------------------

    def remove_task(
        self, task_id: int, actor: User = SYSTEM, scenario_id: int | None = None
    ) -> None:
        """Take one task out; with ``scenario_id`` the task must belong to that scenario."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            task_scenario = tx.tasks.get(task_id).scenario_id
            if scenario_id is not None and task_scenario != scenario_id:
                raise NotFound(f"task {task_id} is not in scenario {scenario_id}")
            visible(tx, task_scenario, actor)
            control.remove_task(tx, task_id, now)
            audit(tx, now, actor, task_scenario, "remove_task", task_id=task_id)

    def remove_node_tasks(self, scenario_id: int, node_id: str, actor: User = SYSTEM) -> int:
        now = self.clock.now()
        with self.store.transaction() as tx:
            if visible(tx, scenario_id, actor).node(node_id) is None:
                raise NotFound(f"scenario {scenario_id} has no node '{node_id}'")
            count = control.end_live_tasks(tx, scenario_id, EndReason.REMOVED, now, node_id)
            audit(tx, now, actor, scenario_id, "remove_node_tasks", node_id=node_id, tasks=count)
            return count

    def clear_all(self, scenario_id: int, actor: User = SYSTEM) -> int:
        """'Clear all profiles': take every profile currently inside out of the scenario."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            visible(tx, scenario_id, actor)
            count = control.end_live_tasks(tx, scenario_id, EndReason.CLEARED, now)
            audit(tx, now, actor, scenario_id, "clear_all", tasks=count)
            return count

    # -- files -----------------------------------------------------------------------------

    def import_file(self, path: Path, database_id: int, actor: User = SYSTEM) -> Saved:
        return self.import_text(path.read_text(encoding="utf-8"), database_id, actor)

    def import_text(self, text: str, database_id: int, actor: User = SYSTEM) -> Saved:
        """A new draft from a YAML or JSON scenario file, bound to ``database_id``."""
        scenario = scenario_file.loads(text, database_id)  # refuses over-large files
        with self.store.transaction() as tx:
            return self._save(tx, scenario, actor, "import")

    def export(self, scenario_id: int, fmt: str = "yaml", actor: User = SYSTEM) -> str:
        return scenario_file.dumps(self.get(scenario_id, actor), fmt)
