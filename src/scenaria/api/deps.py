"""Request dependencies: the application, the authenticated user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from scenaria.api.schemas.profiles import MAX_ID
from scenaria.model.access import User
from scenaria.model.profiles import ProfileDatabase
from scenaria.services.app import App

_bearer = HTTPBearer(auto_error=False, description="An API token from `scenaria token create`.")


def get_app(request: Request) -> App:
    app: App = request.app.state.scenaria
    return app


AppDep = Annotated[App, Depends(get_app)]


def current_user(
    app: AppDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The token's user; 401 without a valid, unrevoked token."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "an API token is required: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = app.access.authenticate(credentials.credentials)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the API token is unknown or revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]


DatabaseId = Annotated[int, Path(ge=1, lt=MAX_ID + 1, description="The profile database.")]


def visible_database(database_id: DatabaseId, app: AppDep, user: CurrentUser) -> ProfileDatabase:
    """The path's profile database; 404 if it is in none of the user's groups."""
    return app.access.database(database_id, user)


VisibleDatabase = Annotated[ProfileDatabase, Depends(visible_database)]
"""Declares the ``database_id`` path parameter and checks the user may see it."""
