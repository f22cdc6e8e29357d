"""The ``scenaria`` command as a newcomer runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from scenaria.cli import app
from tests.conftest import WELCOME

runner = CliRunner()


def test_demo_json_reports_every_node_and_adds_up() -> None:
    result = runner.invoke(app, ["demo", "--profiles", "120", "--seed", "7", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["profiles"] == 120
    tasks = report["tasks"]
    assert tasks["entered"] == 120
    assert tasks["finished"] == 120 and tasks["inside"] == 0 and tasks["errors"] == 0
    nodes = {n["id"]: n for n in report["nodes"]}
    assert {"id", "kind", "entered", "exited", "inside", "errors"} <= set(nodes["confirmed"])
    assert all(n["entered"] == n["exited"] + n["inside"] for n in report["nodes"])
    # Those who confirmed got points and a promo code; the others went to the call centre.
    assert nodes["promo_email"]["entered"] == report["confirmed"]
    assert nodes["call_centre"]["entered"] == 120 - report["confirmed"]
    assert report["call_requests"] == nodes["call_centre"]["entered"]
    assert nodes["reminder_sms"]["entered"] >= nodes["call_centre"]["entered"]


def test_demo_prints_a_table() -> None:
    result = runner.invoke(app, ["demo", "--profiles", "30"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if " kind " in line)
    assert header.split() == ["node", "kind", "entered", "exited", "inside", "errors"]
    assert "Welcome email" in result.stdout


def test_validate_accepts_the_welcome_example() -> None:
    result = runner.invoke(
        app,
        [
            "scenario",
            "validate",
            str(WELCOME),
            "-f",
            "first_name:string",
            "-f",
            "loyalty_points:int",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout


def test_validate_names_the_node_and_exits_non_zero(tmp_path: Path) -> None:
    document = yaml.safe_load(WELCOME.read_text())
    document["edges"] = [e for e in document["edges"] if e.get("port") != "no"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(document))
    result = runner.invoke(
        app,
        [
            "scenario",
            "validate",
            str(broken),
            "-f",
            "first_name:string",
            "-f",
            "loyalty_points:int",
        ],
    )
    assert result.exit_code == 1
    assert "node 'confirmed'" in result.stderr and "'no' branch" in result.stderr


def test_validate_reports_an_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [unclosed")
    result = runner.invoke(app, ["scenario", "validate", str(bad)])
    assert result.exit_code == 2
    assert "not valid YAML" in result.stderr


# --------------------------------------------------------------------------- the secret

NO_SECRET = {"SCENARIA_SECRET": None}
SCENARIA = str(Path(sys.executable).parent / "scenaria")


def run_without_secret(*args: str) -> subprocess.CompletedProcess[str]:
    """The command as a process (one that wrongly starts would run until the timeout)."""
    env = {k: v for k, v in os.environ.items() if k != "SCENARIA_SECRET"}
    env["SCENARIA_SECRET"] = ""  # set but empty counts as missing
    return subprocess.run(
        [SCENARIA, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_worker_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    db = tmp_path / "scenaria.db"
    result = run_without_secret("worker", "--database", f"sqlite:///{db}")
    assert result.returncode == 2, result.stderr
    assert "`scenaria worker` refuses to start: SCENARIA_SECRET is not set" in result.stderr
    assert "links signed by one process would not verify in another" in result.stderr
    assert "export SCENARIA_SECRET=" in result.stderr
    assert not db.exists()  # refused before touching anything


def test_serve_without_its_worker_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    db = tmp_path / "scenaria.db"
    result = run_without_secret("serve", "--no-worker", "--database", f"sqlite:///{db}")
    assert result.returncode == 2, result.stderr
    assert "`scenaria serve --no-worker` refuses to start" in result.stderr
    assert "would not verify in another" in result.stderr
    assert not db.exists()


def test_the_demo_warns_that_links_die_on_restart_without_a_secret() -> None:
    result = runner.invoke(app, ["demo", "--profiles", "3", "--json"], env=NO_SECRET)
    assert result.exit_code == 0, result.output
    assert "WARNING: SCENARIA_SECRET is not set" in result.stderr
    assert "stop working when this process restarts" in result.stderr
    assert json.loads(result.stdout)["profiles"] == 3

    secret = "s3cret-value-for-the-test"
    quiet = runner.invoke(
        app, ["demo", "--profiles", "3", "--json"], env={"SCENARIA_SECRET": secret}
    )
    assert quiet.exit_code == 0, quiet.output
    assert "SCENARIA_SECRET" not in quiet.stderr and secret not in quiet.output
