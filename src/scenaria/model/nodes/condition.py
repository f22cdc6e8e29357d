"""Condition: send the task down ``yes`` or ``no`` by rules joined with AND/OR.

Rules look at profile fields (typed comparisons), a channel's subscription
status (``subscribed`` means double opt-in confirmed), what happened to a
message this task sent from a given node, and whether this task has already
sent on a channel ("there is an existing SMS sending").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from scenaria.errors import InvalidInput
from scenaria.model.nodes.base import (
    Move,
    NodeGroup,
    NodeKind,
    Outcome,
    ProfileView,
    Settings,
    StepContext,
    ValidationContext,
    field_problem,
)
from scenaria.model.problems import Problem
from scenaria.model.profiles import NUMERIC_TYPES, Channel, FieldType, SubscriptionStatus, coerce

FieldOp = Literal["eq", "ne", "gt", "gte", "lt", "lte", "contains", "is_set", "is_not_set"]
ORDERED_OPS = frozenset({"gt", "gte", "lt", "lte"})
CHANNEL_NODE_KINDS = frozenset({"email", "sms"})


class FieldRule(Settings):
    type: Literal["field"] = "field"
    field: str = Field(title="Profile field")
    op: FieldOp = Field(
        default="eq",
        title="Comparison",
        description="eq equal, ne not equal, gt/gte/lt/lte greater/less (or equal), "
        "contains, is_set, is_not_set.",
    )
    value: Any = Field(default=None, title="Value")


class SubscriptionRule(Settings):
    type: Literal["subscription"] = "subscription"
    channel: Channel = Field(default=Channel.EMAIL, title="Channel")
    status: SubscriptionStatus = Field(
        default=SubscriptionStatus.SUBSCRIBED,
        title="Subscription status",
        description="subscribed means the double opt-in is confirmed.",
    )


class MessageRule(Settings):
    type: Literal["message"] = "message"
    node: str = Field(
        title="Message element",
        description="The Email or SMS element of this scenario whose message is checked.",
    )
    event: Literal["opened", "clicked", "delivered"] = Field(default="opened", title="Event")


class SentRule(Settings):
    type: Literal["sent"] = "sent"
    channel: Channel = Field(default=Channel.SMS, title="Channel")
    at_least: int = Field(default=1, ge=1, title="At least this many messages")


Rule = Annotated[FieldRule | SubscriptionRule | MessageRule | SentRule, Field(discriminator="type")]


class ConditionSettings(Settings):
    match: Literal["all", "any"] = Field(
        default="all",
        title="Profiles go down yes when",
        description="all: every rule holds (AND); any: at least one does (OR).",
    )
    rules: list[Rule] = Field(min_length=1, title="Rules")

    @model_validator(mode="before")
    @classmethod
    def _field_rule_by_default(cls, data: Any) -> Any:
        """A rule without a ``type`` is a field rule, the most common kind."""
        if isinstance(data, dict) and isinstance(data.get("rules"), list):
            data = {
                **data,
                "rules": [
                    {"type": "field", **r} if isinstance(r, dict) and "type" not in r else r
                    for r in data["rules"]
                ],
            }
        return data


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "is_set":
        return actual is not None and actual != ""
    if op == "is_not_set":
        return actual is None or actual == ""
    if actual is None:
        return op == "ne" and expected is not None
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op == "contains":
        return str(expected).lower() in str(actual).lower()
    if op == "gt":
        return bool(actual > expected)
    if op == "gte":
        return bool(actual >= expected)
    if op == "lt":
        return bool(actual < expected)
    return bool(actual <= expected)


def _field_value(profile: ProfileView, rule: FieldRule) -> Any:
    return profile.fields.get(rule.field)


class Condition(NodeKind[ConditionSettings]):
    name = "condition"
    title = "Condition"
    group = NodeGroup.OPERATOR
    settings_model = ConditionSettings
    outputs: ClassVar[tuple[str, ...]] = ("yes", "no")
    branches: ClassVar[tuple[str, ...]] = ("yes", "no")

    def validate(
        self, node_id: str, settings: ConditionSettings, ctx: ValidationContext
    ) -> Sequence[Problem]:
        problems: list[Problem] = []
        for rule in settings.rules:
            if isinstance(rule, FieldRule):
                missing = field_problem(node_id, rule.field, ctx)
                if missing:
                    problems.append(missing)
                    continue
                kind = ctx.fields[rule.field]
                if rule.op in ORDERED_OPS and kind not in (*NUMERIC_TYPES, FieldType.DATE):
                    problems.append(
                        Problem(
                            node_id,
                            "bad_operator",
                            f"'{rule.op}' needs a number or date field; '{rule.field}' is "
                            f"{kind.value}",
                        )
                    )
                if rule.op not in ("is_set", "is_not_set", "contains"):
                    try:
                        coerce(rule.value, kind, rule.field)
                    except InvalidInput as exc:
                        problems.append(Problem(node_id, "bad_value", str(exc)))
            elif isinstance(rule, MessageRule):
                kind_name = ctx.node_kinds.get(rule.node)
                if kind_name is None:
                    problems.append(
                        Problem(
                            node_id, "unknown_node", f"rule refers to missing node '{rule.node}'"
                        )
                    )
                elif kind_name not in CHANNEL_NODE_KINDS:
                    problems.append(
                        Problem(
                            node_id,
                            "not_a_channel",
                            f"rule refers to node '{rule.node}', which sends no message",
                        )
                    )
        return problems

    def step(self, settings: ConditionSettings, ctx: StepContext) -> Outcome:
        results = (self._holds(rule, ctx) for rule in settings.rules)
        ok = all(results) if settings.match == "all" else any(results)
        return Move("yes" if ok else "no")

    def _holds(self, rule: Any, ctx: StepContext) -> bool:
        if isinstance(rule, SubscriptionRule):
            return ctx.profile.subscription(rule.channel) is rule.status
        if isinstance(rule, SentRule):
            sent: dict[str, int] = ctx.task_data.get("sent", {})
            return sent.get(rule.channel.value, 0) >= rule.at_least
        if isinstance(rule, MessageRule):
            return rule.event in ctx.message_events(rule.node)
        assert isinstance(rule, FieldRule)
        actual = _field_value(ctx.profile, rule)
        expected = rule.value
        if rule.op not in ("is_set", "is_not_set", "contains") and expected is not None:
            # The profile's own type decides how the literal compares (validated at save).
            if isinstance(actual, bool):
                expected = coerce(expected, FieldType.BOOL)
            elif isinstance(actual, (int, float)):
                expected = coerce(expected, FieldType.FLOAT)
            elif isinstance(actual, str):
                expected = str(expected)
        try:
            return _compare(rule.op, actual, expected)
        except TypeError:
            return False
