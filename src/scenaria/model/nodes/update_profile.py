"""Update profile: set, increment, decrement or clear profile fields (scoring)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from scenaria.errors import InvalidInput
from scenaria.model.nodes.base import (
    Move,
    NodeGroup,
    NodeKind,
    Outcome,
    Settings,
    StepContext,
    ValidationContext,
    field_problem,
)
from scenaria.model.problems import Problem
from scenaria.model.profiles import NUMERIC_TYPES, FieldType, coerce

PROTECTED_FIELDS = frozenset({"email", "phone"})
"""Contact fields are the match keys of imports; a scenario must not rewrite them."""


class FieldUpdate(Settings):
    field: str = Field(title="Profile field")
    op: Literal["set", "increment", "decrement", "clear"] = Field(
        default="set", title="Change", description="increment and decrement need a number field."
    )
    value: Any = Field(default=None, title="Value")


class UpdateProfileSettings(Settings):
    updates: list[FieldUpdate] = Field(min_length=1, title="Field changes")


class UpdateProfile(NodeKind[UpdateProfileSettings]):
    name = "update_profile"
    title = "Update profile"
    group = NodeGroup.ACTION
    settings_model = UpdateProfileSettings

    def validate(
        self, node_id: str, settings: UpdateProfileSettings, ctx: ValidationContext
    ) -> Sequence[Problem]:
        problems: list[Problem] = []
        for update in settings.updates:
            if missing := field_problem(node_id, update.field, ctx):
                problems.append(missing)
                continue
            if update.field in PROTECTED_FIELDS:
                problems.append(
                    Problem(node_id, "protected_field", f"field '{update.field}' cannot be updated")
                )
                continue
            kind = ctx.fields[update.field]
            if update.op in ("increment", "decrement"):
                if kind not in NUMERIC_TYPES:
                    problems.append(
                        Problem(
                            node_id,
                            "bad_operator",
                            f"cannot {update.op} '{update.field}': it is {kind.value}, "
                            "not a number",
                        )
                    )
                    continue
                if update.value is None or isinstance(update.value, bool):
                    problems.append(Problem(node_id, "bad_value", f"{update.op} needs a number"))
                    continue
            if update.op != "clear":
                try:
                    if coerce(update.value, kind, update.field) is None:
                        raise InvalidInput(f"{update.field}: a value is required")
                except InvalidInput as exc:
                    problems.append(Problem(node_id, "bad_value", str(exc)))
        return problems

    def step(self, settings: UpdateProfileSettings, ctx: StepContext) -> Outcome:
        fields = ctx.profile.fields
        changes: dict[str, Any] = {}
        for update in settings.updates:
            current = changes.get(update.field, fields.get(update.field))
            if update.op == "clear":
                changes[update.field] = None
            elif update.op == "set":
                kind = ctx.field_types.get(update.field, FieldType.STRING)
                try:
                    changes[update.field] = coerce(update.value, kind, update.field)
                except InvalidInput as exc:
                    return Move("next", f"cannot set '{update.field}': {exc}")
            else:
                sign = 1 if update.op == "increment" else -1
                try:
                    base = current if isinstance(current, (int, float)) else 0
                    amount = update.value
                    if not isinstance(amount, (int, float)) or isinstance(amount, bool):
                        amount = coerce(amount, FieldType.FLOAT)
                except InvalidInput as exc:
                    return Move("next", f"cannot {update.op} '{update.field}': {exc}")
                result = base + sign * amount
                if ctx.field_types.get(update.field) is FieldType.INT:
                    result = int(result)
                changes[update.field] = result
        ctx.update_profile(changes)
        return Move("next")
