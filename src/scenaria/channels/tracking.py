"""Signed tracking links: open pixel, click redirect, unsubscribe, double opt-in confirmation.

A token carries what the link does (its purpose), the message's outbox key and,
for clicks, the one URL the message linked to; an HMAC-SHA256 over them with the
installation's secret makes a forged or altered token fail verification, and a
click can only redirect to the URL that was in the message (no open redirect).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

import orjson

from scenaria.errors import InvalidInput


class Purpose(StrEnum):
    OPEN = "o"
    CLICK = "c"
    UNSUBSCRIBE = "u"
    CONFIRM = "d"


@dataclass(frozen=True)
class Claim:
    purpose: Purpose
    key: str
    """The outbox key (task:node:visit) of the message the link was in."""
    url: str | None = None
    """For clicks: the link's original target."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, purpose: Purpose, key: str, url: str | None = None) -> str:
    body = _b64(orjson.dumps([purpose.value, key, url]))
    mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()[:16]
    return f"{body}.{_b64(mac)}"


def verify(secret: bytes, token: str) -> Claim:
    """The token's claim; raise InvalidInput for a forged, altered or malformed token."""
    body, _, mac = token.partition(".")
    try:
        expected = hmac.new(secret, body.encode(), hashlib.sha256).digest()[:16]
        if not mac or not hmac.compare_digest(_unb64(mac), expected):
            raise InvalidInput("the tracking link is not valid")
        purpose, key, url = orjson.loads(_unb64(body))
        return Claim(Purpose(purpose), str(key), url if url is None else str(url))
    except (ValueError, TypeError) as exc:
        raise InvalidInput("the tracking link is not valid") from exc


@dataclass(frozen=True)
class Links:
    """The tracking URLs of one message, served by the app under ``base_url``."""

    base_url: str
    secret: bytes
    key: str

    def _url(self, path: str, purpose: Purpose, url: str | None = None) -> str:
        token = sign(self.secret, purpose, self.key, url)
        return f"{self.base_url.rstrip('/')}/t/{path}/{quote(token, safe='.')}"

    @property
    def open_pixel(self) -> str:
        return self._url("o", Purpose.OPEN)

    @property
    def unsubscribe(self) -> str:
        return self._url("u", Purpose.UNSUBSCRIBE)

    @property
    def confirm(self) -> str:
        return self._url("d", Purpose.CONFIRM)

    def click(self, url: str) -> str:
        return self._url("c", Purpose.CLICK, url)
