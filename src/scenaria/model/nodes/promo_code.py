"""Promo code: hand the task the next unused code of a named pool.

The code is taken atomically with the task's move, so no code is ever given
twice; an empty pool sends the task down the error path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from scenaria.model.nodes.base import (
    Move,
    NodeGroup,
    NodeKind,
    Outcome,
    Settings,
    StepContext,
    ValidationContext,
)
from scenaria.model.problems import Problem


class PromoCodeSettings(Settings):
    pool: str = Field(
        min_length=1,
        max_length=100,
        title="Code pool",
        description="The pool of loaded promo codes each profile gets one unused code from.",
    )


class PromoCode(NodeKind[PromoCodeSettings]):
    name = "promo_code"
    title = "Promo code"
    group = NodeGroup.ACTION
    settings_model = PromoCodeSettings
    outputs: ClassVar[tuple[str, ...]] = ("next", "error")

    def validate(
        self, node_id: str, settings: PromoCodeSettings, ctx: ValidationContext
    ) -> Sequence[Problem]:
        if ctx.promo_pools is not None and settings.pool not in ctx.promo_pools:
            return [
                Problem(
                    node_id, "unknown_pool", f"promo code pool '{settings.pool}' does not exist"
                )
            ]
        return ()

    def step(self, settings: PromoCodeSettings, ctx: StepContext) -> Outcome:
        code = ctx.take_promo_code(settings.pool)
        if code is None:
            return Move("error", f"promo code pool '{settings.pool}' is empty")
        ctx.task_data["promo_code"] = code
        ctx.task_data.setdefault("promo_codes", {})[settings.pool] = code
        return Move("next")
