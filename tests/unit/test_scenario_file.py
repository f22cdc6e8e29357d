"""Scenario files: YAML/JSON export and import, readable errors, the welcome example's shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from scenaria.errors import InvalidInput
from scenaria.model import scenario_file
from scenaria.model.profiles import ProfileDatabase
from scenaria.model.scenario import Node, ReentryMode, Scenario
from scenaria.services.app import App
from tests.conftest import WELCOME, welcome_scenario


def rich_scenario(database_id: int) -> Scenario:
    """A scenario using every part of the format, with values YAML likes to reinterpret."""
    return Scenario.model_validate(
        {
            "database_id": database_id,
            "name": "Réactivation — «VIP»",
            "description": "Line one\nline two: with a colon\n",
            "tags": ["vip", "yes", "2026"],
            "groups": ["marketing"],
            "reentry": "parallel",
            "nodes": [
                {"id": "default", "kind": "default_capture", "position": [0, 0]},
                {
                    "id": "signup",
                    "kind": "trigger_form_import",
                    "name": "Form",
                    "settings": {"on_update": True},
                    "position": [10.5, -3],
                },
                {
                    "id": "vip",
                    "kind": "condition",
                    "name": "VIP?",
                    "settings": {
                        "match": "any",
                        "rules": [
                            {"type": "field", "field": "tier", "op": "eq", "value": "on"},
                            {"type": "field", "field": "points", "op": "gte", "value": 1.5},
                            {"type": "subscription", "channel": "email", "status": "subscribed"},
                        ],
                    },
                },
                {
                    "id": "mail",
                    "kind": "email",
                    "settings": {
                        "subject": "Привет, {{ profile.first_name }}: null",
                        "html": "<p>{% if promo_code %}{{ promo_code }}{% endif %}</p>",
                        "text": "- not a list\n# not a comment",
                    },
                },
                {"id": "wait", "kind": "pause", "settings": {"days": 1, "hours": 0.5}},
                {"id": "bye", "kind": "exit"},
            ],
            "edges": [
                {"source": "default", "target": "vip"},
                {"source": "signup", "target": "vip"},
                {"source": "vip", "port": "yes", "target": "mail"},
                {"source": "vip", "port": "no", "target": "wait"},
                {"source": "mail", "port": "error", "target": "bye"},
                {"source": "wait", "target": "vip"},
            ],
        }
    )


def spec(scenario: Scenario) -> dict[str, Any]:
    return scenario.model_dump(
        include={"name", "description", "tags", "groups", "reentry", "nodes", "edges"}
    )


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip_keeps_the_scenario(fmt: str) -> None:
    original = rich_scenario(database_id=1)
    text = scenario_file.dumps(original, fmt)
    loaded = scenario_file.loads(text, database_id=7)
    assert spec(loaded) == spec(original)
    assert loaded.database_id == 7


def test_json_export_is_json_and_yaml_export_is_yaml() -> None:
    original = rich_scenario(database_id=1)
    as_json = json.loads(scenario_file.dumps(original, "json"))
    as_yaml = yaml.safe_load(scenario_file.dumps(original, "yaml"))
    assert as_json == as_yaml
    assert as_json["scenaria"] == 1
    # Only the spec travels: ids, status and the database belong to an installation.
    assert set(as_json) == {
        "scenaria",
        "name",
        "description",
        "tags",
        "groups",
        "reentry",
        "nodes",
        "edges",
    }


def test_exported_saved_scenario_imports_equal(app: App, db: ProfileDatabase) -> None:
    app.profiles.add_promo_codes("welcome", ["W1"])
    saved = app.scenarios.save(welcome_scenario(db.id))
    assert saved.scenario.id is not None
    for fmt in ("yaml", "json"):
        text = app.scenarios.export(saved.scenario.id, fmt)
        again = app.scenarios.save(scenario_file.loads(text, db.id))
        assert again.problems == []
        assert again.scenario.id != saved.scenario.id
        assert spec(app.scenarios.get(again.scenario.id or 0)) == spec(saved.scenario)


def test_welcome_file_round_trips() -> None:
    original = scenario_file.load(WELCOME, database_id=1)
    for fmt in ("yaml", "json"):
        assert spec(scenario_file.loads(scenario_file.dumps(original, fmt), 1)) == spec(original)


def welcome_text() -> str:
    return WELCOME.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("name: X\ncolour: red\n", "unknown key(s) in scenario file: colour", id="top"),
        pytest.param(
            "name: X\nnodes:\n  - {id: a, kind: exit, colour: red}\n",
            "nodes.0.colour",
            id="in-a-node",
        ),
        pytest.param(
            "name: X\nedges:\n  - {source: a, target: b, weight: 2}\n",
            "edges.0.weight",
            id="in-an-edge",
        ),
        pytest.param("name: X\non: true\n", "unknown key", id="yaml-1.1-boolean-key"),
        pytest.param("name: X\n2: two\n", "unknown key", id="numeric-key"),
    ],
)
def test_unknown_keys_are_refused_readably(text: str, expected: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        scenario_file.loads(text, 1)
    assert expected in str(raised.value)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("name: [unclosed\nnodes: []\n", id="yaml"),
        pytest.param('{"name": "X",}', id="json"),
        pytest.param("name: X\n\tnodes: []\n", id="tab-indent"),
    ],
)
def test_bad_syntax_is_refused_readably(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        scenario_file.loads(text, 1)
    assert "not valid YAML/JSON" in str(raised.value)


@pytest.mark.parametrize("version", [2, 0, "1"])
def test_wrong_version_is_refused(version: Any) -> None:
    text = welcome_text().replace("scenaria: 1", f"scenaria: {json.dumps(version)}")
    with pytest.raises(InvalidInput) as raised:
        scenario_file.loads(text, 1)
    assert "unsupported scenario file version" in str(raised.value)
    assert repr(version) in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("- name: X\n", "mapping at the top level", id="a-list"),
        pytest.param("", "mapping at the top level", id="empty"),
        pytest.param("description: no name\n", "name: Field required", id="no-name"),
        pytest.param("name: X\nreentry: sometimes\n", "reentry", id="bad-reentry"),
    ],
)
def test_invalid_documents_are_refused_readably(text: str, expected: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        scenario_file.loads(text, 1)
    assert expected in str(raised.value)
    assert "scenario file" in str(raised.value)


class Graph:
    def __init__(self, scenario: Scenario) -> None:
        self.nodes = {n.id: n for n in scenario.nodes}
        self.edges = {(e.source, e.port): e.target for e in scenario.edges}

    def after(self, node: Node, port: str = "next") -> Node:
        target = self.edges.get((node.id, port))
        assert target is not None, f"{node.id} has no '{port}' edge"
        return self.nodes[target]

    def outputs(self, node: Node) -> set[str]:
        return {port for source, port in self.edges if source == node.id}


def test_welcome_example_has_the_guides_shape() -> None:
    scenario = scenario_file.load(WELCOME, database_id=1)
    graph = Graph(scenario)
    assert scenario.reentry is ReentryMode.ONCE_EVER

    triggers = [n for n in scenario.nodes if n.kind.startswith("trigger_")]
    assert [t.kind for t in triggers] == ["trigger_any_import"]
    trigger = triggers[0]

    welcome = graph.after(trigger)
    assert welcome.kind == "email"
    read_time = graph.after(welcome)
    assert read_time.kind == "pause"
    assert read_time.settings == {"days": 1}
    confirmed = graph.after(read_time)
    assert confirmed.kind == "condition"
    assert confirmed.settings["rules"] == [
        {"type": "subscription", "channel": "email", "status": "subscribed"}
    ]

    # yes: +100 loyalty points, a promo code, and an email carrying it.
    points = graph.after(confirmed, "yes")
    assert points.kind == "update_profile"
    assert points.settings["updates"] == [
        {"field": "loyalty_points", "op": "increment", "value": 100}
    ]
    promo = graph.after(points)
    assert promo.kind == "promo_code"
    promo_email = graph.after(promo)
    assert promo_email.kind == "email"
    assert "promo_code" in promo_email.settings["text"]
    assert graph.outputs(promo_email) == set()

    # no: has an SMS been sent? no → SMS → pause → back to the first condition.
    sms_sent = graph.after(confirmed, "no")
    assert sms_sent.kind == "condition"
    assert sms_sent.settings["rules"] == [{"type": "sent", "channel": "sms", "at_least": 1}]
    reminder = graph.after(sms_sent, "no")
    assert reminder.kind == "sms"
    sms_wait = graph.after(reminder)
    assert sms_wait.kind == "pause"
    assert graph.after(sms_wait) is confirmed

    # yes (already reminded): ask the call centre through an API request.
    call_centre = graph.after(sms_sent, "yes")
    assert call_centre.kind == "api_request"
    assert call_centre.settings["method"] == "POST"
    assert graph.outputs(call_centre) == set()


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level is nine of the one before, 9**9 leaves in all."""
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "name: Bomb\ndescription: x\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(alias_bomb(), id="nested-aliases"),
        pytest.param("name: &n Welcome\ndescription: *n\n", id="one-harmless-alias"),
        pytest.param("name: X\ntags: &t [a]\nnodes: []\nedges: []\ngroups: *t\n", id="a-list"),
    ],
)
def test_yaml_aliases_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        scenario_file.loads(text, 1)
    assert "aliases (*name) are not allowed" in str(raised.value)
    assert "line " in str(raised.value)


def test_anchors_without_aliases_still_load() -> None:
    scenario = scenario_file.loads("name: &n Welcome\n", 1)
    assert scenario.name == "Welcome"


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_document_over_the_size_limit_is_refused(fmt: str) -> None:
    filler = "x" * scenario_file.MAX_DOCUMENT_BYTES
    text = json.dumps({"name": "X", "description": filler}) if fmt == "json" else (
        f"name: X\ndescription: {filler}\n"
    )  # fmt: skip
    with pytest.raises(InvalidInput) as raised:
        scenario_file.loads(text, 1)
    assert f"at most {scenario_file.MAX_DOCUMENT_BYTES} bytes" in str(raised.value)


def test_the_size_limit_counts_bytes_not_characters() -> None:
    text = "name: X\ndescription: " + "é" * (scenario_file.MAX_DOCUMENT_BYTES // 2) + "\n"
    with pytest.raises(InvalidInput, match="at most"):
        scenario_file.loads(text, 1)
