"""Property-based tests: engine invariants over random scenarios and random event orders.

A state machine builds a random valid scenario (every node kind but the API
request's real HTTP: a fake channel answers instead), then applies a random
sequence of imports, engagements, subscription changes, clock jumps with
``run_pending``, stops, activations and removals. After every operation it
checks that the task table, the visit records, the statistics counters, the
outbox and the promo-code pool all tell the same story.

Save-and-restore properties follow: a task's data, its API content and the
answers of outside services come back from the store unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import (
    HealthCheck,
    Phase,
    currently_in_test_context,
    event,
    example,
    given,
    settings,
)
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
from sqlalchemy import select

from scenaria.clock import FakeClock
from scenaria.engine.delivery import DeliveryResult, OutboundMessage
from scenaria.engine.effects import SCENARIO
from scenaria.errors import (
    Conflict,
    InvalidInput,
    PermanentDeliveryError,
    RetryableDeliveryError,
    ScenarioNotActive,
)
from scenaria.model.nodes import KINDS
from scenaria.model.nodes.base import ValidationContext
from scenaria.model.profiles import Channel, FieldType, ImportSource, SubscriptionStatus
from scenaria.model.scenario import DEFAULT_CAPTURE_ID, ReentryMode, Scenario, ScenarioStatus
from scenaria.model.task import ENDED_STATES, LIVE_STATES, EndReason, Task, TaskState
from scenaria.model.validation import validate
from scenaria.services.app import App, Config
from scenaria.services.profiles import ProfileImport
from scenaria.store.database import Store
from scenaria.store.schema import outbox, visits

FIELDS = {"first_name": FieldType.STRING, "loyalty_points": FieldType.INT, "vip": FieldType.BOOL}
POOL = "welcome"
API_URL = "http://127.0.0.1:8765/call-requests"
ALLOWED_HOSTS = frozenset({"127.0.0.1"})
END_PORTS = {r.value for r in EndReason}

# ---------------------------------------------------------------------------
# Random scenarios
# ---------------------------------------------------------------------------

BODY_KINDS = (
    "email",
    "sms",
    "pause",
    "pause",
    "condition",
    "update_profile",
    "promo_code",
    "promo_code",
    "exit",
    "api_request",
    "api_request",
)
"""Node kinds of a scenario's body; the stateful ones (waits, a shared pool) twice as often."""
TRIGGER_KINDS = (
    "trigger_any_import",
    "trigger_manual_import",
    "trigger_api_import",
    "trigger_form_import",
    "trigger_popup_import",
)
TEMPLATES = (
    "Hello {{ profile.first_name or 'friend' }}",
    "Your code: {{ promo_code }}",
    "Coupon {{ api_content.coupon }}",  # fails (error port) without api_content.coupon
    "{{ scenario.name }} says hi",
    "Plain text",
)
PAUSES = (
    {"seconds": 30},
    {"minutes": 10},
    {"hours": 1},
    {"days": 1},
    {"hours": 2, "minutes": 30},
)


def field_rules() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(
            lambda v: {"type": "field", "field": "first_name", "op": "contains", "value": v},
            st.sampled_from(["1", "2", "User"]),
        ),
        st.sampled_from(
            [
                {"type": "field", "field": "first_name", "op": "is_set"},
                {"type": "field", "field": "loyalty_points", "op": "is_not_set"},
                {"type": "field", "field": "email", "op": "contains", "value": "user1"},
            ]
        ),
        st.builds(
            lambda op, v: {"type": "field", "field": "loyalty_points", "op": op, "value": v},
            st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
            st.integers(0, 200),
        ),
        st.builds(
            lambda v: {"type": "field", "field": "vip", "op": "eq", "value": v}, st.booleans()
        ),
    )


def rules_for(channel_nodes: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    options = [
        field_rules(),
        st.builds(
            lambda c, s: {"type": "subscription", "channel": c, "status": s},
            st.sampled_from(["email", "sms"]),
            st.sampled_from(["subscribed", "unconfirmed", "unsubscribed"]),
        ),
        st.builds(
            lambda c, n: {"type": "sent", "channel": c, "at_least": n},
            st.sampled_from(["email", "sms"]),
            st.integers(1, 2),
        ),
    ]
    if channel_nodes:
        options.append(
            st.builds(
                lambda n, e: {"type": "message", "node": n, "event": e},
                st.sampled_from(channel_nodes),
                st.sampled_from(["opened", "clicked", "delivered"]),
            )
        )
    return st.one_of(options)


UPDATES = st.one_of(
    st.builds(
        lambda op, v: {"field": "loyalty_points", "op": op, "value": v},
        st.sampled_from(["increment", "decrement", "set"]),
        st.integers(1, 100),
    ),
    st.builds(lambda v: {"field": "vip", "op": "set", "value": v}, st.booleans()),
    st.sampled_from(
        [
            {"field": "first_name", "op": "set", "value": "Changed"},
            {"field": "first_name", "op": "clear"},
            {"field": "loyalty_points", "op": "clear"},
        ]
    ),
)


def settings_for(kind: str, channel_nodes: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    if kind == "email":
        return st.builds(
            lambda s, t, h: {"subject": s, "text": t, **({"html": f"<p>{h}</p>"} if h else {})},
            st.sampled_from(TEMPLATES),
            st.sampled_from(TEMPLATES),
            st.none() | st.sampled_from(TEMPLATES),
        )
    if kind == "sms":
        return st.builds(lambda t: {"text": t}, st.sampled_from(TEMPLATES))
    if kind == "pause":
        return st.sampled_from(PAUSES)
    if kind == "condition":
        return st.builds(
            lambda m, r: {"match": m, "rules": r},
            st.sampled_from(["all", "any"]),
            st.lists(rules_for(channel_nodes), min_size=1, max_size=3),
        )
    if kind == "update_profile":
        return st.builds(lambda u: {"updates": u}, st.lists(UPDATES, min_size=1, max_size=2))
    if kind == "promo_code":
        return st.just({"pool": POOL})
    if kind == "api_request":
        return st.just({"url": API_URL, "body": "{{ profile.email }}"})
    return st.just({})


# How an output is wired: to the next node in line (long journeys), to any node a
# valid edge may reach (jumps, loops through a Pause), or not at all.
WIRING = {
    "next": ("in line", "in line", "in line", "back", "jump", "unwired"),
    "yes": ("in line", "back", "jump"),
    "no": ("jump", "back", "in line"),
    "error": ("unwired", "jump", "back", "in line"),
}


@st.composite
def scenario_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A random scenario (without its database id) that validation should accept.

    Body nodes are laid out in a row ending with an Exit; edges go forward, and
    only edges touching a Pause may go backward, so every loop waits somewhere.
    """
    n = draw(st.integers(2, 7))
    kinds = [draw(st.sampled_from(BODY_KINDS)) for _ in range(n)] + ["exit"]
    ids = [f"n{i}" for i in range(n)] + ["end"]
    channel_nodes = [i for i, k in zip(ids, kinds, strict=True) if k in ("email", "sms")]
    nodes: list[dict[str, Any]] = [{"id": DEFAULT_CAPTURE_ID, "kind": "default_capture"}]
    edges: list[dict[str, str]] = []
    for i, (node_id, kind) in enumerate(zip(ids, kinds, strict=True)):
        nodes.append(
            {"id": node_id, "kind": kind, "settings": draw(settings_for(kind, channel_nodes))}
        )
        back = [ids[j] for j in range(i + 1) if kind == "pause" or kinds[j] == "pause"]
        for port in KINDS[kind].outputs:
            wired = draw(st.sampled_from(WIRING[port]))
            if wired == "unwired" and port not in KINDS[kind].branches:
                continue  # an optional output left open: the task ends there
            if wired == "in line" or (wired == "back" and not back):
                target = ids[i + 1]
            else:
                target = draw(st.sampled_from(back if wired == "back" else ids[i + 1 :] + back))
            edges.append({"source": node_id, "port": port, "target": target})
    # Start elements lead mostly to the first node, so journeys run through the body.
    entries = st.sampled_from(["n0", "n0", "n0", *ids[1:]])
    triggers = draw(st.integers(0, 2))
    for t in range(triggers):
        nodes.append(
            {
                "id": f"t{t}",
                "kind": draw(st.sampled_from(TRIGGER_KINDS)),
                "settings": {"on_update": draw(st.booleans())},
            }
        )
        edges.append({"source": f"t{t}", "port": "next", "target": draw(entries)})
    if triggers == 0 or draw(st.integers(0, 5)):
        edges.append({"source": DEFAULT_CAPTURE_ID, "port": "next", "target": draw(entries)})
    return {
        "name": "Random journey",
        "reentry": draw(st.sampled_from(list(ReentryMode))),
        "nodes": nodes,
        "edges": edges,
    }


# ---------------------------------------------------------------------------
# Random profiles and API content
# ---------------------------------------------------------------------------


def json_trees(
    integers: st.SearchStrategy[int], texts: st.SearchStrategy[str]
) -> st.SearchStrategy[Any]:
    """JSON values (what API content and API responses may hold)."""
    scalars = (
        st.none()
        | st.booleans()
        | integers
        | st.floats(allow_nan=False, allow_infinity=False)
        | texts
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
        max_leaves=8,
    )


json_values = json_trees(
    st.integers(-(10**20), 10**20), st.text(st.characters(exclude_categories=()), max_size=6)
)
"""Anything Python's JSON parser may hand over: integers beyond 64 bits (a 20-digit
order number) and lone surrogates (the escape "\\ud800") included."""
json_values_plain = json_trees(st.integers(-(2**63), 2**63 - 1), st.text(max_size=6))
"""JSON with 64-bit integers and valid Unicode text: the state machine's domain, so
that it explores the engine; the round-trip tests below cover the wider one."""


def plain_json(value: Any) -> bool:
    """True if every integer fits in 64 bits and every string is valid Unicode."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, str):
        return not any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, list):
        return all(plain_json(v) for v in value)
    return all(plain_json(k) and plain_json(v) for k, v in value.items())


api_contents = st.one_of(
    st.none(),
    st.just({}),
    st.builds(lambda c: {"coupon": c}, st.sampled_from(["SPRING", "X-1"])),
    st.dictionaries(st.text(min_size=1, max_size=6), json_values_plain, min_size=1, max_size=3),
)
statuses = st.sampled_from(list(SubscriptionStatus))


@st.composite
def profile_rows(draw: st.DrawFn) -> ProfileImport:
    i = draw(st.integers(0, 7))
    email = draw(
        st.sampled_from([f"user{i}@example.com", f"User{i}@Example.COM", f"  user{i}@example.com "])
    )
    fields: dict[str, Any] = {"email": email}
    if draw(st.integers(0, 4)):
        fields["phone"] = f"+1555{i:07d}"
    if draw(st.booleans()):
        fields["first_name"] = draw(st.sampled_from([f"User{i}", "Ann", None]))
    if draw(st.booleans()):
        fields["loyalty_points"] = draw(st.integers(0, 200))
    if draw(st.booleans()):
        fields["vip"] = draw(st.booleans())
    subs = draw(st.dictionaries(st.sampled_from(list(Channel)), statuses, max_size=2))
    return ProfileImport(fields=fields, subscriptions=subs)


class FakeApi:
    """Stands in for the call centre: answers, refuses, or asks to retry later."""

    name = "api_request"
    resumes_task = True

    def __init__(self) -> None:
        self.mode = "ok"
        self.body: Any = None
        """What the service puts in its answers (any JSON)."""
        self.answers: dict[str, Any] = {}
        """Outbox key -> the response of the latest attempt."""

    def send(self, message: OutboundMessage) -> DeliveryResult:
        if self.mode == "retry":
            self.answers[message.key] = None
            raise RetryableDeliveryError("busy, try later")
        if self.mode == "fail":
            self.answers[message.key] = {"status": 400, "body": self.body}
            raise PermanentDeliveryError("refused", response=self.answers[message.key])
        self.answers[message.key] = {"status": 200, "key": message.key, "body": self.body}
        return DeliveryResult(self.answers[message.key])


def note(label: str) -> None:
    """A statistics event, when running under Hypothesis (the machine also runs by hand)."""
    if currently_in_test_context():
        event(label)


def new_app(clock: FakeClock, api: FakeApi | None = None) -> tuple[Store, App]:
    store = Store("sqlite://")
    store.create_all()
    channels: dict[str, Any] = {"api_request": api or FakeApi()}
    app = App(Config(allowed_hosts=ALLOWED_HOSTS), clock=clock, store=store, channels=channels)
    return store, app


# ---------------------------------------------------------------------------
# The state machine
# ---------------------------------------------------------------------------


class JourneyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store: Store | None = None
        self.profile_ids: list[int] = []
        self.steps = 0
        self.api_content: dict[int, Any] = {}
        """Task id -> the api_content it was engaged with (None: none)."""
        self.codes: dict[str, int] = {}
        """Promo code -> the task it was given to, as first seen."""
        self.outbox_rows: dict[str, tuple[int, str, float, Any]] = {}
        """Outbox key -> (task, node, created_at, payload), as first seen."""

    # -- setup -------------------------------------------------------------

    @initialize(
        spec=scenario_specs(),
        pool_size=st.integers(1, 2),
        rows=st.lists(profile_rows(), min_size=1, max_size=6),
        api_mode=st.sampled_from(["ok", "offline", "retry", "fail"]),
        source=st.sampled_from(list(ImportSource)),
        content=api_contents,
    )
    def setup(
        self,
        spec: dict[str, Any],
        pool_size: int,
        rows: list[ProfileImport],
        source: ImportSource,
        content: dict[str, Any] | None,
        api_mode: str,
    ) -> None:
        self.clock = FakeClock()
        self.api = FakeApi()
        self.store, self.app = new_app(self.clock, self.api)
        self.api_mode(api_mode, None)
        db = self.app.profiles.create_database("Customers", FIELDS)
        assert db.id is not None
        self.db_id = db.id
        self.pool_size = pool_size
        self.app.profiles.add_promo_codes(POOL, [f"CODE{k}" for k in range(pool_size)])
        scenario = Scenario.model_validate({**spec, "database_id": db.id})
        ctx = ValidationContext(
            fields=db.all_fields(), promo_pools=frozenset({POOL}), allowed_hosts=ALLOWED_HOSTS
        )
        assert validate(scenario, ctx) == []
        saved = self.app.scenarios.save(scenario)
        assert saved.problems == []
        assert saved.scenario.id is not None
        self.sid = saved.scenario.id
        self.scenario = saved.scenario
        self.reentry = scenario.reentry
        self.node_ids = [n.id for n in scenario.nodes]
        self.start_ids = {n.id for n in scenario.nodes if KINDS[n.kind].start}
        self.edges = {(e.source, e.port): e.target for e in scenario.edges}
        self.active = False
        self.activate()
        # Start with people inside: an import (triggers fire) and an engagement.
        self.import_batch(rows, source)
        self._engage(self.profile_ids, content)

    def teardown(self) -> None:
        """Dispose of the store, after noting what this run went through (shown by
        ``pytest --hypothesis-show-statistics``: how deep the random journeys go)."""
        if self.store is None:
            return
        with self.store_read() as tx:
            tasks = [
                t for ts in tx.tasks.for_profiles(self.sid, self.profile_ids).values() for t in ts
            ]
            channels = {r["status"] + ":" + r["channel"] for r in tx.outbox.all()}
            given = len(tx.promo.given())
            visited = tx.visits.count_by_node(tx.tasks.all_ids(self.sid))
        self.store.dispose()
        kinds = {n.id: n.kind for n in self.scenario.nodes}
        for label in sorted(
            {f"task {t.state.value}" for t in tasks}
            | {f"end {t.end_reason}" for t in tasks if t.end_reason}
            | {f"outbox {c}" for c in channels}
            | {f"reentry {self.reentry.value}", f"promo pool dry: {given == self.pool_size}"}
            | {f"steps {self.steps // 10 * 10}+"}
            | {f"visited {kinds[n]}" for n in visited}
            | {f"most visits {max((t.visit for t in tasks), default=0) // 4 * 4}+"}
        ):
            note(label)

    # -- operations --------------------------------------------------------

    @rule(
        rows=st.lists(profile_rows(), min_size=1, max_size=4),
        source=st.sampled_from(list(ImportSource)),
    )
    def import_batch(self, rows: list[ProfileImport], source: ImportSource) -> None:
        self.steps += 1
        result = self.app.profiles.import_profiles(self.db_id, rows, source)
        if not self.active:
            assert result.captured == 0
        self.profile_ids = sorted(set(self.profile_ids) | set(result.profile_ids))

    @rule(
        data=st.data(),
        content=api_contents,
        times=st.sampled_from([1, 1, 2, 3]),
        run=st.booleans(),
    )
    def engage(
        self, data: st.DataObject, content: dict[str, Any] | None, times: int, run: bool
    ) -> None:
        """Engage one or two profiles, maybe several times in one call, maybe run at once.

        Half the time the profiles are taken among those inside the scenario now,
        where the re-entry mode has something to decide."""
        self.steps += 1
        with self.store_read() as tx:
            inside = sorted({t.profile_id for ts in tx.tasks.live(self.sid) for t in ts})
        among = inside if inside and data.draw(st.booleans(), label="inside") else self.profile_ids
        ids = data.draw(st.lists(st.sampled_from(among), min_size=1, max_size=2), label="ids")
        self._engage(ids * times, content)
        if run:
            self.app.run_pending()

    def _engage(self, picks: list[int], content: dict[str, Any] | None) -> None:
        with self.store_read() as tx:
            before = tx.tasks.for_profiles(self.sid, picks)
        for state in {t.state for ts in before.values() for t in ts if t.state in LIVE_STATES}:
            note(f"engaged a profile with a {state.value} task")
        if not self.active:
            try:
                self.app.scenarios.engage_many(self.sid, picks, content)
            except ScenarioNotActive:
                return
            raise AssertionError("an inactive scenario captured a profile")
        results = self.app.scenarios.engage_many(self.sid, picks, content)
        # What the re-entry mode should have decided, profile by profile.
        had = {p: bool(before.get(p)) for p in picks}
        live = {p: any(t.state in LIVE_STATES for t in before.get(p, [])) for p in picks}
        expected: list[tuple[int, str | None]] = []
        for p in picks:
            if self.reentry is ReentryMode.ONCE_EVER and had[p]:
                expected.append((p, "once_ever"))
            elif self.reentry is ReentryMode.NOT_WHILE_ACTIVE and live[p]:
                expected.append((p, "not_while_active"))
            else:
                expected.append((p, None))
                had[p] = live[p] = True
        got = [(r.profile_id, r.refused) for r in results]
        if self.reentry is ReentryMode.RESTART:
            # The same profile twice in one call: the later capture replaces the earlier.
            assert [p for p, _ in got] == picks
            for k, (p, refused) in enumerate(got):
                assert (refused is None) == (p not in picks[k + 1 :]), got
        else:
            assert got == expected
        for r in results:
            assert (r.task_id is None) == (r.refused is not None)
            if r.task_id is not None:
                self.api_content[r.task_id] = content or None

    @rule(data=st.data(), channel=st.sampled_from(list(Channel)), status=statuses)
    def set_subscription(
        self, data: st.DataObject, channel: Channel, status: SubscriptionStatus
    ) -> None:
        self.steps += 1
        profile_id = data.draw(st.sampled_from(self.profile_ids), label="profile")
        self.app.profiles.set_subscription(profile_id, channel, status)

    @rule(data=st.data(), event=st.sampled_from(["opened", "clicked", "delivered"]))
    def message_event(self, data: st.DataObject, event: str) -> None:
        self.steps += 1
        with self.store_read() as tx:
            keys = [r["key"] for r in tx.outbox.all() if r["channel"] in ("email", "sms")]
        if keys:
            key = data.draw(st.sampled_from(keys), label="outbox key")
            self.app.profiles.record_message_event(key, event)

    @rule(seconds=st.sampled_from([0, 1, 30, 600, 3600, 3 * 3600]))
    def advance(self, seconds: float) -> None:
        self._advance(seconds)

    @rule(seconds=st.sampled_from([86400, 86400 + 1, 2 * 86400, 8 * 86400]))
    def advance_days(self, seconds: float) -> None:
        self._advance(seconds)

    @rule(jumps=st.integers(1, 12))
    def follow_timers(self, jumps: int) -> None:
        """Jump the clock from one timer to the next, checking everything on the way."""
        for _ in range(jumps):
            with self.store_read() as tx:
                due = [
                    tx.tasks.next_due(),
                    tx.outbox.next_attempt(list(self.app.deliverer.channels)),
                ]
            upcoming = [t for t in due if t is not None]
            if not upcoming:
                break
            self._advance(max(0.0, min(upcoming) - self.clock.now()))
            self.everything_agrees()

    def _advance(self, seconds: float) -> None:
        self.steps += 1
        self.clock.advance(seconds)
        self.app.run_pending()
        now = self.clock.now()
        with self.store_read() as tx:
            due = tx.tasks.next_due()
            assert due is None or due > now, "run_pending left a due task behind"
            send = tx.outbox.next_attempt(list(self.app.deliverer.channels))
            assert send is None or send > now, "run_pending left a due request behind"

    @rule(mode=st.sampled_from(["ok", "ok", "fail", "retry", "offline"]), body=json_values_plain)
    def api_mode(self, mode: str, body: Any) -> None:
        """Change how the outside service answers, and what it answers with; offline,
        nothing is delivered and tasks wait for their answer."""
        self.steps += 1
        self.api.mode = mode
        self.api.body = body
        self.app.deliverer.channels = {} if mode == "offline" else {"api_request": self.api}

    @rule(keep=st.booleans())
    def stop(self, keep: bool) -> None:
        self.steps += 1
        if not self.active:
            try:
                self.app.scenarios.stop(self.sid, keep)
            except Conflict:
                return
            raise AssertionError("stopped a scenario that was not active")
        with self.store_read() as tx:
            live = tx.tasks.count_live(self.sid)
        n = self.app.scenarios.stop(self.sid, keep)
        self.active = False
        assert n == live
        with self.store_read() as tx:
            states = tx.tasks.count_by_state(self.sid)
        if keep:
            assert set(states) & {s.value for s in LIVE_STATES} <= {TaskState.FROZEN.value}
            assert states.get(TaskState.FROZEN.value, 0) == live
        else:
            assert not set(states) & {s.value for s in LIVE_STATES}

    @rule()
    def stop_and_resume(self) -> None:
        """Stop keeping the profiles, then start again: every task wakes where it was."""
        if self.active:
            with self.store_read() as tx:
                before = {t: tx.tasks.get(t) for t in tx.tasks.all_ids(self.sid)}
            for state in {t.state for t in before.values() if t.state in LIVE_STATES}:
                note(f"stopped and resumed a {state.value} task")
            self.stop(keep=True)
            self.everything_agrees()
            self.activate()
            with self.store_read() as tx:
                after = {t: tx.tasks.get(t) for t in tx.tasks.all_ids(self.sid)}
            assert after == before, "stopping and starting again moved a task"

    @rule()
    def activate(self) -> None:
        self.steps += 1
        woke = self.app.scenarios.activate(self.sid)
        if self.active:
            assert woke == 0
        self.active = True
        assert self.app.scenarios.get(self.sid).status is ScenarioStatus.ACTIVE
        with self.store_read() as tx:
            assert TaskState.FROZEN.value not in tx.tasks.count_by_state(self.sid)

    @rule(data=st.data(), how=st.sampled_from(["task", "task", "node", "node", "all"]))
    def take_out(self, data: st.DataObject, how: str) -> None:
        """Remove one task, the tasks of one node, or clear all profiles."""
        self.steps += 1
        with self.store_read() as tx:
            live_before = tx.tasks.count_live(self.sid)
            ids = tx.tasks.all_ids(self.sid)
            live_ids = [t.id for ts in tx.tasks.live(self.sid) for t in ts]
        if how == "task" and live_ids and data.draw(st.booleans(), label="a live one"):
            ids = live_ids
        if how == "task" and ids:
            task_id = data.draw(st.sampled_from(ids), label="task")
            with self.store_read() as tx:
                was_live = tx.tasks.get(task_id).state in LIVE_STATES
            try:
                self.app.scenarios.remove_task(task_id)
            except Conflict:
                assert not was_live
                return
            assert was_live
            with self.store_read() as tx:
                task = tx.tasks.get(task_id)
            assert task.state is TaskState.REMOVED
            assert task.end_reason == EndReason.REMOVED.value
        elif how == "node":
            node_id = data.draw(st.sampled_from(self.node_ids), label="node")
            with self.store_read() as tx:
                there = tx.tasks.live_by_node(self.sid).get(node_id, 0)
            assert self.app.scenarios.remove_node_tasks(self.sid, node_id) == there
            with self.store_read() as tx:
                assert node_id not in tx.tasks.live_by_node(self.sid)
        elif how == "all":
            assert self.app.scenarios.clear_all(self.sid) == live_before
            with self.store_read() as tx:
                assert tx.tasks.count_live(self.sid) == 0

    # -- invariants --------------------------------------------------------

    def store_read(self) -> Any:
        return self.app.store.read()

    @invariant()
    def everything_agrees(self) -> None:
        """Tasks, visits, counters, statistics, promo codes and outbox tell one story."""
        now = self.clock.now()
        with self.store_read() as tx:
            tasks = [
                t for ts in tx.tasks.for_profiles(self.sid, self.profile_ids).values() for t in ts
            ]
            all_ids = tx.tasks.all_ids(self.sid)
            live_by_node = tx.tasks.live_by_node(self.sid)
            counters = tx.counters.totals(self.sid)
            visit_counts = tx.visits.count_by_node(all_ids)
            visit_rows = [dict(r._mapping) for r in tx.conn.execute(select(visits))]
            outbox_rows = [dict(r._mapping) for r in tx.conn.execute(select(outbox))]
            given = tx.promo.given()
        stats = self.app.stats.scenario(self.sid, all_time=True)
        recent = self.app.stats.scenario(self.sid)

        # Every task of the scenario belongs to a known profile.
        assert sorted(t.id for t in tasks) == all_ids
        by_id = {t.id: t for t in tasks}

        # Each task is in exactly one place.
        for t in tasks:
            if t.state in LIVE_STATES:
                assert t.node_id in self.node_ids, t
                assert t.ended_at is None and t.end_reason is None and t.exit_node is None, t
                if t.state is TaskState.SCHEDULED:
                    assert t.due_at is not None, t
                if t.state is TaskState.AWAITING:
                    assert t.due_at is None, t
                # Frozen exactly while the scenario is stopped.
                assert (t.state is TaskState.FROZEN) == (not self.active), t
            else:
                assert t.state in ENDED_STATES
                assert t.node_id is None and t.due_at is None and t.resume_port is None, t
                assert t.ended_at is not None and t.ended_at <= now, t
                assert t.end_reason is not None, t
                assert t.exit_node in self.node_ids, t
        assert dict(Counter(t.node_id for t in tasks if t.node_id)) == live_by_node

        # Per node: entered = exited + inside, inside = live tasks there (also for the
        # default 7-day period, after the clock has run past it), and the counters
        # agree with the visit records.
        for stat in (stats, recent):
            assert {n.id for n in stat.nodes} == set(self.node_ids)
            for node in stat.nodes:
                assert node.inside == live_by_node.get(node.id, 0), node
        for node in stats.nodes:
            assert node.entered == node.exited + node.inside, node
        for node_id in self.node_ids:
            entered = counters.get((node_id, "entered"), 0)
            exited = counters.get((node_id, "exited"), 0)
            assert exited == visit_counts.get(node_id, 0), node_id
            assert entered == exited + live_by_node.get(node_id, 0), node_id

        # Scenario level: entered = completed + failed + removed + inside, per task state.
        states = Counter(t.state for t in tasks)
        live = sum(states[s] for s in LIVE_STATES)
        assert stats.entered == stats.completed + stats.failed + stats.removed + stats.inside
        assert stats.entered == len(tasks)
        assert stats.inside == recent.inside == live
        assert stats.completed == states[TaskState.FINISHED]
        assert stats.failed == states[TaskState.FAILED]
        assert stats.removed == states[TaskState.REMOVED]
        assert counters.get((SCENARIO, "entered"), 0) == len(tasks)

        # Visit records: one per node left, in order, along the scenario's edges.
        path: dict[int, list[dict[str, Any]]] = {}
        for v in sorted(visit_rows, key=lambda v: (v["task_id"], v["seq"])):
            assert v["task_id"] in by_id, v
            path.setdefault(v["task_id"], []).append(v)
        for t in tasks:
            steps = path.get(t.id, [])
            left = t.visit - 1 if t.state in LIVE_STATES else t.visit
            assert [v["seq"] for v in steps] == list(range(1, left + 1)), (t, steps)
            if steps:
                assert steps[0]["node_id"] in self.start_ids, steps
            for a, b in pairwise(steps):
                assert self.edges.get((a["node_id"], a["port"])) == b["node_id"], (a, b)
                assert a["left_at"] == b["entered_at"] and a["entered_at"] <= a["left_at"]
            if t.state in LIVE_STATES:
                if steps:
                    last = steps[-1]
                    assert self.edges.get((last["node_id"], last["port"])) == t.node_id, t
                    assert last["left_at"] == t.node_entered_at, t
                else:
                    assert t.node_id in self.start_ids, t
            else:
                last = steps[-1]
                assert last["node_id"] == t.exit_node, (t, last)
                assert last["left_at"] == t.ended_at, (t, last)
                # Left by an end reason, or by an output that leads nowhere.
                ended_by = last["port"]
                assert ended_by in END_PORTS or (last["node_id"], ended_by) not in self.edges, t

        # Re-entry rules.
        per_profile = Counter(t.profile_id for t in tasks)
        live_per_profile = Counter(t.profile_id for t in tasks if t.state in LIVE_STATES)
        if self.reentry is ReentryMode.ONCE_EVER:
            assert max(per_profile.values(), default=0) <= 1, per_profile
        if self.reentry in (ReentryMode.NOT_WHILE_ACTIVE, ReentryMode.RESTART):
            assert max(live_per_profile.values(), default=0) <= 1, live_per_profile

        # Promo codes: never given twice, never taken back, and held by their task.
        codes = [code for code, _ in given]
        assert len(codes) == len(set(codes)) <= self.pool_size
        for code, task_id in given:
            assert self.codes.setdefault(code, task_id) == task_id, code
            assert task_id in by_id, code
        assert set(self.codes) == set(codes)
        given_to = {(code, task_id) for code, task_id in given}
        held_codes = [t.data["promo_code"] for t in tasks if "promo_code" in t.data]
        assert len(held_codes) == len(set(held_codes)), held_codes
        for t in tasks:
            for code in t.data.get("promo_codes", {}).values():
                assert (code, t.id) in given_to, (t, code)

        # Outbox: one row per key, each key 'task:node:visit' of a real visit.
        keys = [r["key"] for r in outbox_rows]
        assert len(keys) == len(set(keys))
        assert set(self.outbox_rows) <= set(keys), "an outbox message disappeared"
        seen_visits = {(v["task_id"], v["seq"]): v["node_id"] for v in visit_rows}
        for r in outbox_rows:
            task_part, node_part, visit_part = r["key"].split(":")
            task_id, seq = int(task_part), int(visit_part)
            assert (task_id, node_part) == (r["task_id"], r["node_id"]), r
            assert r["scenario_id"] == self.sid and task_id in by_id, r
            task = by_id[task_id]
            assert r["profile_id"] == task.profile_id, r
            assert KINDS[self.scenario.node(node_part).kind].name == r["channel"], r
            if (task_id, seq) in seen_visits:
                assert seen_visits[(task_id, seq)] == node_part, r
            else:  # still in the node that sent it (an API request awaiting its answer)
                assert (task.node_id, task.visit) == (node_part, seq), (r, task)
            if r["channel"] == "api_request" and r["status"] in ("sent", "failed"):
                assert r["response"] == self.api.answers[r["key"]], r
            first = (r["task_id"], r["node_id"], r["created_at"], r["payload"])
            assert self.outbox_rows.setdefault(r["key"], first) == first, r

        # Task data: the API content a task was engaged with is kept as it was.
        for t in tasks:
            if t.id in self.api_content and t.end_reason != EndReason.RESTARTED.value:
                assert t.data.get("api_content") == self.api_content[t.id], t
            if t.end_reason == EndReason.RESTARTED.value:
                assert t.data == {}, t
            if "api_response" in t.data:  # the answer to one of the task's requests
                answers = [
                    r["response"]
                    for r in outbox_rows
                    if r["task_id"] == t.id and r["status"] in ("sent", "failed")
                ]
                assert t.data["api_response"] in answers, t


NO_EXPLAIN = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
"""Hypothesis's explain phase re-runs a failing example many times: slow here."""

TestJourneyInvariants = JourneyMachine.TestCase
TestJourneyInvariants.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    phases=NO_EXPLAIN,
    report_multiple_bugs=False,
)


def test_restart_with_a_profile_engaged_three_times_in_one_call() -> None:
    """The smallest run the machine found breaking the counters, replayed by hand.

    Restart mode, a profile inside, engaged three times in one call: the task the
    second capture made is discarded by the third, and must be uncounted once."""
    machine = JourneyMachine()
    machine.setup(
        spec={
            "name": "Restart",
            "reentry": ReentryMode.RESTART,
            "nodes": [
                {"id": DEFAULT_CAPTURE_ID, "kind": "default_capture"},
                {"id": "end", "kind": "exit"},
            ],
            "edges": [{"source": DEFAULT_CAPTURE_ID, "target": "end"}],
        },
        pool_size=1,
        rows=[ProfileImport(fields={"email": "user0@example.com"})],
        source=ImportSource.MANUAL,
        content=None,
        api_mode="ok",
    )
    try:
        machine.everything_agrees()
        machine._engage([1, 1, 1], None)
        machine.everything_agrees()
    finally:
        machine.teardown()


# ---------------------------------------------------------------------------
# Save and restore
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_store() -> Iterator[Store]:
    """One in-memory store for every example: each writes rows of its own."""
    store = Store("sqlite://")
    store.create_all()
    yield store
    store.dispose()


task_data = st.dictionaries(st.text(max_size=8), json_values_plain, max_size=4)


@settings(max_examples=60, deadline=None, phases=NO_EXPLAIN)
@given(
    data=task_data,
    changed=task_data,
    state=st.sampled_from(list(TaskState)),
    visit=st.integers(0, 10**6),
    at=st.floats(0, 4e9, allow_nan=False),
)
def test_task_round_trips_through_the_store(
    shared_store: Store,
    data: dict[str, Any],
    changed: dict[str, Any],
    state: TaskState,
    visit: int,
    at: float,
) -> None:
    """Whatever JSON a task's data holds, the store gives it back unchanged."""
    live = state in LIVE_STATES
    task = Task(
        id=0,
        scenario_id=3,
        profile_id=7,
        state=state,
        node_id="n1" if live else None,
        node_entered_at=at,
        entered_at=at,
        due_at=at + 1 if state is TaskState.SCHEDULED else None,
        resume_port="next" if state is TaskState.SCHEDULED else None,
        visit=visit,
        data=data,
        ended_at=None if live else at + 2,
        end_reason=None if live else EndReason.COMPLETED.value,
        exit_node=None if live else "n1",
    )
    with shared_store.transaction() as tx:
        tx.tasks.insert_many([task])
    assert task.id > 0
    with shared_store.read() as tx:
        assert tx.tasks.get(task.id) == task
    task.data = changed  # the engine's path: a batch writes the tasks it moved
    with shared_store.transaction() as tx:
        tx.tasks.update_many([task])
    with shared_store.read() as tx:
        assert tx.tasks.get(task.id) == task


def single_node_app(node: dict[str, Any], reentry: str = "parallel") -> tuple[FakeClock, App, int]:
    """An app whose active scenario leads the default capture to ``node``, every output
    of it to a one-hour pause, then ends; profile 1 exists."""
    clock = FakeClock()
    api = FakeApi()
    _, app = new_app(clock, api)
    db = app.profiles.create_database("Customers", FIELDS)
    assert db.id is not None
    scenario = Scenario.model_validate(
        {
            "database_id": db.id,
            "name": "Round trip",
            "reentry": reentry,
            "nodes": [node, {"id": "again", "kind": "pause", "settings": {"hours": 1}}],
            "edges": [
                {"source": DEFAULT_CAPTURE_ID, "target": node["id"]},
                *(
                    {"source": node["id"], "port": port, "target": "again"}
                    for port in KINDS[node["kind"]].outputs
                ),
            ],
        }
    )
    saved = app.scenarios.save(scenario)
    assert saved.problems == [] and saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    app.profiles.import_profiles(
        db.id, [ProfileImport(fields={"email": "a@example.com"})], ImportSource.API
    )
    return clock, app, saved.scenario.id


@settings(max_examples=40, deadline=None, phases=NO_EXPLAIN)
@example(content={"order_id": 2**64})
@given(content=st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=4))
def test_api_content_round_trips_through_a_journey(content: dict[str, Any]) -> None:
    """Engaged with API content, paused, restored from the store: the content is unchanged.

    Content that is not plain JSON (integers beyond 64 bits, lone surrogates) may
    be refused as invalid input at the door, but nothing else may go wrong."""
    clock, app, sid = single_node_app({"id": "wait", "kind": "pause", "settings": {"hours": 1}})
    try:
        try:
            result = app.scenarios.engage(sid, 1, content)
        except InvalidInput:
            assert not plain_json(content), "storable API content was refused"
            return
        assert result.task_id is not None
        expected = {"api_content": content} if content else {}
        for step in range(3):
            with app.store.read() as tx:
                assert tx.tasks.get(result.task_id).data == expected, step
            clock.advance(3600)
            app.run_pending()
        with app.store.read() as tx:
            assert tx.tasks.get(result.task_id).state is TaskState.FINISHED
    finally:
        app.store.dispose()


@settings(max_examples=40, deadline=None, phases=NO_EXPLAIN)
@example(body={"order_id": 2**64}, mode="ok")
@example(body={"name": "\ud800"}, mode="ok")
@given(body=json_values, mode=st.sampled_from(["ok", "fail"]))
def test_api_response_round_trips_into_the_task(body: Any, mode: str) -> None:
    """Whatever JSON the outside service answers, the task resumes, and keeps the answer."""
    _, app, sid = single_node_app(
        {"id": "call", "kind": "api_request", "settings": {"url": API_URL}}
    )
    api = app.deliverer.channels["api_request"]
    assert isinstance(api, FakeApi)
    api.mode, api.body = mode, body
    try:
        task_id = app.scenarios.engage(sid, 1).task_id
        assert task_id is not None
        app.run_pending()  # must not raise: a bad answer may not wedge the deliverer
        with app.store.read() as tx:
            task = tx.tasks.get(task_id)
            (message,) = tx.outbox.for_task(task_id)
        assert message["status"] == ("sent" if mode == "ok" else "failed"), message
        assert task.state is TaskState.SCHEDULED and task.node_id == "again", task
        if plain_json(body):
            assert message["response"] == api.answers[message["key"]]
            assert task.data["api_response"] == api.answers[message["key"]], task
    finally:
        app.store.dispose()
