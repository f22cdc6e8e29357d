"""API request: call an outside HTTP service (a CRM, a call centre) with profile data.

The request is rendered now and written to the outbox with the task's move;
the deliverer performs it and resumes the task by ``next`` (2xx) or ``error``,
keeping the response on the task. Only hosts an operator allowed are reached.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(min_length=1, max_length=2000)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = ""
    """A template, usually JSON: ``{"phone": "{{ profile.phone }}"}``."""
    timeout_seconds: float = Field(default=10, gt=0, le=120)


def host_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.lower()


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
        if "{" not in settings.url:
            host = host_of(settings.url)
            if host is None:
                problems.append(
                    Problem(node_id, "bad_url", f"'{settings.url}' is not an http(s) URL")
                )
            elif ctx.allowed_hosts is not None and host not in {
                h.lower() for h in ctx.allowed_hosts
            }:
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
