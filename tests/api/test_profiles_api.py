"""Profile databases, profile imports (one and batched), lookups and the profile card."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from scenaria.clock import FakeClock
from scenaria.model.profiles import ProfileDatabase
from scenaria.model.scenario import Edge, Node, Scenario
from scenaria.services.app import App


def profile(email: str, **fields: Any) -> dict[str, Any]:
    return {"fields": {"email": email, **fields}}


def import_one(
    client: TestClient, db_id: int, email: str, fields: dict[str, Any] | None = None, **body: Any
) -> dict[str, Any]:
    """Import one profile (``body``: subscriptions, source); return the import's result."""
    response = client.post(
        f"/databases/{db_id}/profiles", json={**profile(email, **(fields or {})), **body}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def start_scenario(app: App, db_id: int, trigger: str, name: str = "Welcome") -> int:
    """An active scenario: ``trigger`` → pause one hour → exit."""
    scenario = Scenario(
        database_id=db_id,
        name=name,
        nodes=[
            Node(id="imported", kind=trigger),
            Node(id="wait", kind="pause", settings={"hours": 1}),
            Node(id="done", kind="exit"),
        ],
        edges=[
            Edge(source="imported", target="wait"),
            Edge(source="default", target="wait"),
            Edge(source="wait", target="done"),
        ],
    )
    saved = app.scenarios.save(scenario)
    assert saved.problems == [] and saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    return saved.scenario.id


# ------------------------------------------------------------------------------ databases


def test_create_list_and_get_a_database(admin: TestClient) -> None:
    response = admin.post(
        "/databases",
        json={
            "name": "Shop",
            "fields": {"first_name": "string", "points": "int", "vip": "bool", "born": "date"},
            "match_field": "email",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["fields"]["points"] == "int"
    assert created["all_fields"]["email"] == "string"
    assert created["all_fields"]["phone"] == "string"
    assert created["match_field"] == "email"

    listed = admin.get("/databases").json()
    assert [d["name"] for d in listed] == ["Shop"]

    one = admin.get(f"/databases/{created['id']}").json()
    assert one["name"] == "Shop" and one["profiles"] == 0


def test_a_database_matched_on_an_external_id(admin: TestClient) -> None:
    db = admin.post(
        "/databases", json={"name": "CRM", "fields": {"crm_id": "int"}, "match_field": "crm_id"}
    ).json()
    missing = admin.post(f"/databases/{db['id']}/profiles", json=profile("a@x.com"))
    assert missing.status_code == 422
    assert missing.json()["detail"] == "profile #1: the match field 'crm_id' is required"
    response = admin.post(
        f"/databases/{db['id']}/profiles", json={"fields": {"crm_id": 42, "email": "a@x.com"}}
    )
    again = admin.post(
        f"/databases/{db['id']}/profiles", json={"fields": {"crm_id": "42", "phone": "+15550100"}}
    )
    assert response.json()["created"] is True
    pid = response.json()["profile_id"]
    assert again.json() == {"profile_id": pid, "created": False, "captured": 0}
    found = admin.get(f"/databases/{db['id']}/profiles/by-key", params={"key": "42"}).json()
    assert found["fields"] == {"crm_id": 42, "email": "a@x.com", "phone": "+15550100"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"name": "X", "fields": {"First Name": "string"}}, "fields.First Name"),
        ({"name": "X", "fields": {"age": "integer"}}, "fields.age"),
        ({"name": "X", "match_field": "crm_id"}, "match field 'crm_id' is not a field"),
        ({"name": "X", "fields": {"ok": "bool"}, "match_field": "ok"}, "bool field"),
        ({"name": "X", "fields": {"email": "int"}}, "'email' is a built-in string field"),
        ({"name": ""}, "name"),
        ({"fields": {}}, "name: Field required"),
        ({"name": "X", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_an_invalid_database_is_refused_with_a_reason(
    admin: TestClient, body: dict[str, Any], reason: str
) -> None:
    response = admin.post("/databases", json=body)
    assert response.status_code == 422
    assert reason in response.json()["detail"]


def test_an_unknown_database_is_404(admin: TestClient, db: ProfileDatabase) -> None:
    assert admin.get("/databases/999").status_code == 404
    response = admin.post("/databases/999/profiles", json=profile("a@example.com"))
    assert response.status_code == 404
    assert response.json()["detail"] == "profile database 999 does not exist"


def test_profile_endpoints_need_a_token(api: TestClient, db: ProfileDatabase) -> None:
    assert api.get("/databases").status_code == 401
    assert api.post(f"/databases/{db.id}/profiles", json=profile("a@x.com")).status_code == 401
    assert api.get(f"/databases/{db.id}/profiles/1/card").status_code == 401


# -------------------------------------------------------------------------------- imports


def test_import_creates_then_updates_by_match_field(admin: TestClient, db: ProfileDatabase) -> None:
    created = import_one(
        admin,
        db.id or 0,
        "Ann@Example.com",
        subscriptions={"email": "unconfirmed", "sms": "subscribed"},
    )
    assert created["created"] is True
    body = {"fields": {"email": "ann@example.com ", "loyalty_points": "12"}}
    updated = admin.post(f"/databases/{db.id}/profiles", json=body).json()
    assert updated == {"profile_id": created["profile_id"], "created": False, "captured": 0}

    stored = admin.get(f"/databases/{db.id}/profiles/{created['profile_id']}").json()
    assert stored["match_key"] == "ann@example.com"
    assert stored["fields"]["loyalty_points"] == 12, "converted to the field's type"
    assert stored["fields"]["email"] == "ann@example.com "
    assert stored["subscriptions"] == {"email": "unconfirmed", "sms": "subscribed"}
    assert stored["created_at"] == "2026-01-01T00:00:00Z"


def test_batch_import_reports_each_rows_profile(admin: TestClient, db: ProfileDatabase) -> None:
    existing = import_one(admin, db.id or 0, "old@example.com")["profile_id"]
    rows = [profile(f"user{i}@example.com", first_name=f"U{i}") for i in range(3)]
    rows.insert(1, profile("OLD@example.com", loyalty_points=5))
    response = admin.post(f"/databases/{db.id}/profiles/batch", json={"profiles": rows})
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["updated"]) == (3, 1)
    assert result["profile_ids"][1] == existing
    assert len(set(result["profile_ids"])) == 4
    assert admin.get(f"/databases/{db.id}").json()["profiles"] == 4


def test_a_batch_of_1000_is_one_import(admin: TestClient, db: ProfileDatabase) -> None:
    rows = [profile(f"user{i}@example.com", loyalty_points=i) for i in range(1000)]
    result = admin.post(f"/databases/{db.id}/profiles/batch", json={"profiles": rows}).json()
    assert result["created"] == 1000
    too_many = admin.post(f"/databases/{db.id}/profiles/batch", json={"profiles": [*rows, rows[0]]})
    assert too_many.status_code == 422
    assert "at most 1000" in too_many.json()["detail"]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (profile("b@example.com", shoe_size=42), "profile #2: unknown field(s) shoe_size"),
        (profile("b@example.com", loyalty_points="many"), "profile #2: loyalty_points: 'many'"),
        (profile("b@example.com", loyalty_points=1.5), "profile #2: loyalty_points: 1.5"),
        (profile("b@example.com", loyalty_points=2**70), "profile #2: loyalty_points"),
        ({"fields": {"first_name": "Bo"}}, "profile #2: the match field 'email' is required"),
        ({"fields": {"email": None}}, "profile #2: the match field 'email' is required"),
        (profile("b" * 400 + "@example.com"), "before the @ is longer than 64 characters"),
        (profile("b.example.com"), "profile #2: email: 'b.example.com' is not an e-mail address"),
        (profile("c@example.com", phone="call me"), "profile #2: phone: 'call me' is not a phone"),
    ],
)
def test_a_bad_row_refuses_the_whole_batch_naming_it(
    admin: TestClient, db: ProfileDatabase, row: dict[str, Any], reason: str
) -> None:
    body = {"profiles": [profile("a@example.com"), row]}
    response = admin.post(f"/databases/{db.id}/profiles/batch", json=body)
    assert response.status_code == 422
    assert reason in response.json()["detail"]
    assert admin.get(f"/databases/{db.id}").json()["profiles"] == 0, "nothing was imported"


def test_a_single_import_names_the_bad_field(admin: TestClient, db: ProfileDatabase) -> None:
    response = admin.post(f"/databases/{db.id}/profiles", json=profile("a@x.com", shoe=1))
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "profile #1: unknown field(s) shoe: not in the database schema"
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"email": "ann smith@example.com"},
            "email: 'ann smith@example.com' is not an e-mail address: it has a space in it",
        ),
        (
            {"email": "ann@example"},
            "email: 'ann@example' is not an e-mail address: example after "
            "the @ is not a domain like example.com",
        ),
        ({"email": "ann@@example.com"}, "it has more than one @"),
        ({"email": "ann@example.com\r\nBcc: x@y.com"}, "it has a control character in it"),
        ({"email": "<ann@example.com>"}, "it has < > in it"),
        (
            {"email": "a@x.com", "phone": "12345"},
            "phone: '12345' is not a phone number: it has 5 digits, not 7 to 15",
        ),
        (
            {"email": "a@x.com", "phone": "+1 555 CALL NOW"},
            "phone: '+1 555 CALL NOW' is not a phone number: it may hold only digits",
        ),
    ],
)
def test_an_email_or_phone_that_is_not_one_is_refused_with_the_reason(
    admin: TestClient, db: ProfileDatabase, fields: dict[str, Any], reason: str
) -> None:
    response = admin.post(f"/databases/{db.id}/profiles", json={"fields": fields})
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]
    assert admin.get(f"/databases/{db.id}").json()["profiles"] == 0


def test_internationalised_addresses_and_written_phone_numbers_are_accepted(
    admin: TestClient, db: ProfileDatabase
) -> None:
    for email, phone in [
        ("bü@example.com", "+49 (30) 1234-5678"),
        ("用户@例子.广告", "0044 20 7946 0958"),
        ("ann+news@mail.example.co.uk", "555.010.0000"),
    ]:
        result = import_one(admin, db.id or 0, email, {"phone": phone})
        assert result["created"] is True
        stored = admin.get(f"/databases/{db.id}/profiles/{result['profile_id']}").json()
        assert stored["fields"]["phone"] == phone, "stored as given"


def test_a_batch_may_leave_out_its_bad_rows_and_import_the_rest(
    admin: TestClient, db: ProfileDatabase
) -> None:
    rows = [
        profile("a@example.com"),
        profile("not-an-address"),
        profile("c@example.com", phone="42"),
        profile("d@example.com", loyalty_points="many"),
        profile("bü@example.com"),
    ]
    body = {"profiles": rows, "skip_invalid": True}
    response = admin.post(f"/databases/{db.id}/profiles/batch", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["updated"]) == (2, 0)
    assert [pid is None for pid in result["profile_ids"]] == [False, True, True, True, False]
    assert result["rejected"] == [
        {"row": 2, "reason": "email: 'not-an-address' is not an e-mail address: it has no @"},
        {"row": 3, "reason": "phone: '42' is not a phone number: it has 2 digits, not 7 to 15"},
        {"row": 4, "reason": "loyalty_points: 'many' is not a valid int"},
    ]
    assert admin.get(f"/databases/{db.id}").json()["profiles"] == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"fields": {"email": "a@x.com"', "invalid JSON at position"),
        (b"not json", "invalid JSON at position"),
        (b'{"fields": ["email"]}', "fields: Input should be a valid dictionary"),
        (b'{"fields": {"email": {"a": 1}}}', "fields.email"),
        (b'{"fields": {"email": "a@x.com"}, "source": "fax"}', "source: Input should be"),
        (b'{"fields": {"email": "a@x.com"}, "subscriptions": {"fax": "subscribed"}}', "fax"),
        (b'{"fields": {"email": "a@x.com"}, "subscriptions": {"email": "maybe"}}', "email"),
        (b'{"fields": {"email": "a@x.com"}, "extra": 1}', "extra: Extra inputs are not permitted"),
        (b"[]", "Input should be a valid dictionary"),
    ],
)
def test_malformed_or_mistyped_json_is_422(
    admin: TestClient, db: ProfileDatabase, content: bytes, reason: str
) -> None:
    response = admin.post(
        f"/databases/{db.id}/profiles",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert reason in response.json()["detail"]


def test_an_api_import_fires_the_api_trigger_and_a_manual_one_does_not(
    app: App, admin: TestClient, db: ProfileDatabase
) -> None:
    scenario_id = start_scenario(app, db.id or 0, "trigger_api_import")
    manual = admin.post(
        f"/databases/{db.id}/profiles", json={**profile("m@example.com"), "source": "manual"}
    ).json()
    by_api = admin.post(f"/databases/{db.id}/profiles", json=profile("a@example.com")).json()
    assert manual["captured"] == 0
    assert by_api["captured"] == 1
    card = admin.get(f"/databases/{db.id}/profiles/{by_api['profile_id']}/card").json()
    assert [i["scenario_id"] for i in card["interactions"]] == [scenario_id]
    manual_card = admin.get(f"/databases/{db.id}/profiles/{manual['profile_id']}/card").json()
    assert manual_card["interactions"] == []

    batch = {"source": "api", "profiles": [profile(f"b{i}@example.com") for i in range(5)]}
    assert admin.post(f"/databases/{db.id}/profiles/batch", json=batch).json()["captured"] == 5
    batch["source"] = "form"
    batch["profiles"] = [profile(f"f{i}@example.com") for i in range(5)]
    assert admin.post(f"/databases/{db.id}/profiles/batch", json=batch).json()["captured"] == 0


@pytest.mark.parametrize(
    ("trigger", "source"),
    [
        ("trigger_manual_import", "manual"),
        ("trigger_form_import", "form"),
        ("trigger_popup_import", "popup"),
        ("trigger_any_import", "file"),
    ],
)
def test_each_source_fires_its_trigger(
    app: App, admin: TestClient, db: ProfileDatabase, trigger: str, source: str
) -> None:
    start_scenario(app, db.id or 0, trigger)
    result = import_one(admin, db.id or 0, "a@example.com", source=source)
    assert result["captured"] == 1


# ---------------------------------------------------------------------------- lookups


def test_get_and_find_a_profile(admin: TestClient, db: ProfileDatabase) -> None:
    pid = import_one(admin, db.id or 0, "Ann@Example.com", {"first_name": "Ann"})["profile_id"]
    by_id = admin.get(f"/databases/{db.id}/profiles/{pid}")
    by_key = admin.get(f"/databases/{db.id}/profiles/by-key", params={"key": " ANN@example.com"})
    assert by_id.status_code == by_key.status_code == 200
    assert by_id.json() == by_key.json()
    assert by_id.json()["fields"]["first_name"] == "Ann"

    missing = admin.get(f"/databases/{db.id}/profiles/by-key", params={"key": "bo@example.com"})
    assert missing.status_code == 404
    assert "bo@example.com" in missing.json()["detail"]
    assert admin.get(f"/databases/{db.id}/profiles/{pid + 1}").status_code == 404
    assert admin.get(f"/databases/{db.id}/profiles/by-key").status_code == 422


def test_a_profile_of_another_database_is_404(
    app: App, admin: TestClient, db: ProfileDatabase
) -> None:
    other = app.profiles.create_database("Partners")
    pid = import_one(admin, other.id or 0, "p@example.com")["profile_id"]
    for path in (f"/databases/{db.id}/profiles/{pid}", f"/databases/{db.id}/profiles/{pid}/card"):
        response = admin.get(path)
        assert response.status_code == 404
        assert response.json()["detail"] == f"profile {pid} is not in profile database {db.id}"
    lookup = admin.get(f"/databases/{db.id}/profiles/by-key", params={"key": "p@example.com"})
    assert lookup.status_code == 404


def test_out_of_range_ids_are_422_not_500(admin: TestClient, db: ProfileDatabase) -> None:
    assert admin.get(f"/databases/{2**64}").status_code == 422
    assert admin.get(f"/databases/{db.id}/profiles/0").status_code == 422


# ------------------------------------------------------------------------------- card


def test_the_card_shows_each_scenario_interaction(
    app: App, clock: FakeClock, admin: TestClient, db: ProfileDatabase
) -> None:
    scenario_id = start_scenario(app, db.id or 0, "trigger_api_import", name="Welcome")
    pid = import_one(admin, db.id or 0, "a@example.com")["profile_id"]
    app.run_pending()
    card = admin.get(f"/databases/{db.id}/profiles/{pid}/card").json()
    (inside,) = card["interactions"]
    assert inside["scenario_id"] == scenario_id and inside["scenario_name"] == "Welcome"
    assert inside["state"] == "scheduled" and inside["current_node"] == "wait"
    assert [(v["node_id"], v["port"]) for v in inside["path"]] == [("imported", "next")]
    assert inside["entered_at"] == "2026-01-01T00:00:00Z"
    assert inside["exit_node"] is None and inside["ended_at"] is None

    app.run_until_idle(clock)
    (done,) = admin.get(f"/databases/{db.id}/profiles/{pid}/card").json()["interactions"]
    assert done["state"] == "finished" and done["current_node"] is None
    assert [(v["node_id"], v["port"]) for v in done["path"]] == [
        ("imported", "next"),
        ("wait", "next"),
        ("done", "exit"),
    ]
    assert (done["exit_node"], done["end_reason"]) == ("done", "exit_node")
    assert done["ended_at"] == "2026-01-01T01:00:00Z"
    assert done["path"][1]["left_at"] == "2026-01-01T01:00:00Z"


def test_the_card_hides_scenarios_of_other_groups(
    app: App, make_client: Any, db: ProfileDatabase
) -> None:
    scenario = Scenario(
        database_id=db.id or 0,
        name="Secret",
        groups=["sales"],
        nodes=[Node(id="wait", kind="pause", settings={"hours": 1})],
        edges=[Edge(source="default", target="wait")],
    )
    saved = app.scenarios.save(scenario).scenario
    assert saved.id is not None
    app.scenarios.activate(saved.id)
    sales, support = make_client("sam", ["sales"]), make_client("sue", ["support"])
    pid = import_one(sales, db.id or 0, "a@example.com")["profile_id"]
    app.scenarios.engage(saved.id, pid)
    path = f"/databases/{db.id}/profiles/{pid}/card"
    assert [i["scenario_name"] for i in sales.get(path).json()["interactions"]] == ["Secret"]
    assert support.get(path).json()["interactions"] == []
