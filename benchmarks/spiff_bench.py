"""The welcome scenario in SpiffWorkflow: one BPMN process instance per profile.

``welcome.bpmn`` is ``examples/welcome.yaml`` drawn in BPMN (element ids = node
ids): the trigger is the start event, each email / SMS / profile update / promo
code / API request is a script task calling a function the benchmark gives the
script engine, the pauses are BPMN timer events (P1D) and the two conditions are
exclusive gateways. The functions do the same work as the scenario's nodes where it
is the engine's own work: render the same Jinja2 templates with Scenaria's
renderer, queue an outbox message, take a promo code from a pool, add loyalty
points, read the profile's current email subscription. What Spiff does not do
that Scenaria does: a visit row per node, statistics counters, waiting for the API
request's answer (the call centre's request is only queued).

Two modes, same profiles, same clock handling (Spiff's timers read a patched
``datetime.now`` that returns the fake time):
  * ``memory``: every workflow object lives in a Python dict; nothing persisted
    (the figure the issue quotes, 4,000-6,000 transitions/s);
  * ``sqlite``: what a user would build around Spiff to run it as a service:
    each waiting instance's serialized state (Spiff's ``BpmnWorkflowSerializer``,
    JSON) stored in an SQLite table with its next timer, claimed in batches of 1,000
    due instances by the same ``ORDER BY due LIMIT`` query, deserialized, advanced,
    serialized, and written back in one transaction per batch together with the
    batch's outbox rows, promo codes and profile changes.
A transition is a completed Spiff task whose element is one of the scenario's
nodes (start, end events and Spiff's internal tasks are not counted), so the count
per profile equals Scenaria's: 8.8 on average.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import CONFIRMED_EVERY, HERE, START
from scenaria.model import scenario_file
from scenaria.model.templating import render

BPMN = HERE / "welcome.bpmn"
WELCOME_YAML = HERE.parent / "examples" / "welcome.yaml"
BATCH = 1000
TICK = 0.001
"""Spiff fires a timer once its time is strictly past."""


class _Now:
    value = datetime.fromtimestamp(START, UTC)


def _patch_spiff_clock() -> None:
    """Spiff's timers call ``datetime.now(timezone.utc)``: make that the fake clock."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    class FakeDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return _Now.value

    timer.datetime = FakeDatetime  # type: ignore[misc]


def _set_now(ts: float) -> None:
    _Now.value = datetime.fromtimestamp(ts, UTC)


class Effects:
    """What the script tasks do: the same renders and records as the scenario's nodes."""

    def __init__(self, profiles: dict[int, dict[str, Any]], codes: list[str]) -> None:
        scenario = scenario_file.load(WELCOME_YAML, 1)
        self.settings = {n.id: n.settings for n in scenario.nodes}
        self.profiles = profiles
        self.codes = codes
        self.code_at = 0
        self.outbox: list[tuple[str, int, str, str, str]] = []
        self.taken: list[tuple[int, int]] = []
        self.changed: set[int] = set()
        self.instance = 0
        self.sent = 0

    def _queue(self, node: str, profile_id: int, channel: str, payload: dict[str, Any]) -> None:
        self.sent += 1
        key = f"{self.instance}:{node}:{self.sent}"
        self.outbox.append((key, profile_id, node, channel, json.dumps(payload)))

    def send_email(self, node: str, profile_id: int, code: str | None) -> None:
        s = self.settings[node]
        profile = self.profiles[profile_id]["fields"]
        variables = {"profile": profile, "promo_code": code}
        self._queue(
            node,
            profile_id,
            "email",
            {
                "to": profile["email"],
                "subject": render(s["subject"], variables),
                "html": render(s["html"], variables, html=True),
                "text": render(s["text"], variables),
            },
        )

    def send_sms(self, node: str, profile_id: int) -> int:
        profile = self.profiles[profile_id]["fields"]
        text = render(self.settings[node]["text"], {"profile": profile})
        self._queue(node, profile_id, "sms", {"to": profile["phone"], "text": text})
        return 1

    def call_centre(self, profile_id: int) -> None:
        s = self.settings["call_centre"]
        profile = self.profiles[profile_id]["fields"]
        body = render(s["body"], {"profile": profile})
        payload = {"method": s["method"], "url": s["url"], "headers": s["headers"], "body": body}
        self._queue("call_centre", profile_id, "api_request", payload)

    def take_code(self, pool: str, profile_id: int) -> str:
        code = self.codes[self.code_at]
        self.code_at += 1
        self.taken.append((self.code_at, profile_id))
        return code

    def add_points(self, profile_id: int, points: int) -> None:
        fields = self.profiles[profile_id]["fields"]
        fields["loyalty_points"] = (fields.get("loyalty_points") or 0) + points
        self.changed.add(profile_id)

    def confirmed(self, profile_id: int) -> bool:
        return bool(self.profiles[profile_id]["subscriptions"]["email"] == "subscribed")

    def functions(self) -> dict[str, Any]:
        return {
            "send_email": self.send_email,
            "send_sms": self.send_sms,
            "call_centre": self.call_centre,
            "take_code": self.take_code,
            "add_points": self.add_points,
            "confirmed": self.confirmed,
        }

    def reset_batch(self) -> None:
        self.outbox, self.taken, self.changed = [], [], set()


def _profile(i: int) -> dict[str, Any]:
    confirmed, every = CONFIRMED_EVERY
    return {
        "fields": {"email": f"c{i}@example.com", "phone": f"+1555{i:07d}", "first_name": f"C{i}"},
        "subscriptions": {
            "email": "subscribed" if i % every < confirmed else "unconfirmed",
            "sms": "subscribed",
        },
    }


class SpiffWelcome:
    def __init__(self, profiles: int) -> None:
        from SpiffWorkflow.bpmn.parser import BpmnParser
        from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer

        _patch_spiff_clock()
        _set_now(START)
        parser = BpmnParser()
        parser.add_bpmn_file(str(BPMN))
        self.spec = parser.get_spec("welcome")
        self.nodes = {n.id for n in scenario_file.load(WELCOME_YAML, 1).nodes}
        self.count = profiles
        self.profiles = {i + 1: _profile(i) for i in range(profiles)}
        self.fx = Effects(self.profiles, [f"P{i:08d}" for i in range(profiles)])
        self.engine = PythonScriptEngine(environment=TaskDataEnvironment(self.fx.functions()))
        self.serializer = BpmnWorkflowSerializer()
        self.transitions = 0

    def _counted(self, task: Any) -> None:
        if task.task_spec.bpmn_id in self.nodes:
            self.transitions += 1

    def new_instance(self, profile_id: int) -> Any:
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

        wf = BpmnWorkflow(self.spec, script_engine=self.engine)
        wf.task_tree.data.update(profile_id=profile_id, sms_count=0)
        for task in wf.get_tasks():
            task.data.update(profile_id=profile_id, sms_count=0)
        return wf

    def advance(self, instance: int, wf: Any) -> float | None:
        """Run the instance until it waits or ends; its next timer (epoch) or None."""
        self.fx.instance = instance
        wf.refresh_timers()
        wf.do_engine_steps(did_complete_task=self._counted)
        if wf.is_completed():
            return None
        waits = [e.value for e in wf.waiting_events() if e.value]
        return min(datetime.fromisoformat(v).timestamp() for v in waits)

    # ------------------------------------------------------------------ memory

    def run_memory(self) -> dict[str, float]:
        """All instances in a dict; the clock jumps to each next timer."""
        instances = {i: self.new_instance(i) for i in self.profiles}
        due: dict[int, float] = dict.fromkeys(instances, START)
        now = START
        started = time.perf_counter()
        while due:
            _set_now(now)
            ready = [i for i, at in due.items() if at <= now]
            for i in ready:
                at = self.advance(i, instances[i])
                self.fx.reset_batch()
                if at is None:
                    del due[i]
                else:
                    due[i] = at
            if due:
                now = max(now, min(due.values()) + TICK)
        elapsed = time.perf_counter() - started
        return {"transitions": self.transitions, "seconds": elapsed}

    # ------------------------------------------------------------------ sqlite

    def run_sqlite(self, path: Path) -> dict[str, float]:
        """Serialized states in SQLite, claimed and written back per batch."""
        db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-262144"):
            db.execute(f"PRAGMA {pragma}")
        db.executescript(
            """
            CREATE TABLE profiles (id INTEGER PRIMARY KEY, fields TEXT, subscriptions TEXT);
            CREATE TABLE instances (id INTEGER PRIMARY KEY, profile_id INTEGER NOT NULL,
                                    due_at REAL, state TEXT NOT NULL);
            CREATE INDEX ix_instances_due ON instances (due_at) WHERE due_at IS NOT NULL;
            CREATE TABLE outbox (key TEXT PRIMARY KEY, profile_id INTEGER, node TEXT,
                                 channel TEXT, payload TEXT);
            CREATE TABLE promo_codes (id INTEGER PRIMARY KEY, code TEXT, profile_id INTEGER);
            """
        )
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO profiles VALUES (?, ?, ?)",
            [
                (i, json.dumps(p["fields"]), json.dumps(p["subscriptions"]))
                for i, p in self.profiles.items()
            ],
        )
        db.executemany(
            "INSERT INTO promo_codes (id, code) VALUES (?, ?)",
            [(n + 1, c) for n, c in enumerate(self.fx.codes)],
        )
        # The "import": a new instance per profile, stored, due at once.
        db.executemany(
            "INSERT INTO instances VALUES (?, ?, ?, ?)",
            [
                (i, i, START, self.serializer.serialize_json(self.new_instance(i)))
                for i in self.profiles
            ],
        )
        db.execute("COMMIT")
        now = START
        started = time.perf_counter()
        while True:
            _set_now(now)
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT id, profile_id, state FROM instances WHERE due_at <= ? "
                "ORDER BY due_at LIMIT ?",
                (now, BATCH),
            ).fetchall()
            if not rows:
                db.execute("COMMIT")
                nxt = db.execute("SELECT min(due_at) FROM instances").fetchone()[0]
                if nxt is None:
                    break
                now = max(now, nxt + TICK)
                continue
            ids = sorted({r[1] for r in rows})
            marks = ",".join("?" * len(ids))
            self.fx.profiles = {
                pid: {"fields": json.loads(f), "subscriptions": json.loads(s)}
                for pid, f, s in db.execute(
                    f"SELECT id, fields, subscriptions FROM profiles WHERE id IN ({marks})", ids
                )
            }
            self.fx.reset_batch()
            updates = []
            for instance, _, state in rows:
                wf = self.serializer.deserialize_json(state)
                wf.script_engine = self.engine
                at = self.advance(instance, wf)
                updates.append((at, self.serializer.serialize_json(wf), instance))
            db.executemany("UPDATE instances SET due_at=?, state=? WHERE id=?", updates)
            db.executemany("INSERT INTO outbox VALUES (?, ?, ?, ?, ?)", self.fx.outbox)
            db.executemany(
                "UPDATE promo_codes SET profile_id=? WHERE id=?", [(p, c) for c, p in self.fx.taken]
            )
            db.executemany(
                "UPDATE profiles SET fields=? WHERE id=?",
                [(json.dumps(self.fx.profiles[p]["fields"]), p) for p in self.fx.changed],
            )
            db.execute("COMMIT")
        elapsed = time.perf_counter() - started
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        state_bytes = db.execute("SELECT sum(length(state)) FROM instances").fetchone()[0]
        db.close()
        return {
            "transitions": self.transitions,
            "seconds": elapsed,
            "db_bytes_per_instance": path.stat().st_size / self.count,
            "state_bytes_per_instance": state_bytes / self.count,
        }


def run(profiles: int, mode: str, path: Path | None = None) -> dict[str, float]:
    bench = SpiffWelcome(profiles)
    if mode == "memory":
        out = bench.run_memory()
    else:
        assert path is not None
        out = bench.run_sqlite(path)
    out["transitions_per_s"] = out["transitions"] / out["seconds"]
    out["profiles"] = profiles
    return out


if __name__ == "__main__":
    import sys
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print("memory", run(n, "memory"))
    with tempfile.TemporaryDirectory() as tmp:
        print("sqlite", run(n, "sqlite", Path(tmp) / "spiff.db"))
