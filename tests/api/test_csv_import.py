"""CSV file import: header row of fields, batches of 1,000, a report of what happened per line."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from scenaria.model.profiles import ProfileDatabase
from scenaria.model.scenario import Edge, Node, Scenario
from scenaria.services.app import App


def upload(
    client: TestClient, db: ProfileDatabase, content: bytes, **params: str
) -> dict[str, Any]:
    response = client.post(
        f"/databases/{db.id}/profiles/csv",
        files={"file": ("people.csv", content, "text/csv")},
        params=params,
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def refused(client: TestClient, db: ProfileDatabase, content: bytes) -> str:
    response = client.post(
        f"/databases/{db.id}/profiles/csv", files={"file": ("people.csv", content, "text/csv")}
    )
    assert response.status_code == 422, response.text
    detail: str = response.json()["detail"]
    return detail


def profile(client: TestClient, db: ProfileDatabase, email: str) -> dict[str, Any]:
    response = client.get(f"/databases/{db.id}/profiles/by-key", params={"key": email})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_a_file_creates_and_updates_profiles(admin: TestClient, db: ProfileDatabase) -> None:
    admin.post(f"/databases/{db.id}/profiles", json={"fields": {"email": "old@example.com"}})
    content = (
        b"\xef\xbb\xbfEmail,first_name,loyalty_points,email_subscription,sms_subscription\r\n"
        b"new@example.com,Ann,10,unconfirmed,subscribed\r\n"
        b"OLD@example.com, Bo ,,,unsubscribed\r\n"
    )
    report = upload(admin, db, content)
    assert report == {
        "database_id": db.id,
        "rows_read": 2,
        "created": 1,
        "updated": 1,
        "captured": 0,
        "batches": 1,
        "rejected_count": 0,
        "rejected": [],
    }
    new = profile(admin, db, "new@example.com")
    assert new["fields"] == {"email": "new@example.com", "first_name": "Ann", "loyalty_points": 10}
    assert new["subscriptions"] == {"email": "unconfirmed", "sms": "subscribed"}
    old = profile(admin, db, "old@example.com")
    assert old["fields"] == {"email": "OLD@example.com", "first_name": "Bo"}, "empty: unchanged"
    assert old["subscriptions"] == {"sms": "unsubscribed"}


def test_bad_lines_are_rejected_with_their_line_and_reason(
    admin: TestClient, db: ProfileDatabase
) -> None:
    content = (
        b"email,first_name,loyalty_points,email_subscription\n"
        b"a@example.com,Ann,1,subscribed\n"  # line 2
        b"b@example.com,Bo,lots,\n"  # 3: not an int
        b"\n"  # 4: blank, skipped
        b',"Cy",3,\n'  # 5: no match field
        b'd@example.com,"Di\nDa",4,\n'  # 6-7: a quoted newline, fine
        b"e@example.com,Ed,5,maybe\n"  # 8: bad subscription
        b"f@example.com,Fi,6,,extra\n"  # 9: one value too many
        b"g@example.com,Ga\xc3\xabl,7,\n"  # 10: UTF-8, fine
        b'h@example.com,"H"x,8,\n'  # 11: broken quoting
        b"i@example.com,Ida\n"  # 12: fewer values: the rest stay unset
    )
    report = upload(admin, db, content)
    assert report["rows_read"] == 9
    assert (report["created"], report["updated"]) == (4, 0)
    assert report["rejected_count"] == 5
    reasons = {r["line"]: r["reason"] for r in report["rejected"]}
    assert reasons[3] == "loyalty_points: 'lots' is not a valid int"
    assert reasons[5] == "the match field 'email' is required"
    assert reasons[8].startswith("email_subscription: 'maybe' is not one of subscribed")
    assert reasons[9] == "5 values but the header names 4 columns"
    assert reasons[11].startswith("not readable as CSV")
    assert set(reasons) == {3, 5, 8, 9, 11}
    assert profile(admin, db, "g@example.com")["fields"]["first_name"] == "Gaël"
    assert profile(admin, db, "d@example.com")["fields"]["first_name"] == "Di\nDa"
    assert profile(admin, db, "i@example.com")["fields"] == {
        "email": "i@example.com",
        "first_name": "Ida",
    }


def test_a_large_file_goes_in_batches_of_1000(admin: TestClient, db: ProfileDatabase) -> None:
    lines = [b"email,loyalty_points"] + [f"u{i}@example.com,{i}".encode() for i in range(2500)]
    lines.insert(1200, b"broken,points")
    report = upload(admin, db, b"\n".join(lines) + b"\n")
    assert report["batches"] == 3
    assert report["rows_read"] == 2501
    assert report["created"] == 2500
    assert report["rejected"] == [
        {"line": 1201, "reason": "loyalty_points: 'points' is not a valid int"}
    ]
    assert admin.get(f"/databases/{db.id}").json()["profiles"] == 2500


def test_a_file_import_fires_any_import_triggers(
    app: App, admin: TestClient, db: ProfileDatabase
) -> None:
    for trigger in ("trigger_any_import", "trigger_api_import"):
        scenario = Scenario(
            database_id=db.id or 0,
            name=trigger,
            nodes=[
                Node(id="t", kind=trigger),
                Node(id="wait", kind="pause", settings={"days": 1}),
            ],
            edges=[Edge(source="t", target="wait"), Edge(source="default", target="wait")],
        )
        saved = app.scenarios.save(scenario).scenario
        assert saved.id is not None
        app.scenarios.activate(saved.id)
    report = upload(admin, db, b"email\na@example.com\nb@example.com\n")
    assert report["captured"] == 2, "only the any-import scenario captures a file import"


def test_another_delimiter(admin: TestClient, db: ProfileDatabase) -> None:
    report = upload(admin, db, b"email;first_name\na@example.com;Ann\n", delimiter=";")
    assert report["created"] == 1
    response = admin.post(
        f"/databases/{db.id}/profiles/csv",
        files={"file": ("p.csv", b"email\n")},
        params={"delimiter": "x"},
    )
    assert response.status_code == 422
    assert "delimiter" in response.json()["detail"]


def test_a_header_that_cannot_be_imported_refuses_the_file(
    admin: TestClient, db: ProfileDatabase
) -> None:
    assert "unknown column(s) shoe_size" in refused(admin, db, b"email,shoe_size\na@x.com,42\n")
    assert "unknown column(s) fax_subscription" in refused(
        admin, db, b"email,fax_subscription\na@x.com,subscribed\n"
    )
    assert "no 'email' column" in refused(admin, db, b"first_name\nAnn\n")
    assert "'email' twice" in refused(admin, db, b"email,Email\na@x.com,b@x.com\n")
    assert "the file is empty" in refused(admin, db, b"")
    assert admin.get(f"/databases/{db.id}").json()["profiles"] == 0


def test_a_request_without_a_file_is_422(admin: TestClient, db: ProfileDatabase) -> None:
    response = admin.post(f"/databases/{db.id}/profiles/csv")
    assert response.status_code == 422
    assert "file" in response.json()["detail"]
    as_json = admin.post(f"/databases/{db.id}/profiles/csv", json={"file": "email\n"})
    assert as_json.status_code == 422


def test_a_file_for_an_unknown_database_is_404(admin: TestClient) -> None:
    response = admin.post("/databases/404/profiles/csv", files={"file": ("p.csv", b"email\n")})
    assert response.status_code == 404


def test_an_email_or_phone_that_is_not_one_rejects_its_line(
    admin: TestClient, db: ProfileDatabase
) -> None:
    content = (
        "email,phone,first_name\n"
        "ann@example.com,+44 20 7946 0958,Ann\n"
        "bo at example.com,,Bo\n"  # 3
        "bü@example.com,,Bü\n"
        "cy@example.com,555,Cy\n"  # 5
        "di@example.com,(555) 010-0000,Di\n"
    ).encode()
    report = upload(admin, db, content)
    assert report["created"] == 3
    assert report["rejected"] == [
        {"line": 3, "reason": "email: 'bo at example.com' is not an e-mail address: it has no @"},
        {"line": 5, "reason": "phone: '555' is not a phone number: it has 3 digits, not 7 to 15"},
    ]
    assert profile(admin, db, "bü@example.com")["fields"]["first_name"] == "Bü"


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(
    admin: TestClient, db: ProfileDatabase
) -> None:
    latin1 = "email,first_name\na@example.com,Ann\nb@example.com,Gérard\nc@example.com,Zoë\n"
    detail = refused(admin, db, latin1.encode("cp1252"))
    assert detail.startswith("the file is not UTF-8: line 3 has the byte 0xe9")
    assert "Windows-1252" in detail and "'b@example.com,Gérard'" in detail
    assert "save the file as UTF-8" in detail
    assert admin.get(f"/databases/{db.id}").json()["profiles"] == 0, "nothing was imported"

    header = "email,prénom\n".encode("cp1252")  # was "unknown column(s) pr�nom"
    assert refused(admin, db, header).startswith("the file is not UTF-8: line 1")
    utf16 = "email\na@example.com\n".encode("utf-16")
    assert "it is UTF-16 text" in refused(admin, db, utf16)
    far = b"email\n" + b"".join(b"u%d@example.com\n" % i for i in range(3000)) + b"z@\xff.com\n"
    assert refused(admin, db, far).startswith("the file is not UTF-8: line 3002 ")
    with_bom = "\ufeffemail,first_name\nd@example.com,Dörte\n".encode()
    assert upload(admin, db, with_bom)["created"] == 1
