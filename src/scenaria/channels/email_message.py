"""Building the MIME message an Email node's outbox row becomes.

The message is multipart/alternative (text and HTML). Its Message-ID and an
``X-Scenaria-Key`` header come from the outbox key, so a re-send after a crash
carries the same id and a receiving system can drop the duplicate. The HTML
part's http(s) links go through the click redirect, an open pixel is appended,
and both parts get an unsubscribe link and, while the subscription awaits
double opt-in, a confirmation link.
"""

from __future__ import annotations

import html
import re
from email import policy
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

from scenaria.channels.resources import EmailResource
from scenaria.channels.tracking import Links

KEY_HEADER = "X-Scenaria-Key"
UNCONFIRMED = "unconfirmed"

_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(https?://[^"']*)\2""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_LINE_BREAKS = re.compile(r"[\r\n]+")
_WIRE = policy.SMTP.clone(max_line_length=998)
"""CRLF line ends; headers folded only past SMTP's line limit, so a long
List-Unsubscribe URL stays one readable token instead of an encoded word.
Non-ASCII header text (a subject, a display name) goes out as RFC 2047 encoded
words."""
_WIRE_UTF8 = _WIRE.clone(utf8=True)
"""For a message sent with SMTPUTF8 (a non-ASCII address): headers in raw UTF-8."""


def message_id(key: str) -> str:
    """The Message-ID of the message with this outbox key (task:node:visit)."""
    return f"<{key.replace(':', '.')}@scenaria>"


def track_clicks(body: str, links: Links) -> str:
    """Every http(s) ``href`` in ``body`` rewritten to the signed click redirect."""

    def rewrite(match: re.Match[str]) -> str:
        prefix, quote, target = match.groups()
        tracked = html.escape(links.click(html.unescape(target)), quote=True)
        return f"{prefix}{quote}{tracked}{quote}"

    return _HREF.sub(rewrite, body)


def html_part(body: str, links: Links, *, confirm: bool) -> str:
    footer = []
    if confirm:
        footer.append(
            f'<p><a href="{html.escape(links.confirm)}">Confirm your subscription</a></p>'
        )
    footer.append(f'<p><a href="{html.escape(links.unsubscribe)}">Unsubscribe</a></p>')
    footer.append(
        f'<img src="{html.escape(links.open_pixel)}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px">'
    )
    extra = "\n".join(footer)
    tracked = track_clicks(body, links)
    ends = list(_BODY_END.finditer(tracked))
    if not ends:
        return f"{tracked}\n{extra}\n"
    at = ends[-1].start()
    return f"{tracked[:at]}{extra}\n{tracked[at:]}"


def text_part(body: str, links: Links, *, confirm: bool) -> str:
    lines = [body.rstrip(), ""]
    if confirm:
        lines.append(f"Confirm your subscription: {links.confirm}")
    lines.append(f"Unsubscribe: {links.unsubscribe}")
    return "\n".join(lines) + "\n"


def build_message(
    key: str,
    payload: dict[str, Any],
    resource: EmailResource,
    links: Links,
    to: str | None = None,
) -> EmailMessage:
    """The message for one outbox row (``to``: the recipient as it goes on the wire,
    by default the payload's); ValueError if its headers cannot be formed."""
    confirm = payload.get("subscription") == UNCONFIRMED
    html_body = str(payload.get("html") or "")
    text_body = str(payload.get("text") or "")
    if not text_body and html_body:
        text_body = html.unescape(_TAG.sub("", html_body)).strip()
    message = EmailMessage()
    message["From"] = formataddr((resource.sender_name, resource.sender_address))
    message["To"] = to if to is not None else str(payload["to"])
    message["Subject"] = _LINE_BREAKS.sub(" ", str(payload.get("subject") or "")).strip()
    message["Message-ID"] = message_id(key)
    message[KEY_HEADER] = key
    message["List-Unsubscribe"] = f"<{links.unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text_part(text_body, links, confirm=confirm))
    if html_body:
        message.add_alternative(html_part(html_body, links, confirm=confirm), subtype="html")
    return message


def to_bytes(message: EmailMessage, *, utf8: bool = False) -> bytes:
    """The message as it goes over SMTP (CRLF line ends); ``utf8`` for SMTPUTF8."""
    return message.as_bytes(policy=_WIRE_UTF8 if utf8 else _WIRE)


def wire_address(address: str) -> tuple[str, bool]:
    """The address as it goes on the wire, and whether it needs SMTPUTF8: a non-ASCII
    domain is IDNA-encoded; only a non-ASCII local part needs SMTPUTF8. ValueError if
    the domain cannot be encoded."""
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    if domain and not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"the domain of {address!r} cannot be IDNA-encoded: {exc}") from exc
    wire = f"{local}@{domain}" if at else local
    return wire, not local.isascii()
