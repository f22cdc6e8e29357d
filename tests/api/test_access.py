"""Tokens: no token or a bad one gets 401; a revoked token stops working at once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from scenaria.services.app import App


def test_openapi_documents_the_api(api: TestClient) -> None:
    assert api.get("/docs").status_code == 200
    schema = api.get("/openapi.json").json()
    assert schema["info"]["title"] == "Scenaria"


def test_requests_without_a_token_get_401(api: TestClient) -> None:
    response = api.get("/scenarios")
    assert response.status_code == 401
    assert "token" in response.json()["detail"]


def test_an_unknown_token_gets_401(api: TestClient) -> None:
    response = api.get("/scenarios", headers={"Authorization": "Bearer scn_forged"})
    assert response.status_code == 401


def test_a_revoked_token_stops_working_at_once(app: App, api: TestClient) -> None:
    app.access.create_user("ana", ["sales"])
    issued = app.access.issue_token("ana")
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert api.get("/scenarios", headers=headers).status_code == 200
    assert app.access.revoke(issued.id)
    assert api.get("/scenarios", headers=headers).status_code == 401


def test_tokens_are_stored_hashed(app: App) -> None:
    app.access.create_user("bo", [])
    issued = app.access.issue_token("bo")
    with app.store.read() as tx:
        stored = tx.conn.exec_driver_sql("SELECT token_hash FROM api_tokens").scalars().all()
    assert issued.token not in stored and len(stored[0]) == 64
