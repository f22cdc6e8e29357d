"""A growing profile table gets planner statistics as it grows, so matching import
keys stays an index lookup instead of a scan of the whole database."""

from __future__ import annotations

from sqlalchemy import text

from scenaria.model.profiles import FieldType, ImportSource
from scenaria.services.app import App
from tests.conftest import person


def test_imports_keep_the_match_key_lookup_on_the_index(pg_app: App) -> None:
    db = pg_app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
    assert db.id is not None
    for start in range(0, 20_000, 1000):
        people = [person(i) for i in range(start, start + 1000)]
        pg_app.profiles.import_profiles(db.id, people, ImportSource.API)

    keys = ", ".join(f"'user{i}@example.com'" for i in range(100))
    with pg_app.store.engine.connect() as conn:
        plan = "\n".join(
            conn.execute(
                text(
                    f"EXPLAIN SELECT id FROM profiles WHERE database_id = {db.id} "
                    f"AND match_key IN ({keys})"
                )
            ).scalars()
        )
    # Without statistics the key list is only a filter over every profile of the database.
    index_condition = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert "match_key" in index_condition, plan
