"""API fixtures: the FastAPI app over a fresh store and fake clock, and authenticated clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from scenaria.api.app import create_app
from scenaria.services.app import App

ClientFactory = Callable[..., TestClient]


@pytest.fixture
def api(app: App) -> Iterator[TestClient]:
    """An unauthenticated client (for 401 tests and public endpoints)."""
    with TestClient(create_app(app)) as client:
        yield client


@pytest.fixture
def make_client(app: App) -> Iterator[ClientFactory]:
    """``make_client(name, groups=[...], admin=False)``: a client with that user's token."""
    clients: list[TestClient] = []

    def make(name: str, groups: list[str] | None = None, admin: bool = False) -> TestClient:
        app.access.create_user(name, groups or [], is_admin=admin)
        issued = app.access.issue_token(name)
        client = TestClient(create_app(app), headers={"Authorization": f"Bearer {issued.token}"})
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def admin(make_client: ClientFactory) -> TestClient:
    """A client authenticated as an admin, who sees everything."""
    return make_client("admin", admin=True)
