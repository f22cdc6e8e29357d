"""The scenario editor in headless Chromium: a 60-node scenario with a million profiles
inside against a 5-node baseline.

The counts above the elements come from the API's counters, so a million profiles
cost the browser no more than ten: what is measured is rendering. For each scenario:

  * first full render: navigation start until every element shows its counts (the
    in-page clock, so Playwright's own overhead is not counted);
  * select an element: click until its settings panel is painted;
  * pan: dragging the canvas, the frames painted and the longest frame;
  * poll refresh: one statistics poll (two API reads) until painted, and the part
    after the answers arrived (applying the counts and re-rendering what changed),
    both for a poll where nothing changed and one where one element's counts changed.

    .venv/bin/python benchmarks/ui.py [--runs 5]

The server runs in this process over a fake clock (as in the e2e tests), with the
worker thread on, SQLite in a temporary directory.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenaria.clock import day_of

# The server, Chromium's flags and the big scenario are the browser tests' own.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.live import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    serve_live,
    sixty_node_graph,
    write_counters,
)

INSIDE = 1_000_000


def five_nodes() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes: list[dict[str, Any]] = [
        {"id": "default", "kind": "default_capture"},
        {"id": "start", "kind": "trigger_any_import"},
        {"id": "l0s0", "kind": "pause", "settings": {"days": 1}},
        {"id": "mail", "kind": "email", "settings": {"subject": "Hi", "text": "Hello"}},
        {"id": "bye", "kind": "exit"},
    ]
    edges = [
        {"source": "start", "target": "l0s0"},
        {"source": "l0s0", "target": "mail"},
        {"source": "mail", "target": "bye"},
    ]
    return nodes, edges


def bump(server: LiveServer, scenario_id: int, node_id: str) -> None:
    day = day_of(server.clock.now())
    with server.app.store.transaction() as tx:
        tx.counters.add(Counter({(scenario_id, node_id, day, "entered"): 1}))


@dataclass
class Result:
    label: str
    nodes: int
    first_render_ms: list[float] = field(default_factory=list)
    select_ms: list[float] = field(default_factory=list)
    pan_frames: int = 0
    pan_ms: float = 0.0
    pan_longest_frame_ms: float = 0.0
    poll_idle_ms: list[float] = field(default_factory=list)
    apply_idle_ms: list[float] = field(default_factory=list)
    poll_changed_ms: list[float] = field(default_factory=list)
    apply_changed_ms: list[float] = field(default_factory=list)
    rerendered_nodes: int = 0
    rerendered_counts: int = 0


COUNTS_PAINTED = """
n => document.querySelectorAll("[data-testid^='counts-']").length === n
  && new Promise(r => requestAnimationFrame(() => r(performance.now())))
"""

SELECT = """
async (id) => {
  const node = document.querySelector(`[data-testid="node-${id}"]`);
  const t0 = performance.now();
  node.click();
  await new Promise(resolve => {
    const check = () => {
      const shown = document.querySelector("[data-testid=inspector] code");
      if (shown && shown.textContent === id) resolve();
      else requestAnimationFrame(check);
    };
    check();
  });
  await new Promise(r => requestAnimationFrame(() => r()));
  return performance.now() - t0;
}
"""

FRAMES_START = """
() => {
  window.__frames = [];
  const tick = (t) => {
    window.__frames.push(t);
    if (window.__recording) requestAnimationFrame(tick);
  };
  window.__recording = true;
  requestAnimationFrame(tick);
}
"""

FRAMES_STOP = """
() => { window.__recording = false; return window.__frames; }
"""

RENDERS = "() => ({...window.scenariaEditorRenders})"

POLLS = """
() => {
  const take = (name) =>
    performance.getEntriesByName(name).map(m => [m.duration, m.detail.changed]);
  const out = {poll: take("scenaria:poll"), apply: take("scenaria:poll-apply")};
  performance.clearMeasures();
  return out;
}
"""


def measure(
    browser: Any, server: LiveServer, scenario_id: int, label: str, node_ids: list[str], runs: int
) -> Result:
    result = Result(label, len(node_ids))
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(f"localStorage.setItem('scenaria.token', {server.token!r});")
    context.set_default_timeout(60_000)
    url = f"{server.url}/#/scenarios/{scenario_id}"
    for _ in range(runs):
        page = context.new_page()
        page.goto(url)
        painted = page.wait_for_function(COUNTS_PAINTED, arg=len(node_ids), polling="raf")
        result.first_render_ms.append(float(painted.json_value()))
        page.close()

    page = context.new_page()
    page.goto(url)
    page.wait_for_function(COUNTS_PAINTED, arg=len(node_ids), polling="raf")
    for node_id in node_ids[1 : 1 + runs]:
        result.select_ms.append(float(page.evaluate(SELECT, node_id)))
    page.get_by_role("button", name="Close the settings").click()

    box = page.get_by_test_id("canvas").bounding_box()
    assert box is not None
    x, y = box["x"] + 12, box["y"] + 12
    page.evaluate(FRAMES_START)
    started = time.perf_counter()
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 41):
        page.mouse.move(x + step * 10, y + step * 5)
    page.mouse.up()
    result.pan_ms = (time.perf_counter() - started) * 1000
    frames = page.evaluate(FRAMES_STOP)
    gaps = [b - a for a, b in itertools.pairwise(frames)]
    result.pan_frames = len(frames)
    result.pan_longest_frame_ms = max(gaps) if gaps else 0.0

    page.evaluate(POLLS)
    page.wait_for_timeout(2000 * runs + 500)  # polls where nothing changes
    idle = page.evaluate(POLLS)
    result.poll_idle_ms = [d for d, changed in idle["poll"] if changed == 0]
    result.apply_idle_ms = [d for d, changed in idle["apply"] if changed == 0]
    before = page.evaluate(RENDERS)
    for _ in range(runs):
        bump(server, scenario_id, node_ids[2])
        page.wait_for_timeout(2100)
        polled = page.evaluate(POLLS)
        result.poll_changed_ms += [d for d, changed in polled["poll"] if changed > 0]
        result.apply_changed_ms += [d for d, changed in polled["apply"] if changed > 0]
    after = page.evaluate(RENDERS)
    result.rerendered_nodes = (after["nodes"] - before["nodes"]) // runs
    result.rerendered_counts = (after["counts"] - before["counts"]) // runs
    context.close()
    return result


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each measure")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, serve_live(Path(tmp)) as server:
        with server.client(timeout=60) as client:
            db = client.post(
                "/databases", json={"name": "Bench", "fields": {"loyalty_points": "int"}}
            ).json()["id"]
            made = {}
            for label, (nodes, edges), inside in (
                ("5 nodes, 10 inside", five_nodes(), 10),
                (f"60 nodes, {INSIDE:,} inside", sixty_node_graph(), INSIDE),
            ):
                answer = client.post(
                    "/scenarios",
                    json={
                        "database_id": db,
                        "name": label,
                        "reentry": "parallel",
                        "nodes": nodes,
                        "edges": edges,
                    },
                )
                answer.raise_for_status()
                sid = answer.json()["id"]
                ids = [n["id"] for n in nodes]
                write_counters(server, sid, ids, inside)
                assert client.get(f"/scenarios/{sid}/stats/realtime").json()["inside"] == inside
                made[label] = (sid, ids)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            results = [
                measure(browser, server, sid, label, ids, args.runs)
                for label, (sid, ids) in made.items()
            ]
            browser.close()

    print(f"Scenario editor in headless Chromium (1440x900), medians of {args.runs} runs, ms")
    header = f"{'':46}" + "".join(f"{r.label:>30}" for r in results)
    print(header)
    rows = [
        (
            "first full render (navigation -> all counts)",
            [median(r.first_render_ms) for r in results],
        ),
        ("select an element (click -> settings painted)", [median(r.select_ms) for r in results]),
        ("poll, nothing changed (2 API reads + apply)", [median(r.poll_idle_ms) for r in results]),
        ("  of which applying it, to the next frame", [median(r.apply_idle_ms) for r in results]),
        ("poll, one element's counts changed", [median(r.poll_changed_ms) for r in results]),
        (
            "  of which applying it, to the next frame",
            [median(r.apply_changed_ms) for r in results],
        ),
    ]
    for name, values in rows:
        print(f"{name:46}" + "".join(f"{v:>30}" for v in values))
    print(
        f"{'re-rendered per poll (elements / counts)':46}"
        + "".join(f"{f'{r.rerendered_nodes} / {r.rerendered_counts}':>30}" for r in results)
    )
    for r in results:
        print(
            f"pan ({r.label}): 40 mouse moves in {r.pan_ms:.0f} ms, {r.pan_frames} frames "
            f"painted, longest frame {r.pan_longest_frame_ms:.1f} ms"
        )


if __name__ == "__main__":
    main()
