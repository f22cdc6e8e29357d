"""Domain errors become HTTP answers in one place, each with a readable reason."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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


def install(app: FastAPI) -> None:
    app.add_exception_handler(ScenariaError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
