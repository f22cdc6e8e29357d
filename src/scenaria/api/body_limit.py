"""Request bodies are bounded before anything parses them.

A body whose ``Content-Length`` is over the limit is refused with 413 before a
byte of it is read; a body sent without one (chunked) is counted as it streams
in and refused the moment it passes the limit, so a 200 MB JSON document is
never held, let alone parsed.

Two limits: ``SCENARIA_MAX_BODY_BYTES`` (default 10 MB, the reference
platform's documented request limit) for every request, and
``SCENARIA_MAX_UPLOAD_BYTES`` (default 256 MiB) for ``multipart/form-data``,
the CSV profile uploads, which Starlette spools to a temporary file rather
than memory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_ENV = "SCENARIA_MAX_BODY_BYTES"
MAX_UPLOAD_ENV = "SCENARIA_MAX_UPLOAD_BYTES"
DEFAULT_MAX_BODY = 10 * 1000 * 1000
DEFAULT_MAX_UPLOAD = 256 * 1024 * 1024


class BodyTooLarge(HTTPException):
    """The request body is over the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes")


@dataclass(frozen=True)
class BodyLimits:
    body: int = DEFAULT_MAX_BODY
    """Bytes any request body may hold."""
    upload: int = DEFAULT_MAX_UPLOAD
    """Bytes a ``multipart/form-data`` body (a CSV file) may hold."""

    @classmethod
    def from_env(cls) -> BodyLimits:
        return cls(
            _env_bytes(MAX_BODY_ENV, DEFAULT_MAX_BODY),
            _env_bytes(MAX_UPLOAD_ENV, DEFAULT_MAX_UPLOAD),
        )

    def for_scope(self, scope: Scope) -> int:
        for name, value in scope.get("headers", ()):
            if name == b"content-type" and value.lower().startswith(b"multipart/form-data"):
                return self.upload
        return self.body


def _env_bytes(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of bytes, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1 byte")
    return value


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """ASGI middleware refusing over-limit request bodies with 413 and a JSON reason."""

    def __init__(self, app: ASGIApp, limits: BodyLimits | None = None) -> None:
        self.app = app
        self.limits = limits or BodyLimits.from_env()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_scope(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, BodyTooLarge(limit))
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge as exc:
            # Raised where no exception handler caught it (outside a route).
            if started:
                raise
            await _refuse(send, exc)


async def _refuse(send: Send, exc: BodyTooLarge) -> None:
    body = json.dumps({"detail": exc.detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": exc.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
