"""Profile databases, profiles and promo-code pools."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from scenaria.errors import NotFound
from scenaria.model.nodes.base import ProfileView
from scenaria.model.profiles import FieldType, ProfileDatabase
from scenaria.store.dialect import (
    chunks,
    execute_many,
    insert_new,
    lock_rows,
    refresh_stale_statistics,
)
from scenaria.store.schema import databases, profiles, promo_codes


def _database(row: Row[Any]) -> ProfileDatabase:
    return ProfileDatabase(
        id=row.id,
        name=row.name,
        fields={k: FieldType(v) for k, v in row.fields.items()},
        match_field=row.match_field,
        groups=tuple(row.groups),
    )


class DatabaseRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, db: ProfileDatabase) -> ProfileDatabase:
        result = self.conn.execute(
            insert(databases).values(
                name=db.name,
                fields={k: v.value for k, v in db.fields.items()},
                match_field=db.match_field,
                groups=list(db.groups),
            )
        )
        assert result.inserted_primary_key is not None
        return db.model_copy(update={"id": result.inserted_primary_key[0]})

    def get(self, database_id: int) -> ProfileDatabase:
        row = self.conn.execute(_DATABASE, {"database_id": database_id}).first()
        if row is None:
            raise NotFound(f"profile database {database_id} does not exist")
        return _database(row)

    def list(self) -> list[ProfileDatabase]:
        return [_database(r) for r in self.conn.execute(select(databases).order_by(databases.c.id))]

    def set_groups(self, database_id: int, groups: Sequence[str]) -> ProfileDatabase:
        self.conn.execute(
            update(databases).where(databases.c.id == database_id).values(groups=list(groups))
        )
        return self.get(database_id)


class ProfileRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def by_keys(
        self, database_id: int, keys: Sequence[str]
    ) -> dict[str, tuple[int, dict[str, Any], dict[str, str]]]:
        """Existing profiles by match key: id, fields, subscriptions, locked until commit.

        Rows are locked in key order (whatever order ``keys`` come in), so importers
        of overlapping profiles queue behind each other instead of deadlocking."""
        found: dict[str, tuple[int, dict[str, Any], dict[str, str]]] = {}
        query = lock_rows(self.conn, _BY_KEYS)
        for chunk in chunks(sorted(set(keys)), 500):
            rows = self.conn.execute(query, {"database_id": database_id, "keys": list(chunk)})
            for row in rows:
                found[row.match_key] = (row.id, row.fields, row.subscriptions)
        return found

    def insert_new(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Insert the profiles whose match key is not taken yet (database_id, match_key,
        fields, subscriptions, times); returns the inserted ones' ids by match key.

        A key another transaction inserted meanwhile is left out (waiting for that
        transaction to end first): the caller finds it with :meth:`by_keys`."""
        if not rows:
            return {}
        if len(rows) >= 100:
            refresh_stale_statistics(self.conn, "profiles")
        ordered = sorted(rows, key=lambda r: r["match_key"])
        inserted = insert_new(
            self.conn, profiles, ordered, ("database_id", "match_key"), ("id", "match_key")
        )
        return {r.match_key: r.id for r in inserted}

    def update_many(self, rows: list[dict[str, Any]]) -> None:
        """Rows of ``_id``, ``fields``, ``subscriptions``, ``updated_at``."""
        if rows:
            self.conn.execute(
                update(profiles)
                .where(profiles.c.id == bindparam("_id"))
                .values(
                    fields=bindparam("fields"),
                    subscriptions=bindparam("subscriptions"),
                    updated_at=bindparam("updated_at"),
                ),
                rows,
            )

    def update_fields(self, changed: Iterable[ProfileView], now: float) -> None:
        rows = [{"_id": p.id, "fields": p.fields, "updated_at": now} for p in changed]
        if rows:
            self.conn.execute(
                update(profiles)
                .where(profiles.c.id == bindparam("_id"))
                .values(fields=bindparam("fields"), updated_at=bindparam("updated_at")),
                rows,
            )

    def views(self, ids: Iterable[int]) -> dict[int, ProfileView]:
        out: dict[int, ProfileView] = {}
        query = lock_rows(self.conn, _VIEWS)
        for chunk in chunks(sorted(set(ids))):
            for row in self.conn.execute(query, {"ids": list(chunk)}):
                out[row.id] = ProfileView(row.id, row.fields, row.subscriptions)
        return out

    def update_subscriptions(self, rows: list[dict[str, Any]], now: float) -> None:
        """Rows of ``_id`` and the whole new ``subscriptions``; fields stay as they are."""
        if rows:
            self.conn.execute(
                update(profiles)
                .where(profiles.c.id == bindparam("_id"))
                .values(subscriptions=bindparam("subscriptions"), updated_at=now),
                rows,
            )

    def get(self, profile_id: int) -> dict[str, Any]:
        row = self.conn.execute(select(profiles).where(profiles.c.id == profile_id)).first()
        if row is None:
            raise NotFound(f"profile {profile_id} does not exist")
        return dict(row._mapping)

    def by_key(self, database_id: int, key: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            select(profiles).where(
                profiles.c.database_id == database_id, profiles.c.match_key == key
            )
        ).first()
        return None if row is None else dict(row._mapping)

    def owners_and_subscriptions(self, ids: Sequence[int]) -> dict[int, tuple[int, dict[str, str]]]:
        """Database id and subscriptions of each existing profile among ``ids``."""
        out: dict[int, tuple[int, dict[str, str]]] = {}
        query = lock_rows(self.conn, _OWNERS)
        for chunk in chunks(sorted(set(ids))):
            for row in self.conn.execute(query, {"ids": list(chunk)}):
                out[row.id] = (row.database_id, row.subscriptions)
        return out

    def count(self, database_id: int) -> int:
        return int(
            self.conn.execute(
                select(func.count()).where(profiles.c.database_id == database_id)
            ).scalar_one()
        )


_FREE = (
    select(promo_codes.c.id, promo_codes.c.code)
    .where(
        promo_codes.c.pool == bindparam("b_pool"),
        promo_codes.c.task_id.is_(None),
    )
    .order_by(promo_codes.c.id)
    .limit(bindparam("b_limit"))
)
_FREE_SKIPPING = _FREE.with_for_update(skip_locked=True)
_FREE_WAITING = _FREE.with_for_update()
_ASSIGN = (
    update(promo_codes)
    .where(promo_codes.c.id == bindparam("_id"), promo_codes.c.task_id.is_(None))
    .values(
        task_id=bindparam("task_id"),
        profile_id=bindparam("profile_id"),
        taken_at=bindparam("taken_at"),
    )
)
# Statements of the import path are built once: building one costs more than running it.
_DATABASE = select(databases).where(databases.c.id == bindparam("database_id"))
_BY_KEYS = (
    select(profiles.c.match_key, profiles.c.id, profiles.c.fields, profiles.c.subscriptions)
    .where(
        profiles.c.database_id == bindparam("database_id"),
        profiles.c.match_key.in_(bindparam("keys", expanding=True)),
    )
    .order_by(profiles.c.match_key)
)
_VIEWS = select(profiles.c.id, profiles.c.fields, profiles.c.subscriptions).where(
    profiles.c.id.in_(bindparam("ids", expanding=True))
)
_OWNERS = select(profiles.c.id, profiles.c.database_id, profiles.c.subscriptions).where(
    profiles.c.id.in_(bindparam("ids", expanding=True))
)


class PromoRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, pool: str, codes: Sequence[str]) -> None:
        if codes:
            self.conn.execute(insert(promo_codes), [{"pool": pool, "code": c} for c in codes])

    def pools(self) -> frozenset[str]:
        return frozenset(self.conn.execute(select(promo_codes.c.pool).distinct()).scalars())

    def free(self, pool: str, limit: int) -> list[tuple[int, str]]:
        """The oldest free codes of the pool, as (id, code), locked against other
        workers until commit. Codes this transaction assigned are no longer free.

        On PostgreSQL codes another worker's batch holds are skipped; if that leaves
        too few, the free codes are read again waiting for those batches, whose
        unused codes come free when they commit: a pool is never reported empty
        while it still has codes. Two batches waiting for each other's codes is a
        deadlock PostgreSQL breaks by aborting one; its worker runs it again.
        """
        params = {"b_pool": pool, "b_limit": limit}
        if self.conn.dialect.name == "sqlite":
            rows = list(self.conn.execute(_FREE, params))
        else:
            skipping = self.conn.begin_nested()
            rows = list(self.conn.execute(_FREE_SKIPPING, params))
            if len(rows) < limit:
                # Let go of what the skipping read locked before waiting for others.
                skipping.rollback()
                rows = list(self.conn.execute(_FREE_WAITING, params))
            else:
                skipping.commit()
        return [(r.id, r.code) for r in rows]

    def assign_many(self, rows: list[dict[str, Any]]) -> None:
        """Give codes to tasks: rows of ``_id``, ``task_id``, ``profile_id``, ``taken_at``."""
        execute_many(self.conn, _ASSIGN, rows)

    def given(self, pool: str | None = None) -> list[tuple[str, int]]:
        """(code, task id) of every code handed out."""
        query = select(promo_codes.c.code, promo_codes.c.task_id).where(
            promo_codes.c.task_id.is_not(None)
        )
        if pool:
            query = query.where(promo_codes.c.pool == pool)
        return [(r.code, r.task_id) for r in self.conn.execute(query)]
