"""Profile use cases: databases, imports that fire triggers, subscriptions, events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from scenaria.clock import Clock
from scenaria.engine.capture import capture
from scenaria.engine.effects import Effects
from scenaria.engine.scheduler import GraphCache
from scenaria.errors import InvalidInput
from scenaria.model.profiles import (
    Channel,
    FieldType,
    ImportSource,
    ProfileDatabase,
    SubscriptionStatus,
    coerce_fields,
)
from scenaria.store.database import Store
from scenaria.store.repositories import Tx


class ProfileImport(BaseModel):
    """One profile in an import: its fields and, optionally, its subscriptions."""

    fields: dict[str, Any]
    subscriptions: dict[Channel, SubscriptionStatus] = Field(default_factory=dict)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    profile_ids: list[int] = field(default_factory=list)
    captured: int = 0
    """Tasks started by triggers this import fired."""


class ProfileService:
    def __init__(self, store: Store, clock: Clock, graphs: GraphCache | None = None) -> None:
        self.store = store
        self.clock = clock
        self.graphs = graphs or GraphCache()

    def create_database(
        self, name: str, fields: dict[str, FieldType] | None = None, match_field: str = "email"
    ) -> ProfileDatabase:
        database = ProfileDatabase(name=name, fields=fields or {}, match_field=match_field)
        if match_field not in database.all_fields():
            raise InvalidInput(f"match field '{match_field}' is not a field of the database")
        with self.store.transaction() as tx:
            return tx.databases.add(database)

    def import_profiles(
        self, database_id: int, rows: Sequence[ProfileImport], source: ImportSource
    ) -> ImportResult:
        """Create or update profiles (matched on the database's match field) in one
        transaction, and capture them into every active scenario whose trigger fires."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            database = tx.databases.get(database_id)
            schema = database.all_fields()
            merged: dict[str, ProfileImport] = {}
            for i, row in enumerate(rows):
                fields = coerce_fields(schema, row.fields)
                key = fields.get(database.match_field)
                if key in (None, ""):
                    raise InvalidInput(
                        f"profile #{i + 1}: the match field '{database.match_field}' is required"
                    )
                key = str(key).strip().lower() if database.match_field == "email" else str(key)
                previous = merged.get(key)
                if previous is not None:  # the same profile twice in one batch: last wins
                    fields = {**previous.fields, **fields}
                    subs = {**previous.subscriptions, **row.subscriptions}
                else:
                    subs = dict(row.subscriptions)
                merged[key] = ProfileImport(fields=fields, subscriptions=subs)
            existing = tx.profiles.by_keys(database_id, list(merged))
            new_rows: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            updated_ids: list[int] = []
            for key, row in merged.items():
                statuses = {c.value: s.value for c, s in row.subscriptions.items()}
                if key in existing:
                    profile_id, old_fields, old_subs = existing[key]
                    updates.append(
                        {
                            "_id": profile_id,
                            "fields": {**old_fields, **row.fields},
                            "subscriptions": {**old_subs, **statuses},
                            "updated_at": now,
                        }
                    )
                    updated_ids.append(profile_id)
                else:
                    new_rows.append(
                        {
                            "database_id": database_id,
                            "match_key": key,
                            "fields": row.fields,
                            "subscriptions": statuses,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
            created_ids = tx.profiles.insert_many(new_rows)
            tx.profiles.update_many(updates)
            captured = self._fire_triggers(tx, database_id, source, created_ids, updated_ids, now)
            return ImportResult(
                created=len(created_ids),
                updated=len(updated_ids),
                profile_ids=created_ids + updated_ids,
                captured=captured,
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

    def set_subscription(
        self, profile_id: int, channel: Channel, status: SubscriptionStatus
    ) -> None:
        """Change a subscription; confirming double opt-in records the confirmation event."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            profile = tx.profiles.get(profile_id)
            subs = {**profile["subscriptions"], channel.value: status.value}
            tx.profiles.update_many(
                [
                    {
                        "_id": profile_id,
                        "fields": profile["fields"],
                        "subscriptions": subs,
                        "updated_at": now,
                    }
                ]
            )
            event = {
                SubscriptionStatus.SUBSCRIBED: "subscription_confirmed",
                SubscriptionStatus.UNSUBSCRIBED: "unsubscribed",
                SubscriptionStatus.UNCONFIRMED: "subscription_pending",
            }[status]
            tx.events.add(profile_id, event, now, data={"channel": channel.value})

    def confirm_subscription(self, profile_id: int, channel: Channel = Channel.EMAIL) -> None:
        self.set_subscription(profile_id, channel, SubscriptionStatus.SUBSCRIBED)

    def record_message_event(
        self, outbox_key: str, event: str, data: dict[str, Any] | None = None
    ) -> None:
        """Record what a recipient did with a message (opened, clicked …)."""
        with self.store.transaction() as tx:
            message = tx.outbox.get(outbox_key)
            tx.events.add(
                message["profile_id"],
                event,
                self.clock.now(),
                task_id=message["task_id"],
                node_id=message["node_id"],
                outbox_key=outbox_key,
                data=data,
            )

    def card(self, profile_id: int) -> dict[str, Any]:
        """The profile card: fields, subscriptions, events, and each scenario task's path."""
        with self.store.read() as tx:
            profile = tx.profiles.get(profile_id)
            tasks = []
            for task in tx.tasks.for_profile(profile_id):
                tasks.append(
                    {
                        "task_id": task.id,
                        "scenario_id": task.scenario_id,
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
            return {**profile, "events": tx.events.for_profile(profile_id), "tasks": tasks}

    def add_promo_codes(self, pool: str, codes: Sequence[str]) -> None:
        with self.store.transaction() as tx:
            tx.promo.add(pool, codes)
