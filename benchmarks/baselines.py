"""Bare claim-and-update loops over the engine's own tables: the floor the database
itself sets on this machine, measured in the same run as the engine.

Each loop claims a batch of due tasks, moves each one node on (a task update and a
visit row), and commits: what the scheduler does minus everything Scenaria adds
(node steps, templates, outbox, counters, promo codes, profile reads).
"""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


def sqlite_moves_per_s(path: Path, moves: int, batch_size: int = 1000) -> float:
    """One process on the SQLite file (SQLite has one writer)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("UPDATE tasks SET state='scheduled', due_at=0, visit=1000")
    done = 0
    started = time.perf_counter()
    while done < moves:
        db.execute("BEGIN IMMEDIATE")
        rows = db.execute(
            "SELECT id, visit FROM tasks WHERE state='scheduled' AND due_at <= ? "
            "ORDER BY due_at LIMIT ?",
            (done + 1, batch_size),
        ).fetchall()
        db.executemany(
            "UPDATE tasks SET due_at=?, visit=?, node_id='x' WHERE id=?",
            [(done + 2, v + 1, i) for i, v in rows],
        )
        db.executemany(
            "INSERT INTO visits (task_id, seq, node_id, entered_at, left_at, port) "
            "VALUES (?, ?, 'x', 0, 0, 'next')",
            [(i, v + 1) for i, v in rows],
        )
        db.execute("COMMIT")
        done += len(rows)
    elapsed = time.perf_counter() - started
    db.close()
    return done / elapsed


def _pg_loop(dsn: str, batch_size: int, seconds: float, conn: Connection) -> None:
    import psycopg

    moves = 0
    with psycopg.connect(dsn) as db:
        conn.send("ready")
        start_at = conn.recv()
        while time.time() < start_at:
            time.sleep(0.001)
        deadline = start_at + seconds
        while time.time() < deadline:
            with db.transaction(), db.cursor() as cur:
                rows = cur.execute(
                    "SELECT id, visit, due_at FROM tasks WHERE state='scheduled' "
                    "AND due_at <= 1e12 ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED",
                    (batch_size,),
                ).fetchall()
                cur.executemany(
                    "UPDATE tasks SET due_at=%s, visit=%s, node_id='x' WHERE id=%s",
                    [(d + 1, v + 1, i) for i, v, d in rows],
                )
                cur.executemany(
                    "INSERT INTO visits (task_id, seq, node_id, entered_at, left_at, port) "
                    "VALUES (%s, %s, 'x', 0, 0, 'next')",
                    [(i, v + 1) for i, v, _ in rows],
                )
            moves += len(rows)
    conn.send(moves)


def pg_moves_per_s(
    dsn: str, processes: int, seconds: float = 10.0, batch_size: int = 1000
) -> float:
    """``processes`` loops in parallel with ``FOR UPDATE SKIP LOCKED``, for
    ``seconds``; total moves per second."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as db:
        # Every task due; visit numbers above any recorded, so new visit rows are new.
        db.execute(
            "UPDATE tasks SET state='scheduled', due_at=id % 1000, "
            "visit=(SELECT coalesce(max(seq), 0) + 1 FROM visits)"
        )
        db.execute("VACUUM ANALYZE tasks")
    ctx = mp.get_context("spawn")
    pipes: list[Connection] = []
    procs: list[Any] = []
    for _ in range(processes):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_pg_loop, args=(dsn, batch_size, seconds, child))
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    for pipe in pipes:
        pipe.recv()
    start_at = time.time() + 0.2
    for pipe in pipes:
        pipe.send(start_at)
    total = sum(p.recv() for p in pipes)
    for proc in procs:
        proc.join()
    return total / seconds
