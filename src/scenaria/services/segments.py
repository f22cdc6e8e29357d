"""Segment use cases: static lists, dynamic rules, counts, and sending members to a scenario.

A segment is bound to one profile database and visible to its access groups
(an admin sees all); to anyone else it does not exist.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scenaria.clock import Clock
from scenaria.engine.capture import REFUSED_ACTIVE, REFUSED_ONCE_EVER
from scenaria.errors import Conflict, InvalidInput, NotFound, ScenarioNotActive
from scenaria.model.access import SYSTEM, User
from scenaria.model.profiles import ProfileDatabase
from scenaria.model.scenario import ScenarioStatus
from scenaria.model.segments import (
    RuleContext,
    RuleGroup,
    ScenarioRef,
    Segment,
    SegmentKind,
    check_rules,
    referenced_scenarios,
)
from scenaria.services.access import audit, named_database
from scenaria.services.matching import lookup_key
from scenaria.services.scenarios import ScenarioService
from scenaria.store.database import Store
from scenaria.store.repositories import Tx


@dataclass(frozen=True)
class MemberChange:
    """The outcome of adding profiles to (or removing them from) a static segment."""

    changed: int
    """Profiles added (or removed)."""
    unchanged: int
    """Profiles found that were already members (or were not members)."""
    unknown_profile_ids: list[int] = field(default_factory=list)
    """Ids that name no profile of the segment's database."""
    unknown_match_keys: list[str] = field(default_factory=list)
    """Match keys that name no profile of the segment's database."""


@dataclass(frozen=True)
class MemberPage:
    items: list[dict[str, Any]]
    """Profiles: id, match_key, fields, subscriptions, created_at, updated_at."""
    next_after: int | None
    """Pass as ``after`` for the next page; None on the last page."""


@dataclass
class SendResult:
    """What sending a segment's members through a scenario's default capture did."""

    segment_id: int
    scenario_id: int
    processed: int = 0
    captured: int = 0
    refused: dict[str, int] = field(
        default_factory=lambda: {REFUSED_ONCE_EVER: 0, REFUSED_ACTIVE: 0}
    )
    """Profiles the re-entry mode refused, by rule."""
    batches: int = 0


def _database(tx: Tx, database_id: int, actor: User) -> ProfileDatabase:
    """The database a request body names; a missing or hidden one is bad input."""
    return named_database(tx, database_id, actor)


def _unique(items: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


class SegmentService:
    def __init__(
        self, store: Store, clock: Clock, scenarios: ScenarioService, batch_size: int = 1000
    ) -> None:
        self.store = store
        self.clock = clock
        self.scenarios = scenarios
        self.batch_size = batch_size
        """Profiles per engage transaction when a segment is sent to a scenario."""

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _get(tx: Tx, segment_id: int, actor: User) -> Segment:
        segment = tx.segments.get(segment_id)
        database = tx.databases.get(segment.database_id)
        if not (actor.can_access(segment.groups) and actor.can_access(database.groups)):
            raise NotFound(f"segment {segment_id} does not exist")
        return segment

    @staticmethod
    def _check_groups(groups: Sequence[str], actor: User) -> tuple[str, ...]:
        if not actor.can_access(groups):
            raise InvalidInput(
                f"you are in none of the groups {', '.join(sorted(set(groups)))}: "
                "the segment would be hidden from you; include one of your groups"
            )
        return tuple(sorted(set(groups)))

    @staticmethod
    def _check_rules(tx: Tx, database: ProfileDatabase, rules: RuleGroup, actor: User) -> RuleGroup:
        known: dict[int, ScenarioRef] = {}
        for scenario_id in sorted(referenced_scenarios(rules)):
            try:
                scenario = tx.scenarios.get(scenario_id)
            except NotFound:
                continue
            if actor.can_access(scenario.groups):
                known[scenario_id] = ScenarioRef(scenario.name, scenario.database_id)
        assert database.id is not None
        return check_rules(rules, RuleContext(database.all_fields(), known, database.id))

    @staticmethod
    def _static(segment: Segment) -> None:
        if segment.kind is not SegmentKind.STATIC:
            raise Conflict(
                f"segment {segment.id} is dynamic: its members are the profiles matching its "
                "rules and cannot be added or removed by hand"
            )

    @staticmethod
    def _resolve(
        tx: Tx, database: ProfileDatabase, profile_ids: Sequence[int], match_keys: Sequence[str]
    ) -> tuple[list[int], list[int], list[str]]:
        """Profile ids of the database named by ids or match keys, and the unknown ones."""
        assert database.id is not None
        ids = _unique(profile_ids)
        found = tx.segments.profiles_in_database(database.id, ids)
        unknown_ids = [i for i in ids if i not in found]

        keys = _unique(match_keys)
        stored: dict[str, str | None] = {}
        for key in keys:
            try:
                stored[key] = lookup_key(database, key)
            except InvalidInput:  # not even a value of the match field's type
                stored[key] = None
        wanted = _unique([s for s in stored.values() if s is not None])
        by_key = tx.segments.ids_by_keys(database.id, wanted)
        unknown_keys = [k for k in keys if stored[k] not in by_key]
        return sorted(found | set(by_key.values())), unknown_ids, unknown_keys

    # ------------------------------------------------------------------- CRUD

    def create(
        self,
        database_id: int,
        name: str,
        kind: SegmentKind,
        rules: RuleGroup | None = None,
        groups: Sequence[str] = (),
        actor: User = SYSTEM,
    ) -> Segment:
        now = self.clock.now()
        with self.store.transaction() as tx:
            database = _database(tx, database_id, actor)
            if kind is SegmentKind.STATIC and rules is not None:
                raise InvalidInput(
                    "a static segment has no rules: create it empty and add profiles, "
                    "or make it dynamic"
                )
            if kind is SegmentKind.DYNAMIC:
                if rules is None:
                    raise InvalidInput("a dynamic segment needs rules")
                rules = self._check_rules(tx, database, rules, actor)
            segment = Segment(
                database_id=database_id,
                name=name,
                kind=kind,
                rules=rules,
                groups=self._check_groups(groups, actor),
            )
            segment = tx.segments.add(segment, now)
            audit(tx, now, actor, None, "segment_create", segment_id=segment.id, kind=kind.value)
            return segment

    def get(self, segment_id: int, actor: User = SYSTEM) -> Segment:
        with self.store.read() as tx:
            return self._get(tx, segment_id, actor)

    def list_all(
        self,
        actor: User = SYSTEM,
        database_id: int | None = None,
        kind: SegmentKind | None = None,
    ) -> list[Segment]:
        with self.store.read() as tx:
            found = tx.segments.list_all(database_id, kind)
            seen = {d.id for d in tx.databases.list() if actor.can_access(d.groups)}
        return [s for s in found if actor.can_access(s.groups) and s.database_id in seen]

    def update(
        self,
        segment_id: int,
        actor: User = SYSTEM,
        *,
        name: str | None = None,
        rules: RuleGroup | None = None,
        groups: Sequence[str] | None = None,
    ) -> Segment:
        """Rename, change the rules of a dynamic segment, or its groups; None keeps a value."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            segment = self._get(tx, segment_id, actor)
            changes: dict[str, Any] = {}
            if name is not None:
                changes["name"] = name
            if rules is not None:
                if segment.kind is SegmentKind.STATIC:
                    raise InvalidInput(
                        f"segment {segment_id} is static: it has no rules; "
                        "add or remove its profiles instead"
                    )
                changes["rules"] = self._check_rules(
                    tx, tx.databases.get(segment.database_id), rules, actor
                )
            if groups is not None:
                changes["groups"] = self._check_groups(groups, actor)
            segment = tx.segments.update(segment.model_copy(update=changes), now)
            audit(
                tx,
                now,
                actor,
                None,
                "segment_update",
                segment_id=segment_id,
                changed=sorted(changes),
            )
            return segment

    def delete(self, segment_id: int, actor: User = SYSTEM) -> None:
        now = self.clock.now()
        with self.store.transaction() as tx:
            self._get(tx, segment_id, actor)
            tx.segments.delete(segment_id)
            audit(tx, now, actor, None, "segment_delete", segment_id=segment_id)

    # --------------------------------------------------------- static members

    def add_members(
        self,
        segment_id: int,
        actor: User = SYSTEM,
        profile_ids: Sequence[int] = (),
        match_keys: Sequence[str] = (),
    ) -> MemberChange:
        """Add profiles of the segment's database, named by id or match key."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            segment = self._get(tx, segment_id, actor)
            self._static(segment)
            database = tx.databases.get(segment.database_id)
            ids, unknown_ids, unknown_keys = self._resolve(tx, database, profile_ids, match_keys)
            added = tx.segments.add_members(segment_id, segment.database_id, ids)
            audit(tx, now, actor, None, "segment_add_members", segment_id=segment_id, added=added)
            return MemberChange(added, len(ids) - added, unknown_ids, unknown_keys)

    def remove_members(
        self,
        segment_id: int,
        actor: User = SYSTEM,
        profile_ids: Sequence[int] = (),
        match_keys: Sequence[str] = (),
    ) -> MemberChange:
        now = self.clock.now()
        with self.store.transaction() as tx:
            segment = self._get(tx, segment_id, actor)
            self._static(segment)
            database = tx.databases.get(segment.database_id)
            ids, unknown_ids, unknown_keys = self._resolve(tx, database, profile_ids, match_keys)
            removed = tx.segments.remove_members(segment_id, ids)
            audit(
                tx,
                now,
                actor,
                None,
                "segment_remove_members",
                segment_id=segment_id,
                removed=removed,
            )
            return MemberChange(removed, len(ids) - removed, unknown_ids, unknown_keys)

    def clear(self, segment_id: int, actor: User = SYSTEM) -> int:
        """Empty a static segment; returns how many profiles left it."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            segment = self._get(tx, segment_id, actor)
            self._static(segment)
            removed = tx.segments.clear_members(segment_id)
            audit(tx, now, actor, None, "segment_clear", segment_id=segment_id, removed=removed)
            return removed

    # ----------------------------------------------------------- membership

    def members(
        self, segment_id: int, actor: User = SYSTEM, after: int = 0, limit: int = 100
    ) -> MemberPage:
        """One page of members by profile id: those with an id above ``after``."""
        with self.store.read() as tx:
            segment = self._get(tx, segment_id, actor)
            fields = tx.databases.get(segment.database_id).all_fields()
            items = tx.segments.member_page(segment, fields, self.clock.now(), after, limit)
        next_after = items[-1]["id"] if len(items) == limit else None
        return MemberPage(items, next_after)

    def count(self, segment_id: int, actor: User = SYSTEM) -> int:
        with self.store.read() as tx:
            segment = self._get(tx, segment_id, actor)
            fields = tx.databases.get(segment.database_id).all_fields()
            return tx.segments.count(segment, fields, self.clock.now())

    def preview(self, database_id: int, rules: RuleGroup, actor: User = SYSTEM) -> int:
        """How many profiles the rules would select now, without saving anything."""
        with self.store.read() as tx:
            database = _database(tx, database_id, actor)
            checked = self._check_rules(tx, database, rules, actor)
            return tx.segments.count_matching(
                database_id, checked, database.all_fields(), self.clock.now()
            )

    # ------------------------------------------------------- send to scenario

    def send_to_scenario(
        self, segment_id: int, scenario_id: int, actor: User = SYSTEM
    ) -> SendResult:
        """Every member through the scenario's default capture, a batch per transaction.

        Members are read in profile-id order a batch at a time, so a dynamic
        segment is evaluated as the sending goes (a rule such as "not in this
        scenario" does not skip anyone) and memory stays flat.
        """
        now = self.clock.now()
        with self.store.read() as tx:
            segment = self._get(tx, segment_id, actor)
            fields = tx.databases.get(segment.database_id).all_fields()
        scenario = self.scenarios.get(scenario_id)
        if not actor.can_access(scenario.groups):
            raise NotFound(f"scenario {scenario_id} does not exist")
        if segment.database_id != scenario.database_id:
            raise InvalidInput(
                f"segment {segment_id} '{segment.name}' is of profile database "
                f"{segment.database_id} but scenario {scenario_id} '{scenario.name}' captures "
                f"profiles of database {scenario.database_id}; they must be the same"
            )
        if scenario.status is not ScenarioStatus.ACTIVE:
            raise ScenarioNotActive(
                f"scenario {scenario_id} '{scenario.name}' is {scenario.status.value}, "
                "not active, so it captures nobody; activate it first"
            )
        result = SendResult(segment_id, scenario_id)
        after = 0
        while True:
            with self.store.read() as tx:
                ids = tx.segments.member_ids(segment, fields, now, after, self.batch_size)
            if not ids:
                break
            try:
                captures = self.scenarios.engage_many(scenario_id, ids)
            except ScenarioNotActive:
                raise Conflict(
                    f"scenario {scenario_id} stopped while the segment was being sent: "
                    f"{result.processed} profiles were processed, {result.captured} captured"
                ) from None
            result.batches += 1
            result.processed += len(ids)
            result.captured += sum(c.captured for c in captures)
            for reason, n in Counter(c.refused for c in captures if c.refused).items():
                result.refused[reason] = result.refused.get(reason, 0) + n
            after = ids[-1]
        with self.store.transaction() as tx:
            audit(
                tx,
                self.clock.now(),
                actor,
                scenario_id,
                "send_segment",
                segment_id=segment_id,
                processed=result.processed,
                captured=result.captured,
            )
        return result
