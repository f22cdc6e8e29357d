"""Realistic data for the browser tests, made through the HTTP API as a user would."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from scenaria.services.app import App
from tests.conftest import WELCOME

T = TypeVar("T")

PAUSE_GRAPH: dict[str, Any] = {
    "nodes": [
        {"id": "default", "kind": "default_capture"},
        {"id": "wait", "kind": "pause", "name": "Wait a day", "settings": {"days": 1}},
        {"id": "done", "kind": "exit", "name": "Done"},
    ],
    "edges": [
        {"source": "default", "target": "wait"},
        {"source": "wait", "target": "done"},
    ],
}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def customers(client: httpx.Client, name: str = "Customers") -> int:
    """A profile database with the fields the welcome scenario uses."""
    body = {"name": name, "fields": {"first_name": "string", "loyalty_points": "int"}}
    database_id: int = ok(client.post("/databases", json=body), 201)["id"]
    return database_id


def promo_codes(app: App, count: int = 20) -> None:
    """Codes in the welcome scenario's pool (there is no API for pools)."""
    app.profiles.add_promo_codes("welcome", [f"WELCOME-{i:04d}" for i in range(count)])


def import_welcome(client: httpx.Client, database_id: int, name: str | None = None) -> int:
    """examples/welcome.yaml as a new draft (renamed if ``name``)."""
    response = client.post(
        "/scenarios/import",
        params={"database_id": database_id},
        content=WELCOME.read_text(),
        headers={"Content-Type": "application/yaml"},
    )
    scenario_id: int = ok(response, 201)["id"]
    if name:
        ok(client.patch(f"/scenarios/{scenario_id}", json={"name": name}))
    return scenario_id


def pause_scenario(
    client: httpx.Client, database_id: int, name: str, tags: list[str], **extra: Any
) -> int:
    """A scenario whose default capture leads to a one-day pause, then an exit."""
    body = {
        "database_id": database_id,
        "name": name,
        "reentry": "not_while_active",
        "tags": tags,
        **PAUSE_GRAPH,
        **extra,
    }
    scenario_id: int = ok(client.post("/scenarios", json=body), 201)["id"]
    return scenario_id


def activate(client: httpx.Client, scenario_id: int) -> None:
    ok(client.post(f"/scenarios/{scenario_id}/activate"))


def person(
    client: httpx.Client, database_id: int, email: str, first_name: str, email_status: str
) -> int:
    """Import one profile through the API (its import triggers fire)."""
    body = {
        "fields": {"email": email, "first_name": first_name, "phone": "+15550001234"},
        "subscriptions": {"email": email_status, "sms": "subscribed"},
    }
    profile_id: int = ok(client.post(f"/databases/{database_id}/profiles", json=body))["profile_id"]
    return profile_id


def engage(client: httpx.Client, scenario_id: int, profile_id: int, **extra: Any) -> None:
    body = ok(
        client.post(f"/scenarios/{scenario_id}/engage", json={"profile_id": profile_id, **extra})
    )
    assert body["captured"], body


def wait_for(check: Callable[[], T | None], timeout: float = 15.0) -> T:
    """Poll ``check`` until it returns something truthy (the worker thread moves tasks)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("the condition was not met in time")
        time.sleep(0.1)


def inside(client: httpx.Client, scenario_id: int) -> int:
    count: int = ok(client.get(f"/scenarios/{scenario_id}/stats/realtime"))["inside"]
    return count


def settle_in(client: httpx.Client, scenario_id: int, node_id: str, count: int) -> None:
    """Wait until ``count`` profiles wait in ``node_id`` (the worker moves them there)."""

    def arrived() -> bool:
        realtime = ok(client.get(f"/scenarios/{scenario_id}/stats/realtime"))
        return {n["id"]: n["inside"] for n in realtime["nodes"]}.get(node_id) == count

    wait_for(arrived)
