"""Validation at save: every problem names its node and says what is wrong.

Per the seed, only unconnected start elements forbid saving; every other
problem is reported at save and blocks activation until it is fixed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import ValidationError

from scenaria.model.nodes import KINDS, NodeKind
from scenaria.model.nodes.base import ValidationContext
from scenaria.model.problems import Problem
from scenaria.model.scenario import DEFAULT_CAPTURE_ID, MAX_TRIGGERS, Scenario


def _settings_problems(node_id: str, exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "settings"
        problems.append(Problem(node_id, "bad_settings", f"{where}: {error['msg']}"))
    return problems


def validate(scenario: Scenario, ctx: ValidationContext) -> list[Problem]:
    """All problems of ``scenario``; an empty list means it can be activated."""
    problems: list[Problem] = []
    kinds: dict[str, NodeKind[Any]] = {}
    seen: set[str] = set()
    for node in scenario.nodes:
        if node.id in seen:
            problems.append(Problem(node.id, "duplicate_node", "two nodes share this id"))
            continue
        seen.add(node.id)
        kind = KINDS.get(node.kind)
        if kind is None:
            problems.append(Problem(node.id, "unknown_kind", f"unknown node kind '{node.kind}'"))
            continue
        kinds[node.id] = kind

    node_kinds = {node_id: kind.name for node_id, kind in kinds.items()}
    ctx = ValidationContext(ctx.fields, ctx.promo_pools, ctx.allowed_hosts, node_kinds)
    for node in scenario.nodes:
        kind = kinds.get(node.id)
        if kind is None:
            continue
        try:
            settings = kind.parse(node.settings)
        except ValidationError as exc:
            problems.extend(_settings_problems(node.id, exc))
            continue
        problems.extend(kind.validate(node.id, settings, ctx))

    triggers = [n for n, k in kinds.items() if k.start and n != DEFAULT_CAPTURE_ID]
    for extra, node_id in enumerate(triggers[MAX_TRIGGERS:], start=MAX_TRIGGERS + 1):
        problems.append(
            Problem(
                node_id,
                "too_many_triggers",
                f"trigger {extra} of {len(triggers)}: a scenario has at most {MAX_TRIGGERS} "
                "triggers; remove this one",
            )
        )

    outgoing: dict[str, dict[str, str]] = defaultdict(dict)
    for edge in scenario.edges:
        source = kinds.get(edge.source)
        if source is None:
            if edge.source not in seen:
                problems.append(
                    Problem(
                        edge.source,
                        "unknown_node",
                        f"an edge starts at missing node '{edge.source}'",
                    )
                )
            continue  # a node of unknown kind is reported once, as such
        if edge.target not in kinds and edge.target in seen:
            if edge.port in source.outputs:
                outgoing[edge.source][edge.port] = edge.target
            continue
        if edge.target not in kinds:
            problems.append(
                Problem(
                    edge.source, "unknown_node", f"an edge leads to missing node '{edge.target}'"
                )
            )
            continue
        if edge.port not in source.outputs:
            allowed = ", ".join(source.outputs) or "none"
            problems.append(
                Problem(
                    edge.source,
                    "unknown_port",
                    f"{source.title} has no '{edge.port}' output (outputs: {allowed})",
                )
            )
            continue
        if edge.port in outgoing[edge.source]:
            problems.append(
                Problem(edge.source, "duplicate_edge", f"output '{edge.port}' is connected twice")
            )
            continue
        if kinds[edge.target].start:
            problems.append(
                Problem(
                    edge.target,
                    "edge_into_start",
                    "a start element cannot be the target of an edge",
                )
            )
            continue
        outgoing[edge.source][edge.port] = edge.target

    for node_id in triggers:
        if "next" not in outgoing[node_id]:
            problems.append(
                Problem(
                    node_id,
                    "start_not_connected",
                    "this start element is not connected to any element",
                    blocks_save=True,
                )
            )
    if not any(outgoing[n] for n in kinds if kinds[n].start):
        problems.append(
            Problem(None, "no_start", "connect a trigger or the default capture to an element")
        )

    for node_id, kind in kinds.items():
        for branch in kind.branches:
            if branch not in outgoing[node_id]:
                problems.append(
                    Problem(
                        node_id,
                        "branch_not_wired",
                        f"the '{branch}' branch is not connected; connect it or lead it to an Exit",
                    )
                )

    problems.extend(_instant_cycles(kinds, outgoing))
    return problems


def _instant_cycles(
    kinds: dict[str, NodeKind[Any]], outgoing: dict[str, dict[str, str]]
) -> list[Problem]:
    """Cycles made only of instant nodes would spin a task forever in one step."""
    instant = {n for n, k in kinds.items() if not k.waits}
    graph = {n: [t for t in outgoing[n].values() if t in instant] for n in instant}
    state: dict[str, int] = {}
    problems: list[Problem] = []
    reported: set[frozenset[str]] = set()

    def visit(start: str) -> None:
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            targets = graph[node]
            if i < len(targets):
                stack.append((node, i + 1))
                nxt = targets[i]
                if state.get(nxt) == 1:
                    cycle = path[path.index(nxt) :]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        loop = " → ".join([*cycle, nxt])
                        problems.append(
                            Problem(
                                nxt,
                                "cycle_without_wait",
                                f"the loop {loop} has no waiting element (add a Pause)",
                            )
                        )
                elif nxt not in state:
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return problems
