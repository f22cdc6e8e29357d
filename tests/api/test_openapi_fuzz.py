"""Schemathesis against the app's own OpenAPI schema: no 5xx, no schema violations.

Requests are generated from the schema for every operation and sent with an
admin token to an app holding a database, profiles, a segment and an active
scenario, so that ids in generated requests sometimes hit real rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from scenaria.api.app import create_app
from scenaria.clock import FakeClock
from scenaria.model.profiles import FieldType
from scenaria.services.app import App, Config
from scenaria.store.database import Store
from tests.conftest import import_people, person, welcome_scenario

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _seeded_app() -> tuple[App, str]:
    """Built at import: schemathesis reads the schema when the tests are collected."""
    path = Path(tempfile.mkdtemp(prefix="scenaria-fuzz-")) / "fuzz.db"
    store = Store(f"sqlite:///{path}")
    store.create_all()
    app = App(Config(allowed_hosts=frozenset({"127.0.0.1"})), clock=FakeClock(), store=store)
    database = app.profiles.create_database(
        "Fuzz", {"first_name": FieldType.STRING, "loyalty_points": FieldType.INT}
    )
    assert database.id is not None
    app.profiles.add_promo_codes("welcome", ["F1", "F2"])
    saved = app.scenarios.save(welcome_scenario(database.id, "http://127.0.0.1:9"))
    assert saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    import_people(app, database.id, [person(i) for i in range(1, 4)])
    app.run_pending()
    app.access.create_user("fuzzer", [], is_admin=True)
    return app, app.access.issue_token("fuzzer").token


APP, TOKEN = _seeded_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(APP))


@pytest.fixture(scope="module", autouse=True)
def _close_app() -> Iterator[None]:
    yield
    APP.close()


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_no_schema_violations(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)
