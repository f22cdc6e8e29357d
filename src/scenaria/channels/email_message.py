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
List-Unsubscribe URL stays one readable token instead of an encoded word."""


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
    key: str, payload: dict[str, Any], resource: EmailResource, links: Links
) -> EmailMessage:
    """The message for one outbox row; ValueError if its headers cannot be formed."""
    confirm = payload.get("subscription") == UNCONFIRMED
    html_body = str(payload.get("html") or "")
    text_body = str(payload.get("text") or "")
    if not text_body and html_body:
        text_body = html.unescape(_TAG.sub("", html_body)).strip()
    message = EmailMessage()
    message["From"] = formataddr((resource.sender_name, resource.sender_address))
    message["To"] = str(payload["to"])
    message["Subject"] = _LINE_BREAKS.sub(" ", str(payload.get("subject") or "")).strip()
    message["Message-ID"] = message_id(key)
    message[KEY_HEADER] = key
    message["List-Unsubscribe"] = f"<{links.unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text_part(text_body, links, confirm=confirm))
    if html_body:
        message.add_alternative(html_part(html_body, links, confirm=confirm), subtype="html")
    return message


def to_bytes(message: EmailMessage) -> bytes:
    """The message as it goes over SMTP (CRLF line ends)."""
    return message.as_bytes(policy=_WIRE)
