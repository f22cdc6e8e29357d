"""The API-request channel: performs the HTTP call an API Request node rendered.

Only hosts on the operator's allow-list are reached (a scenario author must
not turn the engine into a proxy into the internal network). The idempotency
key goes out as the ``Idempotency-Key`` header. 5xx, 408, 429 and network
errors are retried; other non-2xx answers are final and send the task down
the node's error path with the response kept on the task.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from scenaria.engine.delivery import DeliveryResult, OutboundMessage
from scenaria.errors import PermanentDeliveryError, RetryableDeliveryError
from scenaria.model.nodes.api_request import CHANNEL, host_of

MAX_BODY = 64 * 1024
RETRY_STATUSES = frozenset({408, 425, 429})


class ApiRequestChannel:
    name = CHANNEL
    resumes_task = True

    def __init__(self, allowed_hosts: frozenset[str], client: httpx.Client | None = None) -> None:
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.client = client or httpx.Client(follow_redirects=False)

    def send(self, message: OutboundMessage) -> DeliveryResult:
        payload = message.payload
        url = str(payload["url"])
        host = host_of(url)
        if host is None:
            raise PermanentDeliveryError(f"'{url}' is not an http(s) URL")
        if host not in self.allowed_hosts:
            raise PermanentDeliveryError(f"host '{host}' is not on the list of allowed hosts")
        headers = {**payload.get("headers", {}), "Idempotency-Key": message.key}
        body = payload.get("body") or None
        if body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json" if _is_json(body) else "text/plain"
        try:
            reply = self.client.request(
                payload.get("method", "POST"),
                url,
                headers=headers,
                content=body.encode() if body else None,
                timeout=payload.get("timeout", 10),
            )
        except httpx.HTTPError as exc:
            raise RetryableDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        response = _response(reply)
        if reply.is_success:
            return DeliveryResult(response)
        reason = f"{url} answered HTTP {reply.status_code}"
        if reply.status_code >= 500 or reply.status_code in RETRY_STATUSES:
            raise RetryableDeliveryError(reason, response)
        raise PermanentDeliveryError(reason, response)

    def close(self) -> None:
        self.client.close()


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _response(reply: httpx.Response) -> dict[str, Any]:
    text = reply.text[:MAX_BODY]
    body: Any = text
    if "json" in reply.headers.get("content-type", ""):
        try:
            body = json.loads(text)
        except ValueError:
            pass
    return {"status": reply.status_code, "body": body}
