"""Input the API must refuse in a declared, readable way: methods a path does not take,
booleans that are not JSON booleans, ids past 64 bits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from scenaria.model.profiles import ProfileDatabase

INT64_MAX = 2**63 - 1


def test_a_method_a_fixed_path_does_not_take_is_405(admin: TestClient) -> None:
    # /segments/{segment_id} must not swallow /segments/preview and answer 422 ("preview"
    # is not an integer).
    for method in ("PATCH", "GET", "DELETE"):
        response = admin.request(method, "/segments/preview", json={})
        assert response.status_code == 405, (method, response.text)
        assert response.headers["allow"] == "POST"


def test_booleans_are_json_booleans_only(admin: TestClient, db: ProfileDatabase) -> None:
    rule = {"type": "field", "field": "email", "op": "is_set"}
    for negate in (0, 1, "true", "false"):
        for rules in (
            {"negate": negate, "rules": [rule]},
            {"rules": [{**rule, "negate": negate}]},
        ):
            response = admin.post("/segments/preview", json={"database_id": db.id, "rules": rules})
            assert response.status_code == 422, (rules, response.text)
            assert "valid boolean" in response.json()["detail"]
    accepted = admin.post(
        "/segments/preview", json={"database_id": db.id, "rules": {"negate": True, "rules": [rule]}}
    )
    assert accepted.status_code == 200, accepted.text

    subscribe = {
        "kind": "subscription",
        "profile": {"match_key": "ann@example.com"},
        "channel": "email",
        "action": "subscribe",
        "double_opt_in": 1,
    }
    response = admin.post(f"/databases/{db.id}/events", json=subscribe)
    assert response.status_code == 422
    assert "double_opt_in: Input should be a valid boolean" in response.json()["detail"]


def test_an_id_past_64_bits_is_a_readable_422_and_the_last_one_a_404(
    admin: TestClient, db: ProfileDatabase
) -> None:
    too_big = admin.post("/scenarios/1/send-segment", json={"segment_id": INT64_MAX + 1})
    assert too_big.status_code == 422
    assert too_big.json()["detail"].startswith("segment_id: Input should be less than")
    largest = admin.post("/scenarios/1/send-segment", json={"segment_id": INT64_MAX})
    assert largest.status_code == 404
    path = admin.post(f"/scenarios/{INT64_MAX + 1}/send-segment", json={"segment_id": 1})
    assert path.status_code == 422
    assert "scenario_id" in path.json()["detail"]
    profile = admin.post(
        f"/databases/{db.id}/events",
        json={"kind": "custom", "profile": {"id": INT64_MAX + 1}, "type": "x"},
    )
    assert profile.status_code == 422


def integer_schemas(node: Any, components: dict[str, Any], seen: frozenset[str]) -> Iterator[Any]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                yield from integer_schemas(components[name], components, seen | {name})
            return
        if node.get("type") == "integer":
            yield node
        for value in node.values():
            yield from integer_schemas(value, components, seen)
    elif isinstance(node, list):
        for value in node:
            yield from integer_schemas(value, components, seen)


def test_the_documented_integer_bounds_are_the_enforced_ones(api: TestClient) -> None:
    """The OpenAPI document holds bounds as JSON numbers a client reads as floats: 2**63 - 1
    reads as 2**63, which documents an id the API refuses. Every bound must be exact."""
    document = json.loads(api.get("/openapi.json").text)
    components = document["components"]["schemas"]
    requests: list[Any] = []
    for operations in document["paths"].values():
        for operation in operations.values():
            requests += [p["schema"] for p in operation.get("parameters", [])]
            requests += [
                c.get("schema")
                for c in operation.get("requestBody", {}).get("content", {}).values()
            ]
    checked = 0
    for schema in integer_schemas(requests, components, frozenset()):
        checked += 1
        for key in ("maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"):
            bound = schema.get(key)
            if bound is None:
                continue
            # Exact as a double, what most JSON clients (and schema-driven tools) read.
            assert float(bound) == bound, (key, schema)
            assert -(2**63) <= bound <= (2**63 if key == "exclusiveMaximum" else 2**63 - 1), (
                key,
                schema,
            )
    assert checked > 20
