"""Email: render the message from the profile and queue it in the outbox."""

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


class EmailSettings(Settings):
    subject: str = Field(
        min_length=1,
        title="Subject",
        description="A template: {{ profile.first_name }} puts in the profile's first name.",
    )
    html: str = Field(
        default="",
        title="HTML body",
        description="The message as HTML, a template like the subject.",
    )
    text: str = Field(
        default="",
        title="Plain-text body",
        description="For mail programs that show no HTML. Give at least one of the two bodies.",
    )
    resource: str = Field(
        default="default",
        title="Sending resource",
        description="The sender and SMTP server the message goes out through.",
    )
    """The subscription resource (sender, SMTP settings) the message goes out through."""


class Email(NodeKind[EmailSettings]):
    name = "email"
    title = "Email"
    group = NodeGroup.CHANNEL
    settings_model = EmailSettings
    outputs: ClassVar[tuple[str, ...]] = ("next", "error")

    def validate(
        self, node_id: str, settings: EmailSettings, ctx: ValidationContext
    ) -> Sequence[Problem]:
        problems = template_problems(
            node_id, subject=settings.subject, html=settings.html, text=settings.text
        )
        if not settings.html and not settings.text:
            problems.append(Problem(node_id, "empty_message", "the email has no HTML or text body"))
        return problems

    def step(self, settings: EmailSettings, ctx: StepContext) -> Outcome:
        def build(address: str) -> dict[str, Any] | Move:
            variables = template_variables(ctx)
            try:
                return {
                    "to": address,
                    "resource": settings.resource,
                    "subject": render(settings.subject, variables),
                    "html": render(settings.html, variables, html=True),
                    "text": render(settings.text, variables),
                }
            except RenderError as exc:
                return Move("error", str(exc))

        return send_or_skip(ctx, Channel.EMAIL, "email", build)
