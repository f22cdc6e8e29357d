"""Schemathesis against the app's own OpenAPI schema: no 5xx, no schema violations.

Requests are generated from the schema for every operation and sent with an
admin token to an app holding a database, profiles, a segment and an active
scenario, so that ids in generated requests sometimes hit real rows. Every
operation runs on both stores (the ``app`` fixture's SQLite and PostgreSQL
variants): PostgreSQL refuses input SQLite takes (NUL in text), and only a run
on it finds those 500s.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
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


def _schema_app() -> App:
    """Only for the schema, which schemathesis reads when the tests are collected (the
    schemathesis fixture loader does not work with this pytest); requests go to the
    ``app`` fixture's store."""
    path = Path(tempfile.mkdtemp(prefix="scenaria-fuzz-")) / "schema.db"
    store = Store(f"sqlite:///{path}")
    store.create_all()
    return App(Config(), clock=FakeClock(), store=store)


SCHEMA_APP = _schema_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(SCHEMA_APP))


@pytest.fixture(scope="module", autouse=True)
def _close_schema_app() -> Iterator[None]:
    yield
    SCHEMA_APP.close()


@pytest.fixture
def seeded(app: App) -> tuple[FastAPI, str]:
    """The API over ``app`` holding a database, profiles, promo codes and an active
    scenario, and an admin's token."""
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
    return create_app(app), app.access.issue_token("fuzzer").token


# Schemathesis's multipart strategy draws from `random` (its issue, not ours); under
# filterwarnings=error Hypothesis's deprecation warning about it failed the CSV upload.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_no_schema_violations(case: Any, seeded: tuple[FastAPI, str]) -> None:
    api, token = seeded
    case.call_and_validate(app=api, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
