"""Where a finished task's bytes go: per table and index, SQLite (dbstat) or PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def sqlite_file_bytes(path: Path) -> int:
    """The database file's size after folding the WAL back into it."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path.stat().st_size


def sqlite_breakdown(path: Path) -> list[tuple[str, str, int]]:
    """(table, object, bytes on disk) for every table and index, largest first.

    dbstat's ``pgsize`` counts whole pages, free space inside them included, which
    is what the file pays for."""
    db = sqlite3.connect(path)
    owners = dict(
        db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table','index')")
    )
    rows = db.execute(
        "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
    ).fetchall()
    free = (
        db.execute("PRAGMA freelist_count").fetchone()[0]
        * db.execute("PRAGMA page_size").fetchone()[0]
    )
    db.close()
    out = [(owners.get(name, name), name, int(size)) for name, size in rows]
    if free:
        out.append(("(free pages)", "(free pages)", int(free)))
    return out


def sqlite_row_lines(path: Path, tasks: int) -> list[str]:
    """What the big tables hold per finished task: rows and raw column bytes."""
    db = sqlite3.connect(path)
    out = ["| rows | per task | raw bytes per task |", "|---|---:|---:|"]
    for channel, count, payload in db.execute(
        "SELECT channel, count(*), sum(length(payload) + coalesce(length(response), 0)) "
        "FROM outbox GROUP BY channel ORDER BY 3 DESC"
    ):
        out.append(
            f"| outbox, {channel} (payload + response) | {count / tasks:.2f} "
            f"| {payload / tasks:,.0f} |"
        )
    (visits,) = db.execute("SELECT count(*) FROM visits").fetchone()
    out.append(f"| visits | {visits / tasks:.2f} | - |")
    (data,) = db.execute("SELECT sum(coalesce(length(data), 0)) FROM tasks").fetchone()
    out.append(f"| tasks (data JSON) | 1.00 | {data / tasks:,.0f} |")
    db.close()
    return out


def pg_breakdown(dsn: str) -> tuple[int, list[tuple[str, str, int]]]:
    """The bytes of Scenaria's tables (heap, TOAST, free-space and visibility maps)
    and indexes, and (table, object, bytes) for each, largest first. PostgreSQL's own
    catalogs (about 7.5 MB in any database) are left out. Dead row versions left by
    updates count until vacuum makes their space reusable: that is what the files
    hold."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("CHECKPOINT")
        rows = db.execute(
            """
            SELECT coalesce(i.tablename, c.relname) AS tbl, c.relname,
                   CASE WHEN c.relkind = 'i' THEN pg_relation_size(c.oid)
                        ELSE pg_table_size(c.oid) END
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
            LEFT JOIN pg_indexes i ON i.indexname = c.relname AND i.schemaname = 'public'
            WHERE c.relkind IN ('r', 'i')
            ORDER BY 3 DESC
            """
        ).fetchall()
    objects = [(t, r, int(s)) for t, r, s in rows]
    return sum(s for _, _, s in objects), objects


def table_sums(objects: list[tuple[str, str, int]]) -> dict[str, int]:
    sums: dict[str, int] = {}
    for table, _, size in objects:
        sums[table] = sums.get(table, 0) + size
    return dict(sorted(sums.items(), key=lambda kv: -kv[1]))


def breakdown_lines(objects: list[tuple[str, str, int]], tasks: int, top: int = 14) -> list[str]:
    """Markdown lines: bytes per finished task by table (all its objects), then the
    largest indexes (each also counted in its table's line)."""
    total = sum(s for _, _, s in objects)
    lines = ["| table / index | bytes per task | share |", "|---|---:|---:|"]
    for table, size in table_sums(objects).items():
        if size < tasks:
            continue
        lines.append(f"| **{table}** (all) | {size / tasks:,.0f} | {size / total:.0%} |")
    for table, name, size in [o for o in objects if o[0] != o[1]][:top]:
        if size >= tasks:
            lines.append(f"| {table} · {name} | {size / tasks:,.0f} | {size / total:.0%} |")
    return lines
