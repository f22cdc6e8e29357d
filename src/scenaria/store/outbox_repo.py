"""The outbox (messages and requests to deliver) and the events that come back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import bindparam, distinct, func, insert, select, update
from sqlalchemy.engine import Connection

from scenaria.errors import NotFound
from scenaria.model.outbox import OutboxStatus
from scenaria.store.dialect import chunks, execute_many
from scenaria.store.schema import events, outbox

QUEUED, SENDING, SENT, FAILED, SKIPPED = (
    s.value
    for s in (
        OutboxStatus.QUEUED,
        OutboxStatus.SENDING,
        OutboxStatus.SENT,
        OutboxStatus.FAILED,
        OutboxStatus.SKIPPED,
    )
)
"""The statuses as the column stores them (plain text at the SQL boundary)."""


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


_NEW = {"lease_until": None, "sent_at": None, "response": None, "reason": None}
_INSERT = insert(outbox).values({c.name: bindparam(c.name) for c in outbox.columns})
_FINISH = (
    update(outbox)
    .where(outbox.c.key == bindparam("_key"), outbox.c.status == SENDING)
    .values(
        status=bindparam("status"),
        reason=bindparam("reason"),
        response=bindparam("response"),
        sent_at=bindparam("sent_at"),
        lease_until=None,
    )
)
_RETRY = (
    update(outbox)
    .where(outbox.c.key == bindparam("_key"), outbox.c.status == SENDING)
    .values(
        status=QUEUED,
        next_attempt_at=bindparam("next_attempt_at"),
        reason=bindparam("reason"),
        lease_until=None,
    )
)
_DEFER = (
    update(outbox)
    .where(outbox.c.key == bindparam("_key"), outbox.c.status == SENDING)
    .values(
        status=QUEUED,
        next_attempt_at=bindparam("next_attempt_at"),
        lease_until=None,
        attempts=outbox.c.attempts - 1,
    )
)


class OutboxRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert_many(self, rows: list[dict[str, Any]]) -> None:
        """New messages: rows of every outbox column but the delivery results."""
        execute_many(
            self.conn,
            _INSERT,
            [{**_NEW, **row, "payload": orjson.dumps(row["payload"]).decode()} for row in rows],
        )

    def claim(
        self, channels: Sequence[str], now: float, limit: int, lease_seconds: float
    ) -> list[dict[str, Any]]:
        """Lease up to ``limit`` due messages to this deliverer and count the attempt.

        Messages whose lease expired (their deliverer died mid-send) come first;
        each kind of claimable message has its own partial index.
        """
        expired = (
            select(outbox.c.key)
            .where(
                outbox.c.status == SENDING,
                outbox.c.lease_until < now,
                outbox.c.channel.in_(list(channels)),
            )
            .order_by(outbox.c.lease_until)
            .limit(limit)
        )
        queued = (
            select(outbox.c.key)
            .where(
                outbox.c.status == QUEUED,
                outbox.c.channel.in_(list(channels)),
                outbox.c.next_attempt_at <= now,
            )
            .order_by(outbox.c.next_attempt_at)
            .limit(limit)
        )
        keys: list[str] = []
        for query in (expired, queued):
            if len(keys) < limit:
                query = query.limit(limit - len(keys))
                if self.conn.dialect.name != "sqlite":
                    query = query.with_for_update(skip_locked=True)
                keys += self.conn.execute(query).scalars()
        if not keys:
            return []
        self.conn.execute(
            update(outbox)
            .where(outbox.c.key.in_(keys))
            .values(status=SENDING, lease_until=now + lease_seconds, attempts=outbox.c.attempts + 1)
        )
        rows = self.conn.execute(select(outbox).where(outbox.c.key.in_(keys)))
        return [dict(r._mapping) for r in rows]

    def next_attempt(self, channels: Sequence[str]) -> float | None:
        """When the next message becomes claimable (a retry, or a lease running out)."""
        times = [
            self.conn.execute(
                select(func.min(outbox.c.next_attempt_at)).where(
                    outbox.c.status == QUEUED, outbox.c.channel.in_(list(channels))
                )
            ).scalar(),
            self.conn.execute(
                select(func.min(outbox.c.lease_until)).where(
                    outbox.c.status == SENDING, outbox.c.channel.in_(list(channels))
                )
            ).scalar(),
        ]
        known = [float(t) for t in times if t is not None]
        return min(known) if known else None

    def still_leased(self, leases: dict[str, float]) -> set[str]:
        """Keys still leased under the given lease (not taken over by another deliverer)."""
        rows = self.conn.execute(
            select(outbox.c.key, outbox.c.lease_until).where(
                outbox.c.key.in_(list(leases)), outbox.c.status == SENDING
            )
        )
        return {r.key for r in rows if r.lease_until == leases[r.key]}

    def finish_many(self, rows: list[dict[str, Any]]) -> None:
        """Mark messages sent or failed: rows of ``_key``, ``status``, ``reason``,
        ``response``, ``sent_at``."""
        execute_many(self.conn, _FINISH, [{**r, "response": _json(r["response"])} for r in rows])

    def retry_many(self, rows: list[dict[str, Any]]) -> None:
        """Put messages back in the queue: rows of ``_key``, ``next_attempt_at``, ``reason``."""
        execute_many(self.conn, _RETRY, rows)

    def defer_many(self, rows: list[dict[str, Any]]) -> None:
        """Put claimed but unsent messages back (a rate limit, a worker stopping): rows
        of ``_key`` and ``next_attempt_at``; the claim is not counted as an attempt."""
        execute_many(self.conn, _DEFER, rows)

    def cancel_for_tasks(self, task_ids: Sequence[int], reason: str) -> int:
        """Skip the still-queued messages of tasks taken out of their scenario."""
        cancelled = 0
        for chunk in chunks(task_ids):
            result = self.conn.execute(
                update(outbox)
                .where(outbox.c.task_id.in_(chunk), outbox.c.status == QUEUED)
                .values(status=SKIPPED, reason=reason, next_attempt_at=None)
            )
            cancelled += result.rowcount
        return cancelled

    def get(self, key: str) -> dict[str, Any]:
        row = self.conn.execute(select(outbox).where(outbox.c.key == key)).first()
        if row is None:
            raise NotFound(f"message {key} does not exist")
        return dict(row._mapping)

    def for_task(self, task_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            select(outbox).where(outbox.c.task_id == task_id).order_by(outbox.c.created_at)
        )
        return [dict(r._mapping) for r in rows]

    def all(self, channel: str | None = None) -> list[dict[str, Any]]:
        query = select(outbox).order_by(outbox.c.created_at, outbox.c.key)
        if channel:
            query = query.where(outbox.c.channel == channel)
        return [dict(r._mapping) for r in self.conn.execute(query)]

    def count_by(self, scenario_id: int) -> dict[tuple[str, str, str], int]:
        """Message counts by (node, channel, status)."""
        rows = self.conn.execute(
            select(outbox.c.node_id, outbox.c.channel, outbox.c.status, func.count())
            .where(outbox.c.scenario_id == scenario_id)
            .group_by(outbox.c.node_id, outbox.c.channel, outbox.c.status)
        )
        return {(r[0], r[1], r[2]): int(r[3]) for r in rows}

    def outcome_counts(
        self, scenario_id: int, start: float, end: float
    ) -> dict[tuple[str, str], int]:
        """Messages by (node, status) that were sent, failed or skipped in [start, end).

        A sent message counts at ``sent_at``; a failed one at its last attempt (its
        ``next_attempt_at``); a skipped one when it was written.
        """
        at = func.coalesce(outbox.c.sent_at, outbox.c.next_attempt_at, outbox.c.created_at)
        rows = self.conn.execute(
            select(outbox.c.node_id, outbox.c.status, func.count())
            .where(
                outbox.c.scenario_id == scenario_id,
                outbox.c.status.in_([SENT, FAILED, SKIPPED]),
                at >= start,
                at < end,
            )
            .group_by(outbox.c.node_id, outbox.c.status)
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}


_EVENT_TYPES = (
    select(events.c.type)
    .where(events.c.task_id == bindparam("task_id"), events.c.node_id == bindparam("node_id"))
    .distinct()
)


class EventRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        profile_id: int,
        type: str,
        at: float,
        *,
        task_id: int | None = None,
        node_id: str | None = None,
        outbox_key: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.conn.execute(
            insert(events).values(
                profile_id=profile_id,
                type=type,
                at=at,
                task_id=task_id,
                node_id=node_id,
                outbox_key=outbox_key,
                data=data,
            )
        )

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        """Rows of ``profile_id``, ``type``, ``at`` and ``data`` (events of no task)."""
        if rows:
            self.conn.execute(
                insert(events),
                [{"task_id": None, "node_id": None, "outbox_key": None, **r} for r in rows],
            )

    def types_for(self, task_id: int, node_id: str) -> frozenset[str]:
        rows = self.conn.execute(_EVENT_TYPES, {"task_id": task_id, "node_id": node_id})
        return frozenset(rows.scalars())

    def for_profile(self, profile_id: int, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            select(events)
            .where(events.c.profile_id == profile_id)
            .order_by(events.c.at.desc(), events.c.id.desc())
            .limit(limit)
        )
        return [dict(r._mapping) for r in rows]

    def for_message(self, task_id: int, node_id: str, key: str) -> list[dict[str, Any]]:
        """The events of one message, oldest first (read through the task/node index)."""
        rows = self.conn.execute(
            select(events)
            .where(
                events.c.task_id == task_id,
                events.c.node_id == node_id,
                events.c.outbox_key == key,
            )
            .order_by(events.c.at, events.c.id)
        )
        return [dict(r._mapping) for r in rows]

    def message_counts(
        self, scenario_id: int, types: Sequence[str], start: float, end: float
    ) -> dict[tuple[str, str], int]:
        """Messages of a scenario by (node, event type) with such an event in [start, end):
        each message counts once however often it was opened or clicked."""
        rows = self.conn.execute(
            select(outbox.c.node_id, events.c.type, func.count(distinct(events.c.outbox_key)))
            .select_from(events.join(outbox, events.c.outbox_key == outbox.c.key))
            .where(
                outbox.c.scenario_id == scenario_id,
                events.c.type.in_(list(types)),
                events.c.at >= start,
                events.c.at < end,
            )
            .group_by(outbox.c.node_id, events.c.type)
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}
