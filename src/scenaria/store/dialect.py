"""The few statements that differ between SQLite and PostgreSQL, in one place.

SQLite has one writer: a write transaction starts with ``BEGIN IMMEDIATE`` so
a batch holds the lock from claim to commit and nothing interleaves. On
PostgreSQL many workers claim concurrently with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Row, Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from scenaria.store.schema import stat_counters

T = TypeVar("T")


IN_LIMIT = 900
"""Values per SQL ``IN`` list: below SQLite's default cap of 999 bound parameters."""


def chunks(items: Sequence[T], size: int = IN_LIMIT) -> Iterator[Sequence[T]]:
    """``items`` in slices small enough for one ``IN`` list each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def lock_for_claim(conn: Connection, query: Select[Any]) -> Select[Any]:
    """Make a claim query skip rows another worker holds (no-op on SQLite)."""
    if is_sqlite(conn):
        return query
    return query.with_for_update(skip_locked=True)


def lock_rows(conn: Connection, query: Select[Any]) -> Select[Any]:
    """Lock rows read for a read-modify-write (no-op on SQLite, already exclusive)."""
    if is_sqlite(conn):
        return query
    return query.with_for_update()


COUNTER_SHARDS = 16
"""Counter rows per (scenario, node, day, metric) on PostgreSQL."""


def counter_shard(conn: Connection) -> int:
    """The counter shard a transaction adds to. SQLite has one writer: one shard.
    On PostgreSQL each transaction picks one at random, so workers committing at
    the same moment rarely wait for each other's counter row."""
    return 0 if is_sqlite(conn) else random.randrange(COUNTER_SHARDS)


def refresh_stale_statistics(conn: Connection, table: str) -> None:
    """ANALYZE ``table`` on PostgreSQL when it has grown past twice what the planner
    believes, instead of waiting for autovacuum.

    Without statistics a fresh table looks tiny, and the planner matches import keys
    by scanning every row of the database: a 100,000-profile import fell from
    13,000 to 1,300 profiles/s until autovacuum came by. Growth is geometric, so this
    runs a handful of times per table's life. (No-op on SQLite, whose planner uses
    the unique index anyway.)
    """
    if is_sqlite(conn):
        return
    row = conn.exec_driver_sql(
        "SELECT c.reltuples, s.n_live_tup, s.n_mod_since_analyze FROM pg_class c "
        "JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = %(t)s",
        {"t": table},
    ).first()
    if row is None:
        return
    believed, live, changed = max(float(row[0]), 0.0), int(row[1]), int(row[2])
    if changed > 1000 and live > 2 * believed:
        conn.exec_driver_sql(f"ANALYZE {table}")


RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
"""PostgreSQL's serialization failure and deadlock: the server rolled the transaction
back, and running it again is expected to succeed."""


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` aborted a transaction that may simply be run again."""
    if not isinstance(exc, DBAPIError):
        return False
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


_insert_new: dict[tuple[str, str], Any] = {}


def insert_new(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    unique: Sequence[str],
    returning: Sequence[str],
) -> list[Row[Any]]:
    """``INSERT … ON CONFLICT (unique) DO NOTHING RETURNING returning``: the rows that
    were inserted; the ones another transaction inserted first are left out.

    A conflict with a row another transaction has inserted but not committed waits
    for it, so two importers of the same new profiles never both create one. Give
    ``rows`` in one global order (by ``unique``) so such waits cannot form a cycle.
    """
    if not rows:
        return []
    key = (table.name, conn.dialect.name)
    statement = _insert_new.get(key)
    if statement is None:
        insert = sqlite.insert if is_sqlite(conn) else postgresql.insert
        statement = (
            insert(table)
            .on_conflict_do_nothing(index_elements=list(unique))
            .returning(*(table.c[name] for name in returning))
        )
        _insert_new[key] = statement
    return list(conn.execute(statement, rows))


def add_counters(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Upsert counter increments: ``value = value + excluded.value``."""
    if not rows:
        return
    insert = sqlite.insert if is_sqlite(conn) else postgresql.insert
    stmt = insert(stat_counters)
    stmt = stmt.on_conflict_do_update(
        index_elements=["scenario_id", "node_id", "day", "metric", "shard"],
        set_={"value": stat_counters.c.value + stmt.excluded.value},
    )
    conn.execute(stmt, rows)


_compiled: dict[tuple[int, str], tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}


def execute_many(conn: Connection, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Run one INSERT/UPDATE for many rows straight through the driver.

    On the engine's hot path SQLAlchemy's per-row parameter processing costs
    more than SQLite's own work, so hot statements are compiled once per
    dialect and fed plain values: the caller serialises JSON itself. Literal
    values in ``statement`` keep their compiled value.
    """
    if not rows:
        return
    key = (id(statement), conn.dialect.name)
    entry = _compiled.get(key)
    if entry is None:
        compiled = statement.compile(dialect=conn.dialect)
        order = compiled.positiontup
        literals = {
            compiled.bind_names[b]: b.value for b in compiled.binds.values() if not b.required
        }
        entry = (compiled.string, tuple(order) if order else None, literals)
        _compiled[key] = entry
    sql, order, literals = entry
    if literals:
        rows = [{**literals, **row} for row in rows]
    if order is None:
        conn.exec_driver_sql(sql, rows)
    else:
        conn.exec_driver_sql(sql, [tuple(row[k] for k in order) for row in rows])
