"""Domain errors become HTTP answers in one place, each with a readable reason."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from scenaria.errors import Conflict, InvalidInput, NotFound, ScenariaError, ScenarioInvalid


def _problems(exc: ScenarioInvalid) -> list[dict[str, Any]]:
    return [
        {"node_id": p.node_id, "code": p.code, "message": p.message, "blocks_save": p.blocks_save}
        for p in exc.problems
    ]


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ScenariaError)
    body: dict[str, Any] = {"detail": str(exc)}
    if isinstance(exc, NotFound):
        code = 404
    elif isinstance(exc, Conflict):
        code = 409
    elif isinstance(exc, ScenarioInvalid):
        code, body["problems"] = 422, _problems(exc)
    elif isinstance(exc, InvalidInput):
        code = 422
    else:
        code = 400
    return JSONResponse(body, status_code=code)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    reasons = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            position = error.get("loc", ("body", "?"))[-1]
            why = (error.get("ctx") or {}).get("error", "")
            reasons.append(f"body: invalid JSON at position {position} ({why})".replace(" ()", ""))
            continue
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        reasons.append(f"{where}: {error.get('msg', 'invalid')}")
    return JSONResponse(
        {
            "detail": "; ".join(reasons) or "invalid request",
            "errors": [
                {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                for e in exc.errors()
            ],
        },
        status_code=422,
    )


async def _unstorable_text(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL refuses NUL in text. Requests are checked for it (``deps.refuse_nul``),
    but text that reaches the store another way (a scenario file's escapes) is bad input
    too, not a server error."""
    assert isinstance(exc, DataError)
    if "NUL" not in str(exc.orig):
        raise exc
    return JSONResponse(
        {"detail": "text must not contain the NUL character (\\u0000)"}, status_code=422
    )


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every endpoint, looking inside included routers (our routers have no prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's 405 names only the first matching route's methods; name them all."""
    assert isinstance(exc, StarletteHTTPException)
    response = await http_exception_handler(request, exc)
    if exc.status_code == 405:
        allowed: set[str] = set()
        for route in _api_routes(request.app.router.routes):
            match, _ = route.matches(request.scope)
            if match is not Match.NONE and isinstance(route, APIRoute):
                allowed |= route.methods or set()
        if allowed:
            response.headers["Allow"] = ", ".join(sorted(allowed))
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(ScenariaError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DataError, _unstorable_text)
