"""What Email and SMS nodes share: template variables, subscription gate, send count."""

from __future__ import annotations

from typing import Any

from scenaria.model.nodes.base import Move, Outcome, StepContext
from scenaria.model.problems import Problem
from scenaria.model.profiles import Channel, SubscriptionStatus
from scenaria.model.templating import problem as template_problem

SENDABLE = frozenset({SubscriptionStatus.SUBSCRIBED, SubscriptionStatus.UNCONFIRMED})


def template_variables(ctx: StepContext) -> dict[str, Any]:
    data = ctx.task_data
    return {
        # Every field of the schema is there, None when unset, so that
        # ``profile.first_name or 'friend'`` works; a misspelt field still fails.
        "profile": {**dict.fromkeys(ctx.field_types), **ctx.profile.fields},
        "api_content": data.get("api_content") or {},
        "promo_code": data.get("promo_code"),
        "scenario": {"name": ctx.scenario_name},
    }


def template_problems(node_id: str, **sources: str | None) -> list[Problem]:
    problems = []
    for part, source in sources.items():
        if source and (found := template_problem(source)):
            code, message = found
            problems.append(Problem(node_id, code, f"{part}: {message}"))
    return problems


def send_or_skip(ctx: StepContext, channel: Channel, address_field: str, build: Any) -> Outcome:
    """Queue the message built by ``build(address)`` or record why it was skipped.

    Unconfirmed (double opt-in pending) subscriptions are sent to: the welcome
    email is what carries the confirmation link.
    """
    address = ctx.profile.fields.get(address_field)
    if not address:
        return Move("error", f"profile has no {address_field}")
    status = ctx.profile.subscription(channel)
    if status not in SENDABLE:
        reason = (
            f"not subscribed to {channel.value} ({status.value if status else 'no subscription'})"
        )
        ctx.send(channel.value, {"to": address}, skip_reason=reason)
        return Move("next")
    payload = build(address)
    if isinstance(payload, Move):
        return payload
    payload["subscription"] = status.value if status else None
    ctx.send(channel.value, payload)
    sent: dict[str, int] = ctx.task_data.setdefault("sent", {})
    sent[channel.value] = sent.get(channel.value, 0) + 1
    return Move("next")
