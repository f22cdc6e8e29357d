"""NUL characters in request text are refused with a 422 naming the field, on both
databases (PostgreSQL cannot store them: it answered 500; SQLite stored them, and a
`contains "\\u0000"` rule matched every profile)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from scenaria.model.profiles import ProfileDatabase
from scenaria.services.app import App
from tests.conftest import WELCOME, import_people, person

NUL = "\x00"
REASON = "must not contain the NUL character (\\u0000)"


def refused(response: Any, *fields: str) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "; ".join(f"{f}: {REASON}" for f in fields)


def test_nul_in_names_keys_rules_and_events_is_a_422_naming_the_field(
    app: App, admin: TestClient, db: ProfileDatabase
) -> None:
    import_people(app, db.id or 0, [person(1)])
    refused(admin.post("/databases", json={"name": f"Cus{NUL}tomers"}), "name")
    refused(
        admin.post(
            "/scenarios", json={"database_id": db.id, "name": f"W{NUL}", "reentry": "parallel"}
        ),
        "name",
    )
    refused(
        admin.get(f"/databases/{db.id}/profiles/by-key", params={"key": f"a{NUL}"}), "query.key"
    )
    rules = {"rules": [{"type": "field", "field": "first_name", "op": "contains", "value": NUL}]}
    refused(
        admin.post("/segments/preview", json={"database_id": db.id, "rules": rules}),
        "rules.rules.0.value",
    )
    event = {"kind": "custom", "profile": {"match_key": "user1@example.com"}, "type": f"b{NUL}uy"}
    refused(admin.post(f"/databases/{db.id}/events", json=event), "type")
    nested = {**event, "type": "buy", "properties": {"cart": {"items": ["ok", f"x{NUL}"]}}}
    refused(admin.post(f"/databases/{db.id}/events", json=nested), "properties.cart.items.1")
    key_in_key = {**event, "type": "buy", "properties": {f"k{NUL}": 1}}
    refused(admin.post(f"/databases/{db.id}/events", json=key_in_key), f"properties.k{NUL}")
    profile = {"fields": {"email": "n@example.com", "first_name": f"N{NUL}"}}
    refused(admin.post(f"/databases/{db.id}/profiles", json=profile), "fields.first_name")
    refused(admin.post("/messages/1:mail%00:1/events", json={"event": "opened"}), "path.outbox_key")
    csv = admin.post(
        f"/databases/{db.id}/profiles/csv",
        files={"file": ("p.csv", "email\nx@example.com\n")},
        data={"note": f"n{NUL}"},
    )
    refused(csv, "note")

    # Nothing was stored, and the request that names no NUL passes.
    assert [d["name"] for d in admin.get("/databases").json()] == ["Customers"]
    with app.store.read() as tx:
        assert tx.conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one() == 0
    clean = {"rules": [{"type": "field", "field": "first_name", "op": "contains", "value": "User"}]}
    counted = admin.post("/segments/preview", json={"database_id": db.id, "rules": clean})
    assert counted.json() == {"count": 1}


@pytest.mark.parametrize("text", ["back\\u0000slash", "\\\\u0000", "u0000"])
def test_an_escaped_backslash_is_not_a_nul(admin: TestClient, text: str) -> None:
    response = admin.post("/databases", json={"name": text})
    assert response.status_code == 201, response.text
    assert response.json()["name"] == text


def test_a_nul_that_reaches_postgresql_another_way_is_a_422_not_a_500(
    admin: TestClient, db: ProfileDatabase, database_url: str
) -> None:
    # A scenario file spells NUL as a YAML escape the request check does not parse.
    text = WELCOME.read_text().replace("name: Welcome\n", 'name: "Wel\\0come"\n', 1)
    response = admin.post("/scenarios/import", params={"database_id": db.id}, content=text)
    if database_url.startswith("postgresql"):
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == f"text {REASON}"
    else:  # SQLite stores it; the name is shown as it was given.
        assert response.status_code == 201, response.text
        assert response.json()["name"] == f"Wel{NUL}come"
