"""Segments: a list of profiles (static) or saved rules (dynamic) over one database.

A dynamic segment's rules are joined by AND (``match: all``) or OR (``any``)
and may nest in groups. Each rule looks at one thing about a profile:

- ``field``: a typed comparison on a profile field (the operators of the
  Condition node: eq, ne, gt, gte, lt, lte, contains, is_set, is_not_set);
- ``subscription``: a channel's subscription status;
- ``event``: the profile has had an event of a type, optionally in the last N days;
- ``scenario``: the profile was in a scenario at least once (``ever``), is in
  it now (``now``), completed it (``completed``) or left it on an error (``failed``).

Any rule or group may set ``negate`` to select the profiles it does not hold for.
Rules are checked here against the database's field schema, each problem naming
its rule; the store turns valid rules into one SQL condition.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, StrictBool

from scenaria.errors import InvalidInput
from scenaria.model.nodes.condition import ORDERED_OPS, FieldOp
from scenaria.model.profiles import (
    NUMERIC_TYPES,
    Channel,
    FieldType,
    SubscriptionStatus,
    coerce,
)

MAX_ID = 2**63 - 1
"""Ids are 64-bit in the store; anything larger names nothing."""
MAX_DEPTH = 4
"""How deep groups may nest (the top level is depth 1)."""
MAX_RULES = 200
"""Rules and groups in one segment, all levels together."""

# Bounds written as exclusive powers of two: exact as the floats an OpenAPI document holds.
RecordId = Annotated[int, Field(ge=1, lt=MAX_ID + 1)]
RuleValue = (
    StrictBool
    | Annotated[int, Field(ge=-MAX_ID - 1, lt=MAX_ID + 1)]
    | FiniteFloat
    | Annotated[str, Field(max_length=1000)]
    | None
)
UNARY_OPS = frozenset({"is_set", "is_not_set"})


class SegmentKind(StrEnum):
    STATIC = "static"
    """A list of profiles, filled and emptied by hand or through the API."""
    DYNAMIC = "dynamic"
    """Saved rules; the members are whoever matches them at the moment of asking."""


class Participation(StrEnum):
    EVER = "ever"
    """Has at least one task in the scenario, live or ended."""
    NOW = "now"
    """Has a live task in the scenario (scheduled, awaiting or frozen)."""
    COMPLETED = "completed"
    """Has a task that finished the scenario (walked off its end or reached an Exit)."""
    FAILED = "failed"
    """Has a task that left the scenario on an error."""


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    negate: StrictBool = False
    """Select the profiles this rule does not hold for."""


class FieldRule(_Rule):
    type: Literal["field"]
    field: str = Field(min_length=1, max_length=64)
    op: FieldOp = "eq"
    value: RuleValue = None
    """Compared as the field's type; ignored by ``is_set`` and ``is_not_set``."""


class SubscriptionRule(_Rule):
    type: Literal["subscription"]
    channel: Channel = Channel.EMAIL
    status: SubscriptionStatus = SubscriptionStatus.SUBSCRIBED


class EventRule(_Rule):
    type: Literal["event"]
    event: str = Field(min_length=1, max_length=64)
    """The event type: ``opened``, ``clicked``, ``subscription_confirmed``, a custom one …"""
    within_days: int | None = Field(default=None, ge=1, le=36_500)
    """Only events of the last N days count; None counts every event."""


class ScenarioRule(_Rule):
    type: Literal["scenario"]
    scenario_id: RecordId
    participation: Participation = Participation.EVER


class RuleGroup(_Rule):
    type: Literal["group"] = "group"
    match: Literal["all", "any"] = "all"
    """``all`` joins the rules with AND, ``any`` with OR."""
    rules: list[Rule] = Field(min_length=1, max_length=MAX_RULES)


Rule = Annotated[
    FieldRule | SubscriptionRule | EventRule | ScenarioRule | RuleGroup,
    Field(discriminator="type"),
]
RuleGroup.model_rebuild()


class Segment(BaseModel):
    """A segment bound to one profile database, visible to its access groups."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    database_id: int
    name: str
    kind: SegmentKind
    rules: RuleGroup | None = None
    """The rules of a dynamic segment; None for a static one."""
    groups: tuple[str, ...] = ()
    """Access groups; empty means visible to everyone."""
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class ScenarioRef:
    """What rule checking needs to know of a scenario a rule names."""

    name: str
    database_id: int


@dataclass(frozen=True)
class RuleContext:
    fields: Mapping[str, FieldType]
    """The profile database's field schema, built-in fields included."""
    scenarios: Mapping[int, ScenarioRef]
    """The scenarios the rules name that exist and that the author may see."""
    database_id: int


def walk(group: RuleGroup, label: str = "", depth: int = 1) -> Iterator[tuple[str, Any, int]]:
    """Every rule under ``group`` with its label (``2``, ``2.1`` …) and depth (1 = top)."""
    for i, rule in enumerate(group.rules, start=1):
        name = f"{label}.{i}" if label else str(i)
        yield name, rule, depth
        # Deeper groups are refused by check_rules; not descending keeps the walk bounded.
        if isinstance(rule, RuleGroup) and depth < MAX_DEPTH:
            yield from walk(rule, name, depth + 1)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def describe(rule: Any) -> str:
    """A short readable form of one rule, used in error messages."""
    neg = "not " if rule.negate else ""
    if isinstance(rule, FieldRule):
        value = "" if rule.op in UNARY_OPS else f" {_short(rule.value)}"
        return f"{neg}field '{rule.field}' {rule.op}{value}"
    if isinstance(rule, SubscriptionRule):
        return f"{neg}{rule.channel.value} subscription {rule.status.value}"
    if isinstance(rule, EventRule):
        since = f" in the last {rule.within_days} days" if rule.within_days else ""
        return f"{neg}event '{rule.event}'{since}"
    if isinstance(rule, ScenarioRule):
        return f"{neg}scenario {rule.scenario_id} {rule.participation.value}"
    assert isinstance(rule, RuleGroup)
    return f"{neg}group of {len(rule.rules)} ({rule.match})"


def referenced_scenarios(group: RuleGroup) -> set[int]:
    return {r.scenario_id for _, r, _ in walk(group) if isinstance(r, ScenarioRule)}


def _field_problem(rule: FieldRule, ctx: RuleContext) -> str | None:
    kind = ctx.fields.get(rule.field)
    if kind is None:
        known = ", ".join(sorted(ctx.fields))
        return f"'{rule.field}' is not a field of the profile database (fields: {known})"
    if rule.op in UNARY_OPS:
        return None
    if rule.op in ORDERED_OPS and kind not in (*NUMERIC_TYPES, FieldType.DATE):
        return f"'{rule.op}' needs a number or date field; '{rule.field}' is {kind.value}"
    if rule.op == "contains" and kind is not FieldType.STRING:
        return f"'contains' needs a string field; '{rule.field}' is {kind.value}"
    if rule.value is None or (rule.value == "" and kind is not FieldType.STRING):
        hint = "is_not_set" if rule.op == "eq" else "is_set" if rule.op == "ne" else None
        return f"'{rule.op}' needs a value" + (
            f"; to test for no value use '{hint}'" if hint else ""
        )
    if kind is FieldType.BOOL and rule.op not in ("eq", "ne"):
        return f"'{rule.op}' does not apply to the bool field '{rule.field}'"
    try:
        value = coerce(rule.value, kind, rule.field)
        if kind in NUMERIC_TYPES and not math.isfinite(float(value)):
            raise OverflowError
    except InvalidInput as exc:
        return str(exc)
    except OverflowError:
        return f"{rule.field}: {_short(rule.value)} is out of range"
    return None


def _problem(rule: Any, depth: int, ctx: RuleContext) -> str | None:
    if isinstance(rule, FieldRule):
        return _field_problem(rule, ctx)
    if isinstance(rule, ScenarioRule):
        ref = ctx.scenarios.get(rule.scenario_id)
        if ref is None:
            return f"scenario {rule.scenario_id} does not exist"
        if ref.database_id != ctx.database_id:
            return (
                f"scenario {rule.scenario_id} '{ref.name}' uses another profile database "
                "than the segment"
            )
    if isinstance(rule, RuleGroup) and depth >= MAX_DEPTH:
        return f"groups nest at most {MAX_DEPTH} levels deep"
    return None


def check_rules(group: RuleGroup, ctx: RuleContext) -> RuleGroup:
    """The rules with each field value coerced to its field's type.

    Raises InvalidInput listing every problem, each naming its rule.
    """
    problems: list[str] = []
    for count, (label, rule, depth) in enumerate(walk(group), start=1):
        if count > MAX_RULES:
            problems.append(f"a segment has at most {MAX_RULES} rules and groups")
            break
        problem = _problem(rule, depth, ctx)
        if problem:
            problems.append(f"rule {label} ({describe(rule)}): {problem}")
    if problems:
        raise InvalidInput("The segment rules have problems: " + "; ".join(problems))
    return _coerced(group, ctx.fields)


def _coerced(group: RuleGroup, fields: Mapping[str, FieldType]) -> RuleGroup:
    rules: list[Any] = []
    for rule in group.rules:
        if isinstance(rule, RuleGroup):
            rule = _coerced(rule, fields)
        elif isinstance(rule, FieldRule):
            value = None if rule.op in UNARY_OPS else coerce(rule.value, fields[rule.field])
            rule = rule.model_copy(update={"value": value})
        rules.append(rule)
    return group.model_copy(update={"rules": rules})
