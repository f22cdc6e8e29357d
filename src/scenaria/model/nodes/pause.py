"""Pause: hold the task for a fixed time, then go on."""

from __future__ import annotations

from pydantic import Field, model_validator

from scenaria.model.nodes.base import NodeGroup, NodeKind, Outcome, Settings, StepContext, Wait


class PauseSettings(Settings):
    days: float = Field(
        default=0,
        ge=0,
        title="Days",
        description="The pause lasts days + hours + minutes + seconds.",
    )
    hours: float = Field(default=0, ge=0)
    minutes: float = Field(default=0, ge=0)
    seconds: float = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _positive(self) -> PauseSettings:
        if self.total_seconds() <= 0:
            raise ValueError("a pause must last longer than zero")
        return self

    def total_seconds(self) -> float:
        return self.days * 86400 + self.hours * 3600 + self.minutes * 60 + self.seconds


class Pause(NodeKind[PauseSettings]):
    name = "pause"
    title = "Pause"
    group = NodeGroup.OPERATOR
    settings_model = PauseSettings
    waits = True

    def step(self, settings: PauseSettings, ctx: StepContext) -> Outcome:
        return Wait(until=ctx.now + settings.total_seconds())
