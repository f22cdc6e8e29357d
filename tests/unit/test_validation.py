"""Validation at save: each problem names the offending node and says what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from scenaria.cli import app as cli
from scenaria.clock import FakeClock
from scenaria.errors import ScenarioInvalid
from scenaria.model.problems import Problem
from scenaria.model.profiles import FieldType, ProfileDatabase
from scenaria.model.scenario import Scenario, ScenarioStatus
from scenaria.services.app import App, Config
from scenaria.store.database import Store
from tests.conftest import WELCOME, welcome_scenario

EMAIL = {"subject": "Hello", "text": "Hello {{ profile.email }}"}


def node(node_id: str, kind: str, **settings: Any) -> dict[str, Any]:
    return {"id": node_id, "kind": kind, "settings": settings}


def edge(source: str, target: str, port: str = "next") -> dict[str, str]:
    return {"source": source, "port": port, "target": target}


def build(database_id: int, nodes: list[dict[str, Any]], edges: list[dict[str, str]]) -> Scenario:
    """The default capture plus ``nodes``; the default capture leads to the first node."""
    first = nodes[0]["id"]
    return Scenario.model_validate(
        {
            "database_id": database_id,
            "name": "Under test",
            "nodes": nodes,
            "edges": [edge("default", first), *edges],
        }
    )


def found(problems: list[Problem]) -> list[tuple[str | None, str]]:
    return [(p.node_id, p.code) for p in problems]


def the_problem(problems: list[Problem], code: str) -> Problem:
    matching = [p for p in problems if p.code == code]
    assert len(matching) == 1, f"expected one {code!r} problem, got {problems}"
    return matching[0]


def test_a_minimal_scenario_has_no_problems(app: App, db: ProfileDatabase) -> None:
    # The baseline every other test changes in one place.
    assert app.scenarios.check(build(db.id, [node("mail", "email", **EMAIL)], [])) == []


def test_unconnected_start_element_blocks_saving(app: App, db: ProfileDatabase) -> None:
    scenario = build(
        db.id, [node("mail", "email", **EMAIL), node("signup", "trigger_form_import")], []
    )
    with pytest.raises(ScenarioInvalid) as raised:
        app.scenarios.save(scenario)
    assert found(raised.value.problems) == [("signup", "start_not_connected")]
    problem = raised.value.problems[0]
    assert problem.blocks_save
    assert "not connected" in problem.message
    assert "signup" in str(raised.value)
    assert app.scenarios.list_all() == []


def test_more_than_ten_triggers(app: App, db: ProfileDatabase) -> None:
    triggers = [node(f"t{i}", "trigger_api_import") for i in range(1, 12)]
    wiring = [edge(f"t{i}", "mail") for i in range(1, 12)]
    scenario = build(db.id, [node("mail", "email", **EMAIL), *triggers], wiring)

    problem = the_problem(app.scenarios.check(scenario), "too_many_triggers")
    assert "at most 10 triggers" in problem.message
    assert "11" in problem.message
    # The trigger beyond the limit is the one to remove.
    assert problem.node_id == "t11"


def test_ten_triggers_are_allowed(app: App, db: ProfileDatabase) -> None:
    triggers = [node(f"t{i}", "trigger_api_import") for i in range(1, 11)]
    wiring = [edge(f"t{i}", "mail") for i in range(1, 11)]
    scenario = build(db.id, [node("mail", "email", **EMAIL), *triggers], wiring)
    assert app.scenarios.check(scenario) == []


def test_unwired_condition_branch(app: App, db: ProfileDatabase) -> None:
    scenario = build(
        db.id,
        [node("subscribed", "condition", rules=[{"type": "subscription"}]), node("done", "exit")],
        [edge("subscribed", "done", "yes")],
    )
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("subscribed", "branch_not_wired")]
    assert "'no' branch is not connected" in problems[0].message


def test_cycle_without_a_waiting_node(app: App, db: ProfileDatabase) -> None:
    scenario = build(
        db.id,
        [
            node(
                "rich",
                "condition",
                rules=[{"type": "field", "field": "loyalty_points", "op": "lt", "value": 5}],
            ),
            node(
                "add",
                "update_profile",
                updates=[{"field": "loyalty_points", "op": "increment", "value": 1}],
            ),
            node("done", "exit"),
        ],
        [edge("rich", "add", "yes"), edge("add", "rich"), edge("rich", "done", "no")],
    )
    problems = app.scenarios.check(scenario)
    assert [p.code for p in problems] == ["cycle_without_wait"]
    problem = problems[0]
    assert problem.node_id in {"rich", "add"}
    assert "rich" in problem.message and "add" in problem.message
    assert "Pause" in problem.message


def test_cycle_through_a_pause_is_fine(app: App, db: ProfileDatabase) -> None:
    scenario = build(
        db.id,
        [
            node(
                "rich",
                "condition",
                rules=[{"type": "field", "field": "loyalty_points", "op": "lt", "value": 5}],
            ),
            node(
                "add",
                "update_profile",
                updates=[{"field": "loyalty_points", "op": "increment", "value": 1}],
            ),
            node("wait", "pause", days=1),
            node("done", "exit"),
        ],
        [
            edge("rich", "add", "yes"),
            edge("add", "wait"),
            edge("wait", "rich"),
            edge("rich", "done", "no"),
        ],
    )
    assert app.scenarios.check(scenario) == []


def test_unknown_field_in_a_condition(app: App, db: ProfileDatabase) -> None:
    scenario = build(
        db.id,
        [
            node(
                "vip", "condition", rules=[{"type": "field", "field": "nickname", "value": "Bob"}]
            ),
            node("done", "exit"),
        ],
        [edge("vip", "done", "yes"), edge("vip", "done", "no")],
    )
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("vip", "unknown_field")]
    assert "field 'nickname' does not exist" in problems[0].message


def test_unknown_field_in_update_profile(app: App, db: ProfileDatabase) -> None:
    scenario = build(
        db.id, [node("score", "update_profile", updates=[{"field": "karma", "value": 1}])], []
    )
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("score", "unknown_field")]
    assert "field 'karma' does not exist" in problems[0].message


def test_increment_on_a_non_numeric_field(app: App, db: ProfileDatabase) -> None:
    scenario = build(
        db.id,
        [
            node(
                "score",
                "update_profile",
                updates=[{"field": "first_name", "op": "increment", "value": 1}],
            )
        ],
        [],
    )
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("score", "bad_operator")]
    assert "cannot increment 'first_name'" in problems[0].message
    assert "not a number" in problems[0].message


def test_unknown_promo_pool(app: App, db: ProfileDatabase) -> None:
    app.profiles.add_promo_codes("welcome", ["A1"])
    scenario = build(db.id, [node("gift", "promo_code", pool="summer")], [])
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("gift", "unknown_pool")]
    assert "pool 'summer' does not exist" in problems[0].message


def test_unknown_node_kind(app: App, db: ProfileDatabase) -> None:
    scenario = build(db.id, [node("fax", "fax_machine")], [])
    problems = app.scenarios.check(scenario)
    problem = the_problem(problems, "unknown_kind")
    assert problem.node_id == "fax"
    assert "unknown node kind 'fax_machine'" in problem.message
    # The node is on the canvas: nothing may call it missing or the scenario unconnected.
    assert found(problems) == [("fax", "unknown_kind")]


def test_edge_to_a_missing_node(app: App, db: ProfileDatabase) -> None:
    scenario = build(db.id, [node("mail", "email", **EMAIL)], [edge("mail", "ghost")])
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("mail", "unknown_node")]
    assert "missing node 'ghost'" in problems[0].message


def test_unknown_port(app: App, db: ProfileDatabase) -> None:
    scenario = build(
        db.id, [node("mail", "email", **EMAIL), node("done", "exit")], [edge("mail", "done", "yes")]
    )
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("mail", "unknown_port")]
    assert "no 'yes' output" in problems[0].message
    assert "next, error" in problems[0].message


def test_edge_into_a_start_element(app: App, db: ProfileDatabase) -> None:
    scenario = build(
        db.id,
        [node("mail", "email", **EMAIL), node("signup", "trigger_form_import")],
        [edge("signup", "mail"), edge("mail", "signup")],
    )
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("signup", "edge_into_start")]
    assert "start element cannot be the target" in problems[0].message


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        ({"days": "abc"}, "days"),
        ({"days": 1, "weeks": 2}, "weeks"),
        ({}, "longer than zero"),
    ],
    ids=["not-a-number", "unknown-setting", "zero-length"],
)
def test_bad_settings(app: App, db: ProfileDatabase, settings: dict[str, Any], where: str) -> None:
    scenario = build(db.id, [node("wait", "pause", **settings)], [])
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("wait", "bad_settings")]
    assert where in problems[0].message


def test_template_syntax_error_in_an_email(app: App, db: ProfileDatabase) -> None:
    scenario = build(
        db.id, [node("mail", "email", subject="Hi {{ profile.first_name", text="Hello")], []
    )
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("mail", "template_syntax")]
    assert problems[0].message.startswith("subject: template syntax error")


def test_api_request_to_a_host_not_on_the_allow_list(app: App, db: ProfileDatabase) -> None:
    scenario = build(db.id, [node("crm", "api_request", url="https://crm.example.com/leads")], [])
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("crm", "host_not_allowed")]
    assert "host 'crm.example.com'" in problems[0].message


def test_host_allow_list_ignores_case(clock: FakeClock, store: Store) -> None:
    # Host names are case-insensitive; the delivering channel already treats them so.
    app = App(Config(allowed_hosts=frozenset({"CRM.example.com"})), clock=clock, store=store)
    database = app.profiles.create_database("Customers")
    scenario = build(
        database.id, [node("crm", "api_request", url="https://crm.example.com/leads")], []
    )
    assert app.scenarios.check(scenario) == []


def test_condition_referring_to_a_missing_node(app: App, db: ProfileDatabase) -> None:
    scenario = build(
        db.id,
        [
            node("opened", "condition", rules=[{"type": "message", "node": "ghost"}]),
            node("done", "exit"),
        ],
        [edge("opened", "done", "yes"), edge("opened", "done", "no")],
    )
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("opened", "unknown_node")]
    assert "missing node 'ghost'" in problems[0].message


def test_condition_on_a_node_that_sends_nothing(app: App, db: ProfileDatabase) -> None:
    scenario = build(
        db.id,
        [
            node("opened", "condition", rules=[{"type": "message", "node": "done"}]),
            node("done", "exit"),
        ],
        [edge("opened", "done", "yes"), edge("opened", "done", "no")],
    )
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("opened", "not_a_channel")]
    assert "sends no message" in problems[0].message


def test_problems_block_activation_until_fixed(app: App, db: ProfileDatabase) -> None:
    broken = build(db.id, [node("mail", "email", subject="Hi {{ oops", text="Hello")], [])
    saved = app.scenarios.save(broken)
    assert found(saved.problems) == [("mail", "template_syntax")]
    scenario_id = saved.scenario.id
    assert scenario_id is not None

    with pytest.raises(ScenarioInvalid) as raised:
        app.scenarios.activate(scenario_id)
    assert found(raised.value.problems) == [("mail", "template_syntax")]
    assert "node 'mail'" in str(raised.value)
    assert app.scenarios.get(scenario_id).status is ScenarioStatus.DRAFT

    fixed = app.scenarios.get(scenario_id)
    mail = next(i for i, n in enumerate(fixed.nodes) if n.id == "mail")
    fixed.nodes[mail] = fixed.nodes[mail].model_copy(update={"settings": EMAIL})
    assert app.scenarios.save(fixed).problems == []
    app.scenarios.activate(scenario_id)
    assert app.scenarios.get(scenario_id).status is ScenarioStatus.ACTIVE


def test_the_welcome_example_validates_clean(app: App, db: ProfileDatabase) -> None:
    app.profiles.add_promo_codes("welcome", ["W1"])
    assert app.scenarios.check(welcome_scenario(db.id)) == []


def test_the_welcome_example_needs_its_fields(app: App) -> None:
    # The same file against a database without loyalty points names the node that uses them.
    app.profiles.add_promo_codes("welcome", ["W1"])
    bare = app.profiles.create_database("Bare", {"first_name": FieldType.STRING})
    problems = app.scenarios.check(welcome_scenario(bare.id))
    assert found(problems) == [("loyalty_points", "unknown_field")]


@pytest.mark.parametrize(
    ("part", "source"),
    [
        ("subject", "{{ (9 ** (9 ** 9)) % 7 }}"),
        ("text", "Hello {{ 'x' * 300000000 }}"),
        ("html", "<p>{{ '%0999999999d' % 1 }}</p>"),
        (
            "text",
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        ),
    ],
)
def test_a_template_bomb_is_a_problem_of_its_node(
    app: App, db: ProfileDatabase, part: str, source: str
) -> None:
    settings = {**EMAIL, part: source}
    scenario = build(db.id, [node("mail", "email", **settings)], [])
    problems = app.scenarios.check(scenario)
    assert found(problems) == [("mail", "template_limit")]
    assert problems[0].message.startswith(f"{part}: template refused: ")


def test_the_cli_reports_a_template_bomb(tmp_path: Path) -> None:
    document = yaml.safe_load(WELCOME.read_text())
    mail = next(n for n in document["nodes"] if n["kind"] == "email")
    mail["settings"]["subject"] = "{{ (9 ** (9 ** 9)) % 7 }}"
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(yaml.safe_dump(document))
    fields = ["-f", "first_name:string", "-f", "loyalty_points:int"]
    result = CliRunner().invoke(cli, ["scenario", "validate", str(bomb), *fields])
    assert result.exit_code == 1
    assert f"node '{mail['id']}'" in result.stderr and "9 ** 387420489" in result.stderr


def test_the_cli_refuses_a_yaml_alias(tmp_path: Path) -> None:
    aliased = tmp_path / "aliased.yaml"
    aliased.write_text("name: &n Welcome\ndescription: *n\n")
    result = CliRunner().invoke(cli, ["scenario", "validate", str(aliased)])
    assert result.exit_code == 2
    assert "aliases (*name) are not allowed" in result.stderr
