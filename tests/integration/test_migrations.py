"""Alembic migrations build exactly the schema the code declares, and are idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from scenaria.clock import FakeClock
from scenaria.model.profiles import FieldType
from scenaria.services.app import App
from scenaria.store.database import MIGRATIONS, Store
from scenaria.store.schema import metadata
from tests.conftest import import_people, person


def migrated(path: Path) -> Store:
    store = Store(f"sqlite:///{path}")
    store.migrate()
    return store


def head_revision() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def schema_sql(store: Store) -> dict[str, Any]:
    """Every table and index as SQLite stores it; table lines sorted (constraint order aside)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT type, name, sql FROM sqlite_master "
                "WHERE name NOT LIKE 'sqlite_%' AND name != 'alembic_version'"
            )
        ).all()
    out: dict[str, Any] = {}
    for kind, name, sql in rows:
        if kind == "table":
            # A table rebuilt by a batch migration is stored as CREATE TABLE "name".
            lines = [
                line.strip().rstrip(",") for line in sql.replace(f'"{name}"', name).splitlines()
            ]
            out[name] = sorted(line for line in lines if line)
        else:
            out[name] = sql
    return out


def test_migrations_match_the_declared_schema(tmp_path: Path) -> None:
    store = migrated(tmp_path / "migrated.db")
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert context.get_current_revision() == head_revision()
    finally:
        store.dispose()


def test_migrations_build_what_create_all_builds(tmp_path: Path) -> None:
    # compare_metadata does not look at partial-index conditions, WITHOUT ROWID or
    # server defaults; the stored DDL does.
    store = migrated(tmp_path / "migrated.db")
    direct = Store(f"sqlite:///{tmp_path / 'direct.db'}")
    direct.create_all()
    try:
        migrated_schema = schema_sql(store)
        assert set(migrated_schema) == {t.name for t in metadata.sorted_tables} | {
            i.name for t in metadata.sorted_tables for i in t.indexes
        }
        assert migrated_schema == schema_sql(direct)
    finally:
        store.dispose()
        direct.dispose()


def test_migrating_twice_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "twice.db"
    store = migrated(path)
    try:
        before = schema_sql(store)
        app = App(clock=FakeClock(), store=store)
        db = app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
        [profile_id] = import_people(app, db.id, [person(1)]).profile_ids

        store.migrate()
        again = Store(f"sqlite:///{path}")
        again.migrate()
        again.dispose()

        assert schema_sql(store) == before
        with store.engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert versions == [(head_revision(),)]
        assert app.profiles.card(profile_id)["fields"]["email"] == "user1@example.com"
    finally:
        store.dispose()
