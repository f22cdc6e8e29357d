"""Exit: end the task here, explicitly."""

from __future__ import annotations

from typing import ClassVar

from scenaria.model.nodes.base import End, NodeGroup, NodeKind, Outcome, Settings, StepContext


class ExitSettings(Settings):
    pass


class Exit(NodeKind[ExitSettings]):
    name = "exit"
    title = "Exit"
    group = NodeGroup.OPERATOR
    settings_model = ExitSettings
    outputs: ClassVar[tuple[str, ...]] = ()

    def step(self, settings: ExitSettings, ctx: StepContext) -> Outcome:
        return End()
