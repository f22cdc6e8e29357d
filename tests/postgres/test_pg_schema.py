"""The Alembic migrations build the declared schema on PostgreSQL too, and the
test set-up itself: the clock file worker processes share, and the rule that CI
runs the PostgreSQL variants rather than skipping them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from scenaria.clock import FileClock
from scenaria.store.database import Store
from scenaria.store.schema import metadata
from tests.conftest import POSTGRES_URL_ENV, postgres_url_or_skip
from tests.integration.test_migrations import head_revision


def test_migrations_match_the_declared_schema_on_postgresql(pg_url: str) -> None:
    store = Store(pg_url)
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert context.get_current_revision() == head_revision()
            # Partial indexes keep their conditions (compare_metadata does not look).
            where = conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_tasks_due'")
            ).scalar_one()
            assert "WHERE ((state)::text = 'scheduled'::text)" in where
        store.migrate()  # a second time: nothing to do
        with store.engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert versions == [(head_revision(),)]
    finally:
        store.dispose()


def test_a_file_clock_is_read_by_every_process_and_never_runs_backwards(tmp_path: Path) -> None:
    mine = FileClock(tmp_path / "clock", start=1000.0)
    theirs = FileClock(tmp_path / "clock")
    assert theirs.now() == 1000.0
    mine.advance(86400.5)
    assert theirs.now() == 87400.5
    theirs.advance_to(50.0)
    assert mine.now() == 87400.5
    with pytest.raises(ValueError):
        mine.advance(-1)
    assert [p.name for p in tmp_path.iterdir()] == ["clock"]


def test_without_a_server_postgresql_variants_skip_but_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(POSTGRES_URL_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=POSTGRES_URL_ENV):
        postgres_url_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run, not skip"):
        postgres_url_or_skip()
    monkeypatch.setenv(POSTGRES_URL_ENV, "postgresql+psycopg://example/db")
    assert postgres_url_or_skip() == "postgresql+psycopg://example/db"
