"""Over-limit request bodies are refused with 413 before they are parsed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from scenaria.api.body_limit import MAX_BODY_ENV, MAX_UPLOAD_ENV
from scenaria.model.profiles import ProfileDatabase
from tests.api.conftest import ClientFactory


def big_events(n_bytes: int) -> bytes:
    """A well-formed event batch of about ``n_bytes`` (valid JSON, refused only by size)."""
    event = {"kind": "custom", "profile": {"id": 1}, "type": "x" * 50, "properties": {}}
    one = len(json.dumps(event)) + 2
    return json.dumps({"events": [event] * (n_bytes // one + 1)}).encode()


def test_a_body_over_the_default_10_mb_is_refused_with_413(
    admin: TestClient, db: ProfileDatabase
) -> None:
    body = big_events(10_000_001)
    response = admin.post(
        f"/databases/{db.id}/events/batch",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "the request body is larger than the limit of 10,000,000 bytes"
    )


def test_the_limit_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, make_client: ClientFactory, db: ProfileDatabase
) -> None:
    monkeypatch.setenv(MAX_BODY_ENV, "2000")
    client = make_client("ana", admin=True)
    response = client.post(f"/databases/{db.id}/events/batch", content=big_events(3000))
    assert response.status_code == 413
    assert "limit of 2,000 bytes" in response.json()["detail"]
    # Under the limit the body is read and validated as usual.
    small = client.post(
        f"/databases/{db.id}/events", json={"kind": "custom", "profile": {"id": 1}, "type": "x"}
    )
    assert small.status_code == 422
    assert "profile 1 does not exist" in small.json()["detail"]


def test_a_chunked_body_without_content_length_is_counted_as_it_streams(
    monkeypatch: pytest.MonkeyPatch, make_client: ClientFactory, db: ProfileDatabase
) -> None:
    monkeypatch.setenv(MAX_BODY_ENV, "2000")
    client = make_client("ana", admin=True)
    body = big_events(5000)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 500):
            yield body[i : i + 500]

    response = client.post(
        f"/databases/{db.id}/events/batch",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "limit of 2,000 bytes" in response.json()["detail"]


def test_csv_uploads_have_their_own_larger_limit(
    monkeypatch: pytest.MonkeyPatch, make_client: ClientFactory, db: ProfileDatabase
) -> None:
    monkeypatch.setenv(MAX_BODY_ENV, "200")
    monkeypatch.setenv(MAX_UPLOAD_ENV, "2000")
    client = make_client("ana", admin=True)
    lines = "email,first_name\n" + "".join(f"u{i}@example.com,U{i}\n" for i in range(20))
    assert 200 < len(lines) < 1500
    ok = client.post(f"/databases/{db.id}/profiles/csv", files={"file": ("p.csv", lines)})
    assert ok.status_code == 200, ok.text
    assert ok.json()["created"] == 20
    too_big = lines + "".join(f"v{i}@example.com,V{i}\n" for i in range(100))
    refused = client.post(f"/databases/{db.id}/profiles/csv", files={"file": ("p.csv", too_big)})
    assert refused.status_code == 413
    assert "limit of 2,000 bytes" in refused.json()["detail"]
