"""The relational schema, declared once for SQLite and PostgreSQL.

Hot tables (tasks, visits, outbox, events) carry the profile id so they could
be distributed by profile; visits are a clustered (task, seq) table without a
rowid so a finished task's history costs only its own bytes. Counters are
sharded rows summed on read, so concurrent workers never fight over one row.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")
"""SQLite only autoincrements an INTEGER PRIMARY KEY."""

databases = Table(
    "databases",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("fields", JSON, nullable=False),
    Column("match_field", String(64), nullable=False),
    Column("groups", JSON, nullable=False, server_default=text("'[]'")),
)

profiles = Table(
    "profiles",
    metadata,
    Column("id", Id, primary_key=True),
    Column("database_id", Id, ForeignKey("databases.id"), nullable=False),
    Column("match_key", String(320), nullable=False),
    Column("fields", JSON, nullable=False),
    Column("subscriptions", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("database_id", "match_key"),
)

scenarios = Table(
    "scenarios",
    metadata,
    Column("id", Id, primary_key=True),
    Column("database_id", Id, ForeignKey("databases.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("groups", JSON, nullable=False),
    Column("reentry", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("graph", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("valid", Boolean, nullable=False),
    Column("attributes", JSON),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Id, primary_key=True),
    Column("scenario_id", Id, nullable=False),
    Column("profile_id", Id, nullable=False),
    Column("state", String(16), nullable=False),
    Column("node_id", String(64)),
    Column("node_entered_at", Float, nullable=False),
    Column("entered_at", Float, nullable=False),
    Column("due_at", Float),
    Column("resume_port", String(32)),
    Column("visit", Integer, nullable=False),
    Column("data", JSON),
    Column("ended_at", Float),
    Column("end_reason", String(32)),
    Column("exit_node", String(64)),
    Column("lease_until", Float),
    Index(
        "ix_tasks_due",
        "due_at",
        sqlite_where=text("state = 'scheduled'"),
        postgresql_where=text("state = 'scheduled'"),
    ),
    Index("ix_tasks_scenario_profile", "scenario_id", "profile_id"),
    # The tasks in a node (removal, listing by the time they leave).
    Index("ix_tasks_scenario_node_due", "scenario_id", "node_id", "due_at", "id"),
    Index("ix_tasks_profile", "profile_id"),
)

visits = Table(
    "visits",
    metadata,
    Column("task_id", Id, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("node_id", String(64), nullable=False),
    Column("entered_at", Float, nullable=False),
    Column("left_at", Float, nullable=False),
    # How the task left: an output port, or an end reason (``removed_by_user`` …).
    Column("port", String(32), nullable=False),
    sqlite_with_rowid=False,
)

outbox = Table(
    "outbox",
    metadata,
    # ``task:node:visit``: deterministic, so a retried send carries the same key.
    Column("key", String(200), primary_key=True),
    Column("task_id", Id, nullable=False),
    Column("scenario_id", Id, nullable=False),
    Column("node_id", String(64), nullable=False),
    Column("profile_id", Id, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float),
    Column("lease_until", Float),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Column("response", JSON),
    Index(
        "ix_outbox_queued",
        "channel",
        "next_attempt_at",
        sqlite_where=text("status = 'queued'"),
        postgresql_where=text("status = 'queued'"),
    ),
    Index(
        "ix_outbox_leased",
        "channel",
        "lease_until",
        sqlite_where=text("status = 'sending'"),
        postgresql_where=text("status = 'sending'"),
    ),
    Index("ix_outbox_task", "task_id"),
    Index("ix_outbox_scenario_node", "scenario_id", "node_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("profile_id", Id, nullable=False),
    Column("type", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("task_id", Id),
    Column("node_id", String(64)),
    Column("outbox_key", String(200)),
    Column("data", JSON),
    Index("ix_events_task_node", "task_id", "node_id"),
    Index("ix_events_outbox_key", "outbox_key"),
    Index("ix_events_profile", "profile_id", "at"),
)

promo_codes = Table(
    "promo_codes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("pool", String(100), nullable=False),
    Column("code", String(200), nullable=False),
    Column("task_id", Id),
    Column("profile_id", Id),
    Column("taken_at", Float),
    UniqueConstraint("pool", "code"),
    Index(
        "ix_promo_codes_free",
        "pool",
        "id",
        sqlite_where=text("task_id IS NULL"),
        postgresql_where=text("task_id IS NULL"),
    ),
)

stat_counters = Table(
    "stat_counters",
    metadata,
    Column("scenario_id", Id, primary_key=True),
    # The node, or '' for scenario-wide task counts.
    Column("node_id", String(64), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("metric", String(16), primary_key=True),
    Column("shard", Integer, primary_key=True),
    Column("value", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("groups", JSON, nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("name", String(200), nullable=False),
    # SHA-256 of the token: a stolen database does not hand out working tokens.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("at", Float, nullable=False),
    Column("user_id", Id),
    Column("user_name", String(200), nullable=False),
    Column("scenario_id", Id),
    Column("action", String(64), nullable=False),
    Column("details", JSON),
    Index("ix_audit_log_scenario", "scenario_id", "at"),
)

segments = Table(
    "segments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("database_id", Id, ForeignKey("databases.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("rules", JSON),
    Column("groups", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

segment_members = Table(
    "segment_members",
    metadata,
    Column("segment_id", Id, primary_key=True),
    Column("profile_id", Id, primary_key=True),
    sqlite_with_rowid=False,
)

scenario_attributes = Table(
    "scenario_attributes",
    metadata,
    # Account-defined custom attributes; a required one must be set on every scenario.
    Column("name", String(64), primary_key=True),
    Column("required", Boolean, nullable=False),
    Column("choices", JSON),
)

jobs = Table(
    "jobs",
    metadata,
    # Background work (a large CSV import): its progress and outcome, for the API.
    Column("id", Id, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("database_id", Id),
    Column("params", JSON, nullable=False),
    Column("processed", BigInteger, nullable=False),
    Column("imported", BigInteger, nullable=False),
    Column("failed", BigInteger, nullable=False),
    Column("result", JSON),
    Column("error", Text),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("updated_at", Float, nullable=False),
)
