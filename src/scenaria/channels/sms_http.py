"""SMS over an HTTP gateway: one JSON POST per message, shaped by the resource's template.

The body comes from the resource's ``body_template`` rendered in Jinja's sandbox
(variables ``to``, ``sender``, ``text`` and ``key``); the idempotency key also goes
out as the ``Idempotency-Key`` header, so a gateway that deduplicates by either
delivers a message re-sent after a crash once. The bearer token is read from the
environment when the channel is built and never logged or kept in an answer.

5xx, 408, 425, 429 and network errors are retried (a refused or timed-out
connection is an ``UnreachableError``, counted by the resource's circuit
breaker); other non-2xx answers, and a 2xx answer whose status says the gateway
rejected the message, are final.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from scenaria.channels.resources import SmsResource
from scenaria.engine.delivery import DeliveryResult, OutboundMessage
from scenaria.errors import PermanentDeliveryError, RetryableDeliveryError, UnreachableError
from scenaria.model.templating import RenderError, render

CHANNEL = "sms"
MAX_BODY = 64 * 1024
RETRY_STATUSES = frozenset({408, 425, 429})
REJECTED = frozenset({"failed", "rejected", "undelivered", "undeliverable", "error", "invalid"})


class HttpSmsChannel:
    name = CHANNEL
    resumes_task = False

    def __init__(
        self, resources: Mapping[str, SmsResource], client: httpx.Client | None = None
    ) -> None:
        self.resources = dict(resources)
        # Read once: a missing variable fails here, at start-up, not on the first send.
        self._tokens: dict[str, SecretStr | None] = {
            name: resource.token() for name, resource in self.resources.items()
        }
        self.client = client or httpx.Client(follow_redirects=False)

    def rate_for(self, payload: Mapping[str, Any]) -> float | None:
        """Messages per second the payload's resource allows (None: no limit)."""
        resource = self.resources.get(str(payload.get("resource", "default")))
        return resource.rate_per_second if resource else None

    def send(self, message: OutboundMessage) -> DeliveryResult:
        payload = message.payload
        name = str(payload.get("resource", "default"))
        resource = self.resources.get(name)
        if resource is None:
            raise PermanentDeliveryError(f"no SMS resource named '{name}' is configured")
        body = _body(resource, payload, message.key)
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.key}
        token = self._tokens.get(name)
        if token is not None:
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        try:
            reply = self.client.post(
                resource.url, content=body, headers=headers, timeout=resource.timeout_seconds
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise UnreachableError(f"SMS gateway unreachable: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            # httpx messages name the URL, never the headers: the token stays out.
            raise RetryableDeliveryError(f"SMS gateway unreachable: {type(exc).__name__}") from exc
        response = _response(reply, resource)
        if reply.is_success:
            status = response.get("delivery_status")
            if isinstance(status, str) and status.lower() in REJECTED:
                raise PermanentDeliveryError(f"the SMS gateway rejected it: {status}", response)
            return DeliveryResult(response)
        reason = f"the SMS gateway answered HTTP {reply.status_code}"
        if reply.status_code >= 500 or reply.status_code in RETRY_STATUSES:
            raise RetryableDeliveryError(reason, response)
        raise PermanentDeliveryError(reason, response)

    def close(self) -> None:
        self.client.close()


def _body(resource: SmsResource, payload: Mapping[str, Any], key: str) -> bytes:
    variables = {
        "to": str(payload.get("to", "")),
        "sender": str(payload.get("sender", "")),
        "text": str(payload.get("text", "")),
        "key": key,
    }
    try:
        body = render(resource.body_template, variables)
        json.loads(body)
    except RenderError as exc:
        raise PermanentDeliveryError(f"SMS body template: {exc}") from exc
    except ValueError as exc:
        raise PermanentDeliveryError(f"the SMS body template did not give JSON: {exc}") from exc
    return body.encode()


def lookup(body: Any, path: str) -> Any:
    """``a.b.0.c`` in a JSON answer, or None where the path leads nowhere."""
    for part in path.split(".") if path else ():
        if isinstance(body, dict):
            body = body.get(part)
        elif isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        else:
            return None
    return body


def _response(reply: httpx.Response, resource: SmsResource) -> dict[str, Any]:
    text = reply.text[:MAX_BODY]
    body: Any = text
    try:
        body = json.loads(text)
    except ValueError:
        pass
    provider_id = lookup(body, resource.id_field)
    status = lookup(body, resource.status_field)
    return {
        "status": reply.status_code,
        "body": body,
        "provider_id": None if provider_id is None else str(provider_id),
        "delivery_status": None if status is None else str(status),
    }
