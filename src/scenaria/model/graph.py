"""A scenario compiled for the engine: parsed settings and an edge lookup.

Compiling once per scenario version keeps Pydantic parsing off the hot path:
the engine steps millions of tasks through the same few parsed nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scenaria.model.nodes import KINDS, NodeKind
from scenaria.model.profiles import FieldType, ImportSource
from scenaria.model.scenario import DEFAULT_CAPTURE_ID, ReentryMode, Scenario, ScenarioStatus


@dataclass(frozen=True, slots=True)
class CompiledNode:
    id: str
    kind: NodeKind[Any]
    settings: Any


@dataclass(frozen=True)
class CompiledScenario:
    id: int
    version: int
    name: str
    database_id: int
    reentry: ReentryMode
    status: ScenarioStatus
    nodes: dict[str, CompiledNode]
    edges: dict[tuple[str, str], str]
    fields: Mapping[str, FieldType]
    """The profile database's field schema, so actions store values in the field's type."""

    def target(self, node_id: str, port: str) -> str | None:
        return self.edges.get((node_id, port))

    def triggers_for(self, source: ImportSource, created: bool) -> list[str]:
        """Start nodes an import of ``source`` fires (``created``: the profile is new)."""
        return [
            n.id
            for n in self.nodes.values()
            if source in n.kind.sources and (created or n.settings.on_update)
        ]

    @property
    def default_capture(self) -> str:
        return DEFAULT_CAPTURE_ID


def compile_scenario(scenario: Scenario, fields: Mapping[str, FieldType]) -> CompiledScenario:
    """Compile a scenario that passed validation (raises on unknown kinds or bad settings)."""
    assert scenario.id is not None, "only a saved scenario runs"
    nodes = {}
    for node in scenario.nodes:
        kind = KINDS[node.kind]
        nodes[node.id] = CompiledNode(node.id, kind, kind.parse(node.settings))
    edges = {(e.source, e.port): e.target for e in scenario.edges}
    return CompiledScenario(
        id=scenario.id,
        version=scenario.version,
        name=scenario.name,
        database_id=scenario.database_id,
        reentry=scenario.reentry,
        status=scenario.status,
        nodes=nodes,
        edges=edges,
        fields=fields,
    )
