import io
import re

import pytest
from rich.console import Console

from scenaria import cli
from scenaria.clock import DAY, FakeClock
from scenaria.demo.run import run_demo
from scenaria.services.app import App
from tests.conftest import HttpSink, import_people, person, welcome_scenario


def test_welcome_runs_to_the_call_centre(
    app: App, db, clock: FakeClock, http_sink: HttpSink
) -> None:
    app.profiles.add_promo_codes("welcome", ["A1", "A2"])
    saved = app.scenarios.save(welcome_scenario(db.id, http_sink.url))
    assert saved.problems == []
    app.scenarios.activate(saved.scenario.id)
    import_people(app, db.id, [person(1)])
    app.run_until_idle(clock)
    assert len(http_sink.requests) == 1
    assert http_sink.json_bodies()[0]["phone"] == "+15550000001"
    assert clock.now() >= FakeClock().now() + 2 * DAY


def test_demo_table_reads_at_80_columns(
    app: App, clock: FakeClock, http_sink: HttpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_demo(app, clock, 20, 0.4, 1, http_sink.url)
    result.call_requests = len(http_sink.requests)
    screen = Console(width=80, file=io.StringIO(), record=True, color_system=None)
    monkeypatch.setattr(cli, "console", screen)
    cli._print_demo(result)
    text = screen.export_text()
    lines = [re.sub("[│┃]", " ", line) for line in text.splitlines()]
    assert max(len(line) for line in lines) <= 80
    for node in result.stats["nodes"]:
        name = node["name"] or node["id"]
        # One row per node, its kind whole on it, its name starting it.
        rows = [line for line in lines if re.search(rf"(^|\s){node['kind']}(\s|$)", line)]
        assert any(row.lstrip().startswith(name[:10]) for row in rows), (node, text)
        mine = [row for row in rows if row.lstrip().startswith(name[:10])]
        assert len(mine) == 1
        assert mine[0].split()[-4:] == [
            str(node[k]) for k in ("entered", "exited", "inside", "errors")
        ]
    body = " ".join(text.split())
    assert "`default` is the capture element every scenario has" in body
    assert "Counts are visits, not profiles" in body
