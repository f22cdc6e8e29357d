"""SMS: render the text from the profile and queue it in the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

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
from scenaria.model.nodes.messages import send_or_skip, template_problems, template_variables
from scenaria.model.problems import Problem
from scenaria.model.profiles import Channel
from scenaria.model.templating import RenderError, render


class SmsSettings(Settings):
    text: str = Field(
        min_length=1,
        max_length=2000,
        title="Message",
        description="A template: {{ profile.first_name }} puts in the profile's first name.",
    )
    sender: str = Field(
        default="Scenaria", title="Sender name", description="Shown as the sender on the phone."
    )
    resource: str = Field(
        default="default",
        title="Sending resource",
        description="The SMS provider account the message goes out through.",
    )


class Sms(NodeKind[SmsSettings]):
    name = "sms"
    title = "SMS"
    group = NodeGroup.CHANNEL
    settings_model = SmsSettings
    outputs: ClassVar[tuple[str, ...]] = ("next", "error")

    def validate(
        self, node_id: str, settings: SmsSettings, ctx: ValidationContext
    ) -> Sequence[Problem]:
        return template_problems(node_id, text=settings.text)

    def step(self, settings: SmsSettings, ctx: StepContext) -> Outcome:
        def build(address: str) -> dict[str, Any] | Move:
            try:
                text = render(settings.text, template_variables(ctx))
            except RenderError as exc:
                return Move("error", str(exc))
            return {
                "to": address,
                "sender": settings.sender,
                "resource": settings.resource,
                "text": text,
            }

        return send_or_skip(ctx, Channel.SMS, "phone", build)
