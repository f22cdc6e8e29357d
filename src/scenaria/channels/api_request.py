"""The API-request channel: performs the HTTP call an API Request node rendered.

Only hosts on the operator's allow-list are reached (a scenario author must
not turn the engine into a proxy into the internal network). The rule is
:class:`~scenaria.model.nodes.api_request.AllowList`'s: the URL's host must be
on the list (by name, address or range), and the address it resolves to must
be global or itself allowed by address or range. The connection goes to the
address that was checked (the ``Host`` header and TLS server name keep the
name), so a DNS answer that changes between check and connect reaches nothing
new.

The idempotency key goes out as the ``Idempotency-Key`` header. 5xx, 408, 429
and network errors are retried (a refused or timed-out connection counts
toward the host's circuit breaker); other non-2xx answers are final and send
the task down the node's error path with the response kept on the task. A URL
or header that cannot be sent (a non-numeric port, a line break, a header value
that is not ASCII) fails that request for good, with the reason.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from scenaria.engine.delivery import DeliveryResult, OutboundMessage
from scenaria.errors import PermanentDeliveryError, RetryableDeliveryError, UnreachableError
from scenaria.model.nodes.api_request import CHANNEL, AllowList, address_of, header_problem, host_of

MAX_BODY = 64 * 1024
RETRY_STATUSES = frozenset({408, 425, 429})

Resolver = Callable[[str, int], list[str]]
"""``resolve(host, port)``: the addresses a host name stands for."""


def resolve(host: str, port: int) -> list[str]:
    """The system resolver's addresses for ``host``, in its preference order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class ApiRequestChannel:
    name = CHANNEL
    resumes_task = True

    def __init__(
        self,
        allowed_hosts: frozenset[str],
        client: httpx.Client | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.allowed = AllowList.of(allowed_hosts)
        self.allowed_hosts = self.allowed.names
        self.client = client or httpx.Client(follow_redirects=False)
        self.resolver = resolver

    def resource_of(self, payload: Mapping[str, Any]) -> str:
        """The host: what the circuit breaker counts connection failures for."""
        return host_of(str(payload.get("url", ""))) or "?"

    def send(self, message: OutboundMessage) -> DeliveryResult:
        payload = message.payload
        url = str(payload["url"])
        host = host_of(url)
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, ValueError) as exc:
            raise PermanentDeliveryError(f"{url!r} is not a valid URL: {exc}") from exc
        if host is None:
            raise PermanentDeliveryError(f"{url!r} is not a valid http(s) URL")
        if not self.allowed.allows_host(host):
            raise PermanentDeliveryError(f"host '{host}' is not on the list of allowed hosts")
        headers = {str(k): str(v) for k, v in payload.get("headers", {}).items()}
        for name, value in headers.items():
            why = header_problem(name, value)
            if why is not None:
                raise PermanentDeliveryError(why)
        headers["Idempotency-Key"] = message.key
        body = payload.get("body") or None
        if body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json" if _is_json(body) else "text/plain"
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        address = self._address(host, port)
        if not any(k.lower() == "host" for k in headers):
            headers["Host"] = parsed.netloc.decode("ascii")
        extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else None
        try:
            reply = self.client.request(
                payload.get("method", "POST"),
                parsed.copy_with(host=address),
                headers=headers,
                content=body.encode() if body else None,
                timeout=payload.get("timeout", 10),
                extensions=extensions,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise UnreachableError(f"{host} unreachable: {type(exc).__name__}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise RetryableDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        response = _response(reply)
        if reply.is_success:
            return DeliveryResult(response)
        reason = f"{url} answered HTTP {reply.status_code}"
        if reply.status_code >= 500 or reply.status_code in RETRY_STATUSES:
            raise RetryableDeliveryError(reason, response)
        raise PermanentDeliveryError(reason, response)

    def _address(self, host: str, port: int) -> str:
        """The first address of ``host`` the allow-list lets a request reach."""
        literal = address_of(host)
        if literal is not None:
            candidates = [str(literal)]
        else:
            try:
                candidates = self.resolver(host, port)
            except OSError as exc:
                raise UnreachableError(f"{host} does not resolve: {exc}") from exc
        for candidate in candidates:
            address = address_of(candidate)
            if address is not None and self.allowed.allows_address(address):
                return str(address)
        raise PermanentDeliveryError(
            f"host '{host}' resolves to {', '.join(candidates) or 'nothing'}, not a public "
            "address; allow that address (or a range holding it) to reach it"
        )

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
