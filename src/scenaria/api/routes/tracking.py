"""Public tracking endpoints, reached from the messages Scenaria sends (no API token).

Every URL carries a signed token (see :mod:`scenaria.channels.tracking`); a forged,
altered or wrong-purpose token is refused with 400 and records nothing, a message
that no longer exists is 404.
"""

from __future__ import annotations

import base64
import html
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from scenaria.api.deps import AppDep
from scenaria.services.tracking import BadLink

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
"""A 1x1 transparent GIF."""
NO_STORE = {"Cache-Control": "no-store, max-age=0"}

ERROR_TEXT = {
    400: "The link is forged, altered, made for another purpose, or (for a click) points "
    "somewhere the message did not link to.",
    404: "The message the link was in does not exist.",
    409: "No double opt-in is pending.",
    422: "The token is not a token at all (too long).",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Refusals, always JSON ``ErrorOut`` even where the page itself is HTML (FastAPI would
    document a ``model`` under the route's own media type)."""
    schema = {"$ref": "#/components/schemas/ErrorOut"}
    return {
        code: {"description": ERROR_TEXT[code], "content": {"application/json": {"schema": schema}}}
        for code in codes
    }


ERRORS = errors(400, 404, 422)
router = APIRouter(tags=["tracking"])

Token = Annotated[
    str, Path(min_length=1, max_length=8192, description="The signed token of the link.")
]
HTML_PAGE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "A short page for the recipient."},
    **ERRORS,
}


def _refuse(exc: BadLink) -> HTTPException:
    return HTTPException(400, str(exc))


def _page(title: str, body: str, form_action: str | None = None, button: str = "") -> str:
    form = ""
    if form_action is not None:
        form = (
            f'<form method="post" action="{html.escape(form_action)}">'
            f'<button type="submit">{html.escape(button)}</button></form>'
        )
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(body)}</p>{form}</body></html>"
    )


@router.get(
    "/t/o/{token}",
    response_class=Response,
    responses={
        200: {"content": {"image/gif": {}}, "description": "A 1x1 transparent GIF."},
        **ERRORS,
    },
)
def open_pixel(app: AppDep, token: Token) -> Response:
    """The open-tracking pixel: records that the message was opened."""
    try:
        app.tracking.open(token)
    except BadLink as exc:
        raise _refuse(exc) from None
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get(
    "/t/c/{token}",
    response_class=RedirectResponse,
    status_code=302,
    responses={
        302: {"description": "To the link's address, the one that was in the message."},
        **ERRORS,
    },
)
def follow_link(app: AppDep, token: Token) -> RedirectResponse:
    """A tracked link: records the click and redirects to the address the message linked
    to; never anywhere else."""
    try:
        url = app.tracking.click(token)
    except BadLink as exc:
        raise _refuse(exc) from None
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


@router.get("/t/u/{token}", response_class=HTMLResponse, responses=HTML_PAGE)
def unsubscribe_page(app: AppDep, token: Token) -> HTMLResponse:
    """The unsubscribe page: says what will happen and asks to confirm (changes nothing,
    so a mail scanner following the link unsubscribes nobody)."""
    try:
        target = app.tracking.unsubscribe_target(token)
    except BadLink as exc:
        raise _refuse(exc) from None
    who = target.address or "this address"
    if not target.changed:
        return HTMLResponse(
            _page("Unsubscribed", f"{who} receives no more {target.channel.value} messages.")
        )
    return HTMLResponse(
        _page(
            "Unsubscribe",
            f"Stop sending {target.channel.value} messages to {who}?",
            form_action="",
            button="Unsubscribe",
        )
    )


@router.post("/t/u/{token}", response_class=HTMLResponse, responses=HTML_PAGE)
def unsubscribe(app: AppDep, token: Token) -> HTMLResponse:
    """Unsubscribe the recipient from the message's channel; also the one-click target of
    the List-Unsubscribe-Post header (RFC 8058). Unsubscribing twice changes nothing."""
    try:
        done = app.tracking.unsubscribe(token)
    except BadLink as exc:
        raise _refuse(exc) from None
    who = done.address or "this address"
    return HTMLResponse(
        _page("Unsubscribed", f"{who} receives no more {done.channel.value} messages.")
    )


@router.get(
    "/t/d/{token}",
    response_class=HTMLResponse,
    responses={**HTML_PAGE, **errors(409)},
)
def confirm_subscription(app: AppDep, token: Token) -> HTMLResponse:
    """Double opt-in: confirms the subscription the message asked to confirm."""
    try:
        done = app.tracking.confirm(token)
    except BadLink as exc:
        raise _refuse(exc) from None
    text = (
        "Thank you, your subscription is confirmed."
        if done.changed
        else ("Your subscription was already confirmed.")
    )
    return HTMLResponse(_page(f"{done.channel.value.capitalize()} subscription", text))
