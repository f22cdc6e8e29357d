"""Profile use cases: databases, imports that fire triggers, subscriptions, events, the card."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from scenaria.clock import Clock
from scenaria.engine.capture import capture
from scenaria.engine.effects import Effects
from scenaria.engine.scheduler import GraphCache
from scenaria.errors import InvalidInput, NotFound
from scenaria.model.access import SYSTEM, User
from scenaria.model.profiles import (
    BUILTIN_FIELDS,
    Channel,
    FieldType,
    ImportSource,
    ProfileDatabase,
    SubscriptionStatus,
)
from scenaria.services import events as event_rules
from scenaria.services.access import checked_groups, visible_database, visible_message
from scenaria.services.events import EventInput, EventsResult
from scenaria.services.matching import lookup_key, prepare_row
from scenaria.store.database import Store
from scenaria.store.dialect import is_retryable
from scenaria.store.repositories import Tx

if TYPE_CHECKING:
    from scenaria.services.csv_import import CsvImportReport

MAX_BATCH = 1000
"""Profiles (or events) one request may carry; a CSV file is imported in batches of it."""
MATCH_FIELD_TYPES = frozenset({FieldType.STRING, FieldType.INT, FieldType.DATE})
"""Types a match field may have: values that compare exactly once written as text."""
MAX_FIELDS = 200
IMPORT_ATTEMPTS = 5
"""Tries of an import transaction PostgreSQL aborted to break a deadlock or a
serialization conflict with a concurrent one."""


class ProfileImport(BaseModel):
    """One profile in an import: its fields and, optionally, its subscriptions."""

    fields: dict[str, Any]
    subscriptions: dict[Channel, SubscriptionStatus] = Field(default_factory=dict)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    profile_ids: list[int] = field(default_factory=list)
    """The created profiles' ids, then the updated ones'."""
    captured: int = 0
    """Tasks started by triggers this import fired."""
    row_ids: list[int | None] = field(default_factory=list)
    """The profile id of each row, in the order of the rows (None: the row was left out)."""
    created_ids: frozenset[int] = frozenset()
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """With ``skip_invalid``: (position from 1, reason) of each row left out."""


@dataclass(frozen=True)
class MessageEvent:
    profile_id: int
    type: str
    at: float


class ProfileService:
    def __init__(self, store: Store, clock: Clock, graphs: GraphCache | None = None) -> None:
        self.store = store
        self.clock = clock
        self.graphs = graphs or GraphCache()

    # ---------------------------------------------------------------- databases

    def create_database(
        self,
        name: str,
        fields: dict[str, FieldType] | None = None,
        match_field: str = "email",
        groups: Sequence[str] = (),
        actor: User = SYSTEM,
    ) -> ProfileDatabase:
        try:
            database = ProfileDatabase(
                name=name,
                fields=fields or {},
                match_field=match_field,
                groups=checked_groups(groups, actor, "profile database"),
            )
        except ValidationError as exc:
            reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            raise InvalidInput(f"invalid profile database: {reasons}") from None
        if len(database.fields) > MAX_FIELDS:
            raise InvalidInput(f"a profile database has at most {MAX_FIELDS} fields")
        for builtin, builtin_kind in BUILTIN_FIELDS.items():
            if database.fields.get(builtin, builtin_kind) is not builtin_kind:
                raise InvalidInput(f"'{builtin}' is a built-in {builtin_kind.value} field")
        kind = database.all_fields().get(match_field)
        if kind is None:
            raise InvalidInput(f"match field '{match_field}' is not a field of the database")
        if kind not in MATCH_FIELD_TYPES:
            raise InvalidInput(
                f"match field '{match_field}' is a {kind.value} field; "
                "match on a string, int or date field"
            )
        with self.store.transaction() as tx:
            return tx.databases.add(database)

    def get_database(self, database_id: int, viewer: User = SYSTEM) -> ProfileDatabase:
        with self.store.read() as tx:
            return visible_database(tx, database_id, viewer)

    def list_databases(self, viewer: User = SYSTEM) -> list[ProfileDatabase]:
        """The databases ``viewer`` may see."""
        with self.store.read() as tx:
            return [d for d in tx.databases.list() if viewer.can_access(d.groups)]

    def set_database_groups(
        self, database_id: int, groups: Sequence[str], actor: User = SYSTEM
    ) -> ProfileDatabase:
        with self.store.transaction() as tx:
            visible_database(tx, database_id, actor)
            checked = checked_groups(groups, actor, "profile database")
            return tx.databases.set_groups(database_id, checked)

    def count_profiles(self, database_id: int, viewer: User = SYSTEM) -> int:
        with self.store.read() as tx:
            visible_database(tx, database_id, viewer)
            return tx.profiles.count(database_id)

    # ------------------------------------------------------------------ imports

    def import_profiles(
        self,
        database_id: int,
        rows: Sequence[ProfileImport],
        source: ImportSource,
        *,
        skip_invalid: bool = False,
    ) -> ImportResult:
        """Create or update profiles (matched on the database's match field) in one
        transaction, and capture them into every active scenario whose trigger fires.

        A row that cannot be imported refuses the whole batch, naming the row; with
        ``skip_invalid`` it is left out instead, and listed with its reason.
        Concurrent imports of the same profiles are safe: a profile is created by
        one of them and updated by the others, and a transaction PostgreSQL aborts
        (deadlock, serialization failure) is run again, up to :data:`IMPORT_ATTEMPTS`
        times in all.
        """
        for attempt in range(1, IMPORT_ATTEMPTS + 1):
            try:
                return self._import_once(database_id, rows, source, skip_invalid)
            except Exception as exc:
                if attempt == IMPORT_ATTEMPTS or not is_retryable(exc):
                    raise
                # Let the transaction that won go ahead; jitter keeps retries apart.
                time.sleep(random.uniform(0, 0.05 * attempt))
        raise AssertionError("unreachable")

    def _import_once(
        self,
        database_id: int,
        rows: Sequence[ProfileImport],
        source: ImportSource,
        skip_invalid: bool,
    ) -> ImportResult:
        now = self.clock.now()
        with self.store.transaction() as tx:
            database = tx.databases.get(database_id)
            schema = database.all_fields()
            row_keys: list[str | None] = []
            rejected: list[tuple[int, str]] = []
            merged: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
            for i, row in enumerate(rows):
                try:
                    position = None if skip_invalid else i + 1
                    fields, key = prepare_row(database, schema, row.fields, position)
                except InvalidInput as exc:
                    if not skip_invalid:
                        raise
                    rejected.append((i + 1, str(exc)))
                    row_keys.append(None)
                    continue
                statuses = {c.value: s.value for c, s in row.subscriptions.items()}
                previous = merged.get(key)
                if previous is not None:  # the same profile twice in one batch: last wins
                    fields = {**previous[0], **fields}
                    statuses = {**previous[1], **statuses}
                merged[key] = (fields, statuses)
                row_keys.append(key)
            # Every writer locks profiles in key order: existing ones first, then the
            # new ones as it inserts them; a key another import created meanwhile is
            # then an update, locked after waiting for that import to commit.
            existing = tx.profiles.by_keys(database_id, list(merged))
            new_rows: list[dict[str, Any]] = [
                {
                    "database_id": database_id,
                    "match_key": key,
                    "fields": fields,
                    "subscriptions": statuses,
                    "created_at": now,
                    "updated_at": now,
                }
                for key, (fields, statuses) in merged.items()
                if key not in existing
            ]
            ids = tx.profiles.insert_new(new_rows)
            taken = [r["match_key"] for r in new_rows if r["match_key"] not in ids]
            if taken:
                existing.update(tx.profiles.by_keys(database_id, taken))
            created_ids = sorted(ids.values())
            updates: list[dict[str, Any]] = []
            for key, (profile_id, old_fields, old_subs) in existing.items():
                fields, statuses = merged[key]
                updates.append(
                    {
                        "_id": profile_id,
                        "fields": {**old_fields, **fields},
                        "subscriptions": {**old_subs, **statuses},
                        "updated_at": now,
                    }
                )
                ids[key] = profile_id
            updates.sort(key=lambda u: int(u["_id"]))
            tx.profiles.update_many(updates)
            updated_ids = [u["_id"] for u in updates]
            captured = self._fire_triggers(tx, database_id, source, created_ids, updated_ids, now)
            return ImportResult(
                created=len(created_ids),
                updated=len(updated_ids),
                profile_ids=created_ids + updated_ids,
                captured=captured,
                row_ids=[None if k is None else ids[k] for k in row_keys],
                created_ids=frozenset(created_ids),
                rejected=rejected,
            )

    def _fire_triggers(
        self,
        tx: Tx,
        database_id: int,
        source: ImportSource,
        created: list[int],
        updated: list[int],
        now: float,
    ) -> int:
        scenario_ids = tx.scenarios.active_for_database(database_id)
        if not scenario_ids:
            return 0
        fx = Effects(now)
        captured = 0
        for graph in self.graphs.get(tx, scenario_ids).values():
            # One import event captures a profile once per scenario, at the first
            # trigger that fires for it.
            for ids, is_new in ((created, True), (updated, False)):
                triggers = graph.triggers_for(source, is_new)
                if ids and triggers:
                    results = capture(tx, graph, triggers[0], ids, fx, new_profiles=is_new)
                    captured += sum(r.captured for r in results)
        fx.flush(tx)
        return captured

    def import_csv(
        self,
        database_id: int,
        data: IO[bytes],
        delimiter: str = ",",
        on_batch: Callable[[CsvImportReport], None] | None = None,
    ) -> CsvImportReport:
        """Import a CSV file in batches; see :func:`scenaria.services.csv_import.import_csv`."""
        from scenaria.services.csv_import import import_csv  # it builds on this module

        return import_csv(self, database_id, data, delimiter, on_batch)

    # ------------------------------------------------------------------ lookups

    def get_profile(
        self, database_id: int, profile_id: int, viewer: User = SYSTEM
    ) -> dict[str, Any]:
        """One profile of the database (NotFound if it belongs to another one)."""
        with self.store.read() as tx:
            visible_database(tx, database_id, viewer)
            return self._profile_in(tx, database_id, profile_id)

    def find_profile(self, database_id: int, key: str, viewer: User = SYSTEM) -> dict[str, Any]:
        """The profile whose match field has this value."""
        with self.store.read() as tx:
            database = visible_database(tx, database_id, viewer)
            profile = tx.profiles.by_key(database_id, lookup_key(database, key))
            if profile is None:
                raise NotFound(
                    f"no profile of database {database_id} has {database.match_field} {key!r}"
                )
            return profile

    @staticmethod
    def _profile_in(tx: Tx, database_id: int, profile_id: int) -> dict[str, Any]:
        profile = tx.profiles.get(profile_id)
        if profile["database_id"] != database_id:
            raise NotFound(f"profile {profile_id} is not in profile database {database_id}")
        return profile

    # ------------------------------------------------------------------- events

    def record_events(
        self, database_id: int, events: Sequence[EventInput], viewer: User = SYSTEM
    ) -> EventsResult:
        """Custom events and subscription changes, all in one transaction."""
        with self.store.transaction() as tx:
            database = visible_database(tx, database_id, viewer)
            return event_rules.record(tx, database, events, self.clock.now())

    def set_subscription(
        self, profile_id: int, channel: Channel, status: SubscriptionStatus
    ) -> None:
        """Change a subscription; confirming double opt-in records the confirmation event."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            profile = tx.profiles.get(profile_id)
            subs = {**profile["subscriptions"], channel.value: status.value}
            tx.profiles.update_subscriptions([{"_id": profile_id, "subscriptions": subs}], now)
            event = {
                SubscriptionStatus.SUBSCRIBED: event_rules.CONFIRMED,
                SubscriptionStatus.UNSUBSCRIBED: event_rules.UNSUBSCRIBED,
                SubscriptionStatus.UNCONFIRMED: event_rules.PENDING,
            }[status]
            tx.events.add(profile_id, event, now, data={"channel": channel.value})

    def confirm_subscription(self, profile_id: int, channel: Channel = Channel.EMAIL) -> None:
        self.set_subscription(profile_id, channel, SubscriptionStatus.SUBSCRIBED)

    def record_message_event(
        self,
        outbox_key: str,
        event: str,
        data: dict[str, Any] | None = None,
        viewer: User = SYSTEM,
    ) -> MessageEvent:
        """Record what a recipient did with a message (opened, clicked …); a message of a
        scenario ``viewer`` may not see does not exist for them."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            message = visible_message(tx, outbox_key, viewer)
            tx.events.add(
                message["profile_id"],
                event,
                now,
                task_id=message["task_id"],
                node_id=message["node_id"],
                outbox_key=outbox_key,
                data=data,
            )
            return MessageEvent(message["profile_id"], event, now)

    # --------------------------------------------------------------------- card

    def card(
        self,
        profile_id: int,
        database_id: int | None = None,
        viewer: User = SYSTEM,
        events_limit: int = 100,
    ) -> dict[str, Any]:
        """The profile card: fields, subscriptions, latest events, and each scenario
        task's path; only what ``viewer`` may see (tasks, and the events of tasks, of
        scenarios in their groups)."""
        with self.store.read() as tx:
            if database_id is None:
                profile = tx.profiles.get(profile_id)
                visible_database(tx, profile["database_id"], viewer)
            else:
                visible_database(tx, database_id, viewer)
                profile = self._profile_in(tx, database_id, profile_id)
            scenarios: dict[int, tuple[str, bool] | None] = {}
            tasks = []
            hidden_tasks: set[int] = set()
            for task in tx.tasks.for_profile(profile_id):
                if task.scenario_id not in scenarios:
                    try:
                        scenario = tx.scenarios.get(task.scenario_id)
                        seen = (scenario.name, viewer.can_access(scenario.groups))
                        scenarios[task.scenario_id] = seen
                    except NotFound:
                        scenarios[task.scenario_id] = None
                known = scenarios[task.scenario_id]
                if known is not None and not known[1]:
                    hidden_tasks.add(task.id)
                    continue
                tasks.append(
                    {
                        "task_id": task.id,
                        "scenario_id": task.scenario_id,
                        "scenario_name": known[0] if known else None,
                        "state": task.state.value,
                        "entered_at": task.entered_at,
                        "node_id": task.node_id,
                        "exit_node": task.exit_node,
                        "end_reason": task.end_reason,
                        "ended_at": task.ended_at,
                        "data": task.data,
                        "path": tx.visits.for_task(task.id),
                    }
                )
            events = self._visible_events(tx, profile_id, events_limit, hidden_tasks)
            return {**profile, "events": events, "tasks": tasks}

    @staticmethod
    def _visible_events(
        tx: Tx, profile_id: int, limit: int, hidden_tasks: set[int]
    ) -> list[dict[str, Any]]:
        """The latest ``limit`` events outside ``hidden_tasks``: read further back while
        hidden ones took places."""
        fetch = limit
        while True:
            rows = tx.events.for_profile(profile_id, fetch)
            seen = [e for e in rows if e["task_id"] not in hidden_tasks]
            if len(seen) >= limit or len(rows) < fetch:
                return seen[:limit]
            fetch *= 4

    def add_promo_codes(self, pool: str, codes: Sequence[str]) -> None:
        with self.store.transaction() as tx:
            tx.promo.add(pool, codes)
