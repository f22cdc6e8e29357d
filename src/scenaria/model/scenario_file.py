"""Scenario files: a readable YAML or JSON document, diffable and reviewable.

The document holds the spec only (no ids, status or tasks), so a file exported
from one installation imports into another, bound to a database given there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from scenaria.errors import InvalidInput
from scenaria.model.scenario import Scenario

FORMAT_VERSION = 1
MAX_DOCUMENT_BYTES = 1024 * 1024
"""The largest scenario file read, YAML or JSON (the welcome example is 3 KB)."""
_SPEC_FIELDS = ("name", "description", "tags", "groups", "attributes", "reentry", "nodes", "edges")


def to_document(scenario: Scenario) -> dict[str, Any]:
    data = scenario.model_dump(mode="json", include=set(_SPEC_FIELDS))
    if not data.get("attributes"):
        data.pop("attributes", None)
    data = {key: data[key] for key in _SPEC_FIELDS if key in data}
    for node in data["nodes"]:
        if node.get("position") is None:
            node.pop("position", None)
        if not node.get("name"):
            node.pop("name", None)
        if not node.get("settings"):
            node.pop("settings", None)
    for edge in data["edges"]:
        if edge.get("port") == "next":
            edge.pop("port")
    return {"scenaria": FORMAT_VERSION, **data}


def from_document(document: Any, database_id: int) -> Scenario:
    if not isinstance(document, dict):
        raise InvalidInput("a scenario file must hold a mapping at the top level")
    version = document.get("scenaria", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise InvalidInput(f"unsupported scenario file version {version!r}")
    spec = {k: v for k, v in document.items() if k != "scenaria"}
    unknown = sorted(str(k) for k in spec if k not in _SPEC_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown key(s) in scenario file: {', '.join(unknown)}")
    try:
        return Scenario.model_validate({**spec, "database_id": database_id})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"scenario file: {where}: {first['msg']}") from exc


def dumps(scenario: Scenario, fmt: str = "yaml") -> str:
    document = to_document(scenario)
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases: ``*name`` lets a small file stand for a huge tree
    (nested aliases, the "billion laughs"); a scenario file never needs one."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise InvalidInput(
                "scenario file: aliases (*name) are not allowed; found one at "
                f"line {mark.line + 1}, column {mark.column + 1}"
            )
        return super().compose_node(parent, index)


def _check_size(text: str) -> None:
    if len(text) > MAX_DOCUMENT_BYTES or len(text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(f"a scenario file may hold at most {MAX_DOCUMENT_BYTES} bytes")


def loads(text: str, database_id: int) -> Scenario:
    """Parse YAML or JSON (JSON is valid YAML, but its errors read better as JSON)."""
    _check_size(text)
    try:
        if text.lstrip().startswith("{"):
            document = json.loads(text)
        else:
            document = yaml.load(text, Loader=_NoAliasLoader)
    except (json.JSONDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise InvalidInput(f"scenario file is not valid YAML/JSON: {exc}") from exc
    return from_document(document, database_id)


def load(path: Path, database_id: int) -> Scenario:
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        raise InvalidInput(f"a scenario file may hold at most {MAX_DOCUMENT_BYTES} bytes")
    return loads(path.read_text(encoding="utf-8"), database_id)
