"""Request dependencies: the application, the authenticated user, checks on every request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.exceptions import RequestValidationError
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


NUL = "\x00"
NUL_MESSAGE = "must not contain the NUL character (\\u0000)"


def _nul_paths(value: Any, where: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """Where NUL occurs in a parsed JSON value: in a string or in an object's key."""
    if isinstance(value, str):
        if NUL in value:
            yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield (*where, key)
            yield from _nul_paths(item, (*where, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nul_paths(item, (*where, i))


async def refuse_nul(request: Request) -> None:
    """422 for NUL in any text of a request: its path, query or JSON body (nested data
    and API content included) or form fields.

    PostgreSQL cannot store NUL in text (a 500 ``DataError``) and SQLite stores it,
    where a ``contains`` rule on "\\u0000" matched every profile; refused once here,
    every field of every endpoint is covered, named as validation errors name fields.
    """
    found: list[tuple[str | int, ...]] = []
    found += [("path", k) for k, v in request.path_params.items() if NUL in str(v)]
    found += [("query", k) for k, v in request.query_params.multi_items() if NUL in k + v]
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        found += [("body", k) for k, v in form.multi_items() if NUL in k or NUL in str(v)]
    elif request.method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
        body = await request.body()
        # JSON holds NUL only escaped; a body without the escape holds none.
        if b"\\u0000" in body:
            try:
                parsed = await request.json()
            except ValueError:
                parsed = None  # not JSON: the endpoint refuses it as it would
            found += list(_nul_paths(parsed, ("body",)))
    if found:
        raise RequestValidationError(
            [{"type": "string_nul", "loc": loc, "msg": NUL_MESSAGE, "input": None} for loc in found]
        )
