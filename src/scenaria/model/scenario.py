"""The static scenario spec: graph, settings, re-entry mode, status.

The runtime (tasks) lives in :mod:`scenaria.model.task`; a scenario never
holds task state, so one spec serves millions of tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scenaria.model.problems import Problem

DEFAULT_CAPTURE_ID = "default"
"""Id of the built-in, non-removable default capture element."""
MAX_TRIGGERS = 10


class ReentryMode(StrEnum):
    ONCE_EVER = "once_ever"
    """Disable re-entry: a profile enters once and never again."""
    NOT_WHILE_ACTIVE = "not_while_active"
    """Disable re-entry for engaged profiles: again only after its task ended."""
    RESTART = "restart"
    """Discard the existing task (and its data) and start a new one."""
    PARALLEL = "parallel"
    """Process each entry separately: every capture starts its own task."""


class ScenarioStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    INACTIVE = "inactive"
    TRASHED = "trashed"


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    kind: str
    name: str = ""
    settings: dict[str, Any] = Field(default_factory=dict)
    position: tuple[float, float] | None = None
    """Where the editor draws it; irrelevant to the engine."""


class Edge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    port: str = "next"
    """Which output of the source: ``next``, ``yes``/``no`` or ``error``."""
    target: str


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    database_id: int
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    """Access groups; empty means visible to everyone."""
    attributes: dict[str, str] = Field(default_factory=dict)
    """Values of the account-defined attributes (see :class:`AttributeDefinition`)."""
    reentry: ReentryMode = ReentryMode.NOT_WHILE_ACTIVE
    status: ScenarioStatus = ScenarioStatus.DRAFT
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    version: int = 0
    """Bumped on every save so workers can refresh their compiled copy."""

    @model_validator(mode="after")
    def _has_default_capture(self) -> Scenario:
        if not any(n.id == DEFAULT_CAPTURE_ID for n in self.nodes):
            self.nodes.insert(0, Node(id=DEFAULT_CAPTURE_ID, kind="default_capture"))
        return self

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)


@dataclass(frozen=True)
class ScenarioSummary:
    """What the scenario list shows, read without parsing the graph."""

    id: int
    database_id: int
    name: str
    status: ScenarioStatus
    reentry: ReentryMode
    tags: list[str]
    groups: list[str]
    valid: bool
    """False while problems block activation."""
    updated_at: float


ATTRIBUTE_NAME = r"^[a-z_][a-z0-9_]{0,63}$"


class AttributeDefinition(BaseModel):
    """An account-defined scenario attribute; a required one must be set on every scenario."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=ATTRIBUTE_NAME)
    required: bool = False
    choices: tuple[str, ...] | None = None
    """The allowed values; None allows any text."""


def attribute_problems(
    values: Mapping[str, str], definitions: Sequence[AttributeDefinition]
) -> list[Problem]:
    """Required attributes left unset, unknown attributes and values outside the choices.

    Each forbids saving: the seed says a required attribute's value must be chosen
    right away.
    """
    defined = {d.name: d for d in definitions}
    problems: list[Problem] = []
    for name in sorted(set(values) - set(defined)):
        known = ", ".join(sorted(defined)) or "none is defined"
        problems.append(
            Problem(
                None,
                "unknown_attribute",
                f"attribute '{name}' is not defined (defined attributes: {known})",
                blocks_save=True,
            )
        )
    for definition in definitions:
        value = values.get(definition.name)
        if value is None or value == "":
            if definition.required:
                problems.append(
                    Problem(
                        None,
                        "missing_attribute",
                        f"attribute '{definition.name}' is required: choose its value"
                        + _choices_hint(definition),
                        blocks_save=True,
                    )
                )
            continue
        if definition.choices is not None and value not in definition.choices:
            problems.append(
                Problem(
                    None,
                    "bad_attribute",
                    f"attribute '{definition.name}' cannot be '{value}'"
                    + _choices_hint(definition),
                    blocks_save=True,
                )
            )
    return problems


def _choices_hint(definition: AttributeDefinition) -> str:
    if not definition.choices:
        return ""
    return " (one of: " + ", ".join(definition.choices) + ")"
