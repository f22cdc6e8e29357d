"""The UI under test, shared by the browser tests and ``benchmarks/ui.py``: the real
server (API + UI + worker) in a thread over a fake clock, how Chromium is started,
and the 60-element scenario with a million profiles inside."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from scenaria.api.app import create_app
from scenaria.clock import FakeClock, day_of
from scenaria.services.app import App, Config
from scenaria.store.database import Store

CHROMIUM = os.environ.get("SCENARIA_CHROMIUM", "/usr/bin/chromium")
# Chromium must not reach out to Google's services: this machine's network is closed.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LiveServer:
    url: str
    app: App
    clock: FakeClock
    token: str

    def client(self, timeout: float = 30) -> httpx.Client:
        """An API client authenticated as the admin the browser signs in as."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_live(directory: Path) -> Iterator[LiveServer]:
    """``scenaria serve`` over a fresh SQLite database in ``directory`` and a fake clock,
    on a free port, with an admin token; stopped on exit."""
    clock = FakeClock()
    store = Store(f"sqlite:///{directory / 'scenaria.db'}")
    store.migrate()
    port = _free_port()
    app = App(
        Config(allowed_hosts=frozenset({"127.0.0.1"}), public_url=f"http://127.0.0.1:{port}"),
        clock=clock,
        store=store,
    )
    app.access.create_user("marketer", [], is_admin=True)
    token = app.access.issue_token("marketer").token
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(app, run_worker=True),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app, clock, token)
    finally:
        server.should_exit = True
        thread.join(20)
        app.close()


def sixty_node_graph() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A trigger, nine conditions each branching off a lane of elements, and the
    default capture: 60 nodes, none with a stored position (the editor lays them out)."""
    nodes: list[dict[str, Any]] = [
        {"id": "default", "kind": "default_capture"},
        {"id": "start", "kind": "trigger_any_import", "name": "New customer"},
    ]
    edges: list[dict[str, Any]] = []
    previous, port = "start", "next"
    lanes = []
    for i in range(1, 10):
        cid = f"c{i}"
        rule = {"type": "field", "field": "loyalty_points", "op": "gt", "value": i * 10}
        nodes.append({"id": cid, "kind": "condition", "settings": {"rules": [rule]}})
        edges.append({"source": previous, "port": port, "target": cid})
        lanes.append((cid, "yes"))
        previous, port = cid, "no"
    lanes.append((previous, port))
    for lane, (source, out) in enumerate(lanes):
        steps = [
            ("pause", {"days": 1}),
            ("email", {"subject": f"Offer {lane}", "text": "Hello"}),
            ("pause", {"hours": 6}),
            ("sms", {"text": "Reminder"}),
            ("exit", {}),
        ][: 5 if lane < 9 else 4]
        for step, (kind, settings) in enumerate(steps):
            nid = f"l{lane}s{step}"
            nodes.append(
                {"id": nid, "kind": kind, "name": f"{kind} {lane}.{step}", "settings": settings}
            )
            edges.append({"source": source, "port": out, "target": nid})
            source, out = nid, "next"
    assert len(nodes) == 60
    return nodes, edges


def write_counters(
    live: LiveServer, scenario_id: int, node_ids: list[str], inside: int = 1_000_000
) -> None:
    """Counters as ``inside`` profiles waiting in the lanes' first pauses would leave
    them, without running them."""
    day = day_of(live.clock.now())
    waiting = [n for n in node_ids if n.endswith("s0")]  # the first pause of each lane
    counters: Counter[tuple[int, str, int, str]] = Counter()
    counters[(scenario_id, "", day, "entered")] = inside
    for i, node_id in enumerate(node_ids):
        counters[(scenario_id, node_id, day, "entered")] = inside + i
        here = inside // len(waiting) if node_id in waiting else 0
        counters[(scenario_id, node_id, day, "exited")] = inside + i - here
    with live.app.store.transaction() as tx:
        tx.counters.add(counters)
