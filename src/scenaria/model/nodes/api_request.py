"""API request: call an outside HTTP service (a CRM, a call centre) with profile data.

The request is rendered now and written to the outbox with the task's move;
the deliverer performs it and resumes the task by ``next`` (2xx) or ``error``,
keeping the response on the task. Only hosts an operator allowed are reached.

The allow-list (``allowed_hosts``) holds host names, IP addresses and CIDR
ranges. A URL's host must be a name on the list, or an IP address the list
allows. The name is then resolved, and an address is reached only if it is
global (public), or if the operator allowed that address or a range holding
it: ``localhost`` on the list still reaches nothing until ``127.0.0.1`` is on it
too, and a public name that resolves into the private network is refused.

HTTP header values must be ASCII (RFC 9110 leaves other bytes undefined, so
there is no encoding a receiver is bound to understand): a literal value with
other characters, or with a line break, is refused at save; a template that
renders to one (a header ``{{ profile.first_name }}`` and a customer named
Zoë) fails that one request, for good, with the reason. Put such data in the body.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field

from scenaria.model.nodes.base import (
    Await,
    Move,
    NodeGroup,
    NodeKind,
    Outcome,
    Settings,
    StepContext,
    ValidationContext,
)
from scenaria.model.nodes.messages import template_problems, template_variables
from scenaria.model.problems import Problem
from scenaria.model.templating import RenderError, render

CHANNEL = "api_request"


class ApiRequestSettings(Settings):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(
        default="POST", title="HTTP method"
    )
    url: str = Field(
        min_length=1,
        max_length=2000,
        title="URL",
        description="An http(s) address on the operator's list of allowed hosts; "
        "a template may fill parts of it.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        title="Headers",
        description="Sent with the request, one name and value per row; values must be ASCII.",
    )
    body: str = Field(
        default="",
        title="Request body",
        description='A template, usually JSON: {"phone": "{{ profile.phone }}"}.',
    )
    """A template, usually JSON: ``{"phone": "{{ profile.phone }}"}``."""
    timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=120,
        title="Timeout (seconds)",
        description="How long to wait for an answer before the request fails (at most 120).",
    )


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
"""An RFC 9110 token."""
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f]")


def host_of(url: str) -> str | None:
    """The lower-case host of an http(s) URL; None if it is not one."""
    if _UNSAFE_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not hostname:
        return None
    return hostname.lower()


def address_of(text: str) -> IpAddress | None:
    """``text`` as an IP address (an IPv4-mapped IPv6 one as IPv4), else None."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class AllowList:
    """The operator's ``allowed_hosts``: names, addresses and CIDR ranges."""

    names: frozenset[str]
    networks: tuple[IpNetwork, ...]

    @classmethod
    def of(cls, entries: Iterable[str]) -> AllowList:
        names: set[str] = set()
        networks: list[IpNetwork] = []
        for entry in entries:
            entry = entry.strip().lower()
            names.add(entry)
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                pass
        return cls(frozenset(names), tuple(networks))

    def allows_host(self, host: str) -> bool:
        """May a URL name this host (a name on the list, or an allowed address)?"""
        if host in self.names:
            return True
        address = address_of(host)
        return address is not None and self.allows_address(address, explicitly=True)

    def allows_address(self, address: IpAddress, *, explicitly: bool = False) -> bool:
        """May a connection go to this address: a global one, or one the operator
        allowed (itself or a range holding it)?"""
        if not explicitly and address.is_global:
            return True
        return any(address.version == n.version and address in n for n in self.networks)


def header_problem(name: str, value: str) -> str | None:
    """Why a header cannot be sent as is, or None."""
    if not HEADER_NAME.match(name):
        return f"header name {name!r} is not a valid HTTP token"
    if "\r" in value or "\n" in value or "\x00" in value:
        return f"header {name} holds a line break or NUL"
    if not value.isascii():
        return (
            f"header {name} value {value!r} is not ASCII; HTTP header values must be "
            "ASCII (send such data in the body)"
        )
    return None


class ApiRequest(NodeKind[ApiRequestSettings]):
    name = "api_request"
    title = "API request"
    group = NodeGroup.ACTION
    settings_model = ApiRequestSettings
    outputs: ClassVar[tuple[str, ...]] = ("next", "error")

    def validate(
        self, node_id: str, settings: ApiRequestSettings, ctx: ValidationContext
    ) -> Sequence[Problem]:
        problems = template_problems(
            node_id, url=settings.url, body=settings.body, **settings.headers
        )
        for name, value in settings.headers.items():
            literal = value if "{" not in value else ""
            why = header_problem(name, literal)
            if why is not None:
                problems.append(Problem(node_id, "bad_header", why))
        if "{" not in settings.url:
            host = host_of(settings.url)
            if host is None:
                problems.append(
                    Problem(node_id, "bad_url", f"{settings.url!r} is not a valid http(s) URL")
                )
            elif ctx.allowed_hosts is not None and not AllowList.of(ctx.allowed_hosts).allows_host(
                host
            ):
                problems.append(
                    Problem(
                        node_id,
                        "host_not_allowed",
                        f"host '{host}' is not in the operator's list of allowed hosts",
                    )
                )
        return problems

    def step(self, settings: ApiRequestSettings, ctx: StepContext) -> Outcome:
        variables = template_variables(ctx)
        try:
            url = render(settings.url, variables)
            headers = {k: render(v, variables) for k, v in settings.headers.items()}
            body = render(settings.body, variables)
        except RenderError as exc:
            return Move("error", str(exc))
        ctx.send(
            CHANNEL,
            {
                "method": settings.method,
                "url": url,
                "headers": headers,
                "body": body,
                "timeout": settings.timeout_seconds,
            },
        )
        return Await()
