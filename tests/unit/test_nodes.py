"""Node kinds' step semantics: conditions, profile updates, and sending messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from scenaria.clock import FakeClock
from scenaria.model.nodes.base import Move, ProfileView
from scenaria.model.nodes.condition import Condition
from scenaria.model.nodes.update_profile import UpdateProfile
from scenaria.model.profiles import Channel, FieldType, ProfileDatabase, SubscriptionStatus
from scenaria.model.scenario import Scenario
from scenaria.services.app import App
from scenaria.services.profiles import ProfileImport
from tests.conftest import import_people, person, welcome_scenario

# --- in isolation: a step context that records what the node does ------------------------


@dataclass
class FakeContext:
    profile: ProfileView
    task_data: dict[str, Any] = field(default_factory=dict)
    events: dict[str, frozenset[str]] = field(default_factory=dict)
    field_types: dict[str, FieldType] = field(default_factory=dict)
    sent: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)
    now: float = 1_000.0
    node_id: str = "node"
    scenario_name: str = "Test"

    def send(self, channel: str, payload: dict[str, Any], skip_reason: str | None = None) -> str:
        self.sent.append((channel, payload, skip_reason))
        return f"1:{self.node_id}:{len(self.sent)}"

    def update_profile(self, fields: dict[str, Any]) -> None:
        self.profile.fields = {**self.profile.fields, **fields}
        self.profile.changed = True

    def take_promo_code(self, pool: str) -> str | None:
        return None

    def message_events(self, node_id: str) -> frozenset[str]:
        return self.events.get(node_id, frozenset())


def profile(subscriptions: dict[str, str] | None = None, **fields: Any) -> ProfileView:
    return ProfileView(1, {"email": "ann@example.com", **fields}, subscriptions or {})


def condition(rules: list[dict[str, Any]], ctx: FakeContext, match: str = "all") -> str:
    kind = Condition()
    outcome = kind.step(kind.parse({"match": match, "rules": rules}), ctx)
    assert isinstance(outcome, Move)
    assert outcome.error is None
    return outcome.port


def field_rule(name: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"type": "field", "field": name, "op": op, "value": value}


@pytest.mark.parametrize(
    ("fields", "rule", "port"),
    [
        ({"points": 150}, field_rule("points", "gt", 100), "yes"),
        ({"points": 50}, field_rule("points", "gt", 100), "no"),
        ({"points": 100}, field_rule("points", "gte", 100), "yes"),
        ({"points": 100}, field_rule("points", "lt", 100), "no"),
        # A literal typed as text compares as the field's type: 150 > 20, not "150" < "20".
        ({"points": 150}, field_rule("points", "gt", "20"), "yes"),
        ({"points": 150}, field_rule("points", "eq", "150"), "yes"),
        ({"points": 2.5}, field_rule("points", "lte", 2.5), "yes"),
        ({"vip": True}, field_rule("vip", "eq", "true"), "yes"),
        ({"vip": False}, field_rule("vip", "eq", "yes"), "no"),
        ({"city": "Paris"}, field_rule("city", "eq", "Paris"), "yes"),
        ({"city": "Paris"}, field_rule("city", "eq", "paris"), "no"),
        ({"city": "Paris"}, field_rule("city", "ne", "Lyon"), "yes"),
        ({"city": "Saint-Paris"}, field_rule("city", "contains", "PARIS"), "yes"),
        ({"born": "1990-05-01"}, field_rule("born", "gt", "1989-12-31"), "yes"),
        ({"born": "1990-05-01"}, field_rule("born", "lt", "1990-01-01"), "no"),
        ({}, field_rule("city", "is_not_set"), "yes"),
        ({"city": ""}, field_rule("city", "is_not_set"), "yes"),
        ({"city": "Paris"}, field_rule("city", "is_set"), "yes"),
        ({}, field_rule("city", "is_set"), "no"),
        # A missing value is neither greater nor smaller than anything, and is not equal.
        ({}, field_rule("points", "gt", 0), "no"),
        ({}, field_rule("points", "lt", 10), "no"),
        ({}, field_rule("city", "eq", "Paris"), "no"),
        ({}, field_rule("city", "ne", "Paris"), "yes"),
    ],
)
def test_field_rule_compares_typed_values(
    fields: dict[str, Any], rule: dict[str, Any], port: str
) -> None:
    assert condition([rule], FakeContext(profile(**fields))) == port


@pytest.mark.parametrize(
    ("points", "city", "match", "port"),
    [
        (150, "Paris", "all", "yes"),
        (150, "Lyon", "all", "no"),
        (50, "Paris", "all", "no"),
        (150, "Lyon", "any", "yes"),
        (50, "Paris", "any", "yes"),
        (50, "Lyon", "any", "no"),
    ],
)
def test_rules_join_with_and_or(points: int, city: str, match: str, port: str) -> None:
    rules = [field_rule("points", "gt", 100), field_rule("city", "eq", "Paris")]
    assert condition(rules, FakeContext(profile(points=points, city=city)), match) == port


@pytest.mark.parametrize(
    ("subscriptions", "port"),
    [
        ({"email": "subscribed"}, "yes"),
        # Double opt-in still pending is not a confirmed subscription.
        ({"email": "unconfirmed"}, "no"),
        ({"email": "unsubscribed"}, "no"),
        ({}, "no"),
        ({"sms": "subscribed"}, "no"),
    ],
)
def test_subscription_rule_means_confirmed(subscriptions: dict[str, str], port: str) -> None:
    rule = {"type": "subscription", "channel": "email", "status": "subscribed"}
    assert condition([rule], FakeContext(profile(subscriptions))) == port


def test_sent_rule_counts_this_tasks_sends() -> None:
    rule = {"type": "sent", "channel": "sms", "at_least": 2}
    assert condition([rule], FakeContext(profile(), task_data={"sent": {"sms": 1}})) == "no"
    assert condition([rule], FakeContext(profile(), task_data={"sent": {"sms": 2}})) == "yes"
    assert condition([rule], FakeContext(profile(), task_data={"sent": {"email": 5}})) == "no"


SCHEMA = {
    "email": FieldType.STRING,
    "first_name": FieldType.STRING,
    "points": FieldType.INT,
    "balance": FieldType.FLOAT,
    "city": FieldType.STRING,
}


def update(updates: list[dict[str, Any]], ctx: FakeContext) -> Move:
    kind = UpdateProfile()
    outcome = kind.step(kind.parse({"updates": updates}), ctx)
    assert isinstance(outcome, Move)
    return outcome


def test_update_profile_set_increment_decrement_clear() -> None:
    ctx = FakeContext(
        profile(first_name="Ann", points=10, balance=5.5, city="Paris"), field_types=SCHEMA
    )
    outcome = update(
        [
            {"field": "first_name", "op": "set", "value": "Anna"},
            {"field": "points", "op": "increment", "value": 100},
            {"field": "balance", "op": "decrement", "value": 2},
            {"field": "city", "op": "clear"},
        ],
        ctx,
    )
    assert outcome == Move("next")
    assert ctx.profile.changed
    assert ctx.profile.fields == {
        "email": "ann@example.com",
        "first_name": "Anna",
        "points": 110,
        "balance": 3.5,
        "city": None,
    }


def test_increment_of_an_empty_field_starts_from_zero_and_accumulates() -> None:
    ctx = FakeContext(profile(), field_types=SCHEMA)
    update(
        [
            {"field": "points", "op": "increment", "value": 100},
            {"field": "points", "op": "increment", "value": 5},
            {"field": "points", "op": "decrement", "value": 1},
        ],
        ctx,
    )
    assert ctx.profile.fields["points"] == 104


def test_set_converts_to_the_fields_type() -> None:
    ctx = FakeContext(profile(), field_types=SCHEMA)
    update(
        [
            {"field": "points", "op": "set", "value": "250"},
            {"field": "points", "op": "increment", "value": 5},
            {"field": "balance", "op": "set", "value": "2.5"},
            {"field": "city", "op": "set", "value": 75001},
        ],
        ctx,
    )
    fields = ctx.profile.fields
    assert fields["points"] == 255 and type(fields["points"]) is int
    assert fields["balance"] == 2.5
    assert fields["city"] == "75001"


# --- through the engine -------------------------------------------------------------------


def run_one(
    app: App,
    clock: FakeClock,
    database_id: int,
    profile_id: int,
    nodes: list[dict[str, Any]],
    edges: list[dict[str, str]],
) -> dict[str, Any]:
    """Save and activate a scenario starting at nodes[0], engage one profile, run; the task."""
    scenario = Scenario.model_validate(
        {
            "database_id": database_id,
            "name": "Under test",
            "nodes": nodes,
            "edges": [{"source": "default", "target": nodes[0]["id"]}, *edges],
        }
    )
    saved = app.scenarios.save(scenario)
    assert saved.problems == []
    assert saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    task_id = app.scenarios.engage(saved.scenario.id, profile_id).task_id
    app.run_until_idle(clock)
    return task_of(app, profile_id, task_id)


def task_of(app: App, profile_id: int, task_id: int | None) -> dict[str, Any]:
    return next(t for t in app.profiles.card(profile_id)["tasks"] if t["task_id"] == task_id)


def path(task: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["node_id"], v["port"]) for v in task["path"]]


def outbox(app: App, task_id: int) -> list[dict[str, Any]]:
    with app.store.read() as tx:
        return tx.outbox.for_task(task_id)


def email(node_id: str, **settings: Any) -> dict[str, Any]:
    return {"id": node_id, "kind": "email", "settings": {"subject": "Hi", **settings}}


EXITS = [{"id": "sent", "kind": "exit"}, {"id": "failed", "kind": "exit"}]
EMAIL_EDGES = [
    {"source": "mail", "port": "next", "target": "sent"},
    {"source": "mail", "port": "error", "target": "failed"},
]


def one_person(app: App, database_id: int, **kwargs: Any) -> int:
    return import_people(app, database_id, [person(1, **kwargs)]).profile_ids[0]


def test_update_profile_is_saved_on_the_profile(
    app: App, clock: FakeClock, db: ProfileDatabase
) -> None:
    pid = one_person(app, db.id, loyalty_points=10)
    nodes = [
        {
            "id": "score",
            "kind": "update_profile",
            "settings": {
                "updates": [
                    {"field": "loyalty_points", "op": "increment", "value": 100},
                    {"field": "first_name", "op": "set", "value": "Ann"},
                ]
            },
        }
    ]
    task = run_one(app, clock, db.id, pid, nodes, [])
    assert task["state"] == "finished"
    fields = app.profiles.card(pid)["fields"]
    assert fields["loyalty_points"] == 110
    assert fields["first_name"] == "Ann"


def test_update_profile_set_stores_the_fields_type(app: App, clock: FakeClock) -> None:
    database = app.profiles.create_database(
        "Typed", {"loyalty_points": FieldType.INT, "vip": FieldType.BOOL}
    )
    rows = [ProfileImport(fields={"email": "ann@example.com"})]
    pid = import_people(app, database.id, rows).profile_ids[0]
    # Validation accepts these literals because they convert to the fields' types ...
    nodes = [
        {
            "id": "score",
            "kind": "update_profile",
            "settings": {
                "updates": [
                    {"field": "loyalty_points", "op": "set", "value": "250"},
                    {"field": "vip", "op": "set", "value": "yes"},
                ]
            },
        }
    ]
    run_one(app, clock, database.id, pid, nodes, [])
    # ... so the profile must hold the converted values, not the raw text.
    fields = app.profiles.card(pid)["fields"]
    assert fields["loyalty_points"] == 250
    assert fields["vip"] is True


def test_message_opened_rule_follows_recorded_events(
    app: App, clock: FakeClock, db: ProfileDatabase
) -> None:
    opener, ignorer = import_people(app, db.id, [person(1), person(2)]).profile_ids
    scenario = Scenario.model_validate(
        {
            "database_id": db.id,
            "name": "Opened?",
            "nodes": [
                email("mail", text="Hello"),
                {"id": "wait", "kind": "pause", "settings": {"days": 1}},
                {
                    "id": "opened",
                    "kind": "condition",
                    "settings": {"rules": [{"type": "message", "node": "mail", "event": "opened"}]},
                },
                {"id": "thanks", "kind": "exit"},
                {"id": "nudge", "kind": "exit"},
            ],
            "edges": [
                {"source": "default", "target": "mail"},
                {"source": "mail", "target": "wait"},
                {"source": "wait", "target": "opened"},
                {"source": "opened", "port": "yes", "target": "thanks"},
                {"source": "opened", "port": "no", "target": "nudge"},
            ],
        }
    )
    saved = app.scenarios.save(scenario)
    assert saved.problems == []
    sid = saved.scenario.id
    assert sid is not None
    app.scenarios.activate(sid)
    tasks = {pid: app.scenarios.engage(sid, pid).task_id for pid in (opener, ignorer)}
    app.run_pending()

    opener_mail = outbox(app, tasks[opener] or 0)
    assert [m["node_id"] for m in opener_mail] == ["mail"]
    app.profiles.record_message_event(opener_mail[0]["key"], "opened")
    # Another event on the message is not an open.
    ignorer_mail = outbox(app, tasks[ignorer] or 0)
    app.profiles.record_message_event(ignorer_mail[0]["key"], "delivered")
    app.run_until_idle(clock)

    assert task_of(app, opener, tasks[opener])["exit_node"] == "thanks"
    assert task_of(app, ignorer, tasks[ignorer])["exit_node"] == "nudge"


def test_template_reaching_python_internals_fails_the_message_not_the_engine(
    app: App, clock: FakeClock, db: ProfileDatabase
) -> None:
    pid = one_person(app, db.id, email_status=SubscriptionStatus.SUBSCRIBED)
    nodes = [email("mail", text="{{ ''.__class__.__mro__ }}"), *EXITS]
    task = run_one(app, clock, db.id, pid, nodes, EMAIL_EDGES)

    assert path(task) == [("default", "next"), ("mail", "error"), ("failed", "exit")]
    assert task["data"]["last_error"]["node"] == "mail"
    message = task["data"]["last_error"]["message"]
    assert "template error" in message
    assert "unsafe" in message
    assert outbox(app, task["task_id"]) == []


def test_template_error_without_an_error_path_fails_the_task(
    app: App, clock: FakeClock, db: ProfileDatabase
) -> None:
    pid = one_person(app, db.id)
    task = run_one(app, clock, db.id, pid, [email("mail", text="{{ profile.nickname }}")], [])
    assert task["state"] == "failed"
    assert task["exit_node"] == "mail"
    assert "nickname" in task["data"]["last_error"]["message"]


def test_profile_values_are_escaped_in_html_but_not_in_text(
    app: App, clock: FakeClock, db: ProfileDatabase
) -> None:
    pid = one_person(app, db.id, first_name="<b>Ann</b> & co")
    nodes = [
        email(
            "mail",
            subject="Hi {{ profile.first_name }}",
            html="<p>{{ profile.first_name }}</p>",
            text="{{ profile.first_name }}",
        ),
        *EXITS,
    ]
    task = run_one(app, clock, db.id, pid, nodes, EMAIL_EDGES)
    payload = outbox(app, task["task_id"])[0]["payload"]
    assert payload["html"] == "<p>&lt;b&gt;Ann&lt;/b&gt; &amp; co</p>"
    assert payload["text"] == "<b>Ann</b> & co"
    assert payload["subject"] == "Hi <b>Ann</b> & co"


def test_profile_without_email_takes_the_error_path(app: App, clock: FakeClock) -> None:
    phones = app.profiles.create_database("Phones", match_field="phone")
    pid = import_people(
        app,
        phones.id,
        [
            ProfileImport(
                fields={"phone": "+15550000001"},
                subscriptions={Channel.EMAIL: SubscriptionStatus.SUBSCRIBED},
            )
        ],
    ).profile_ids[0]
    task = run_one(app, clock, phones.id, pid, [email("mail", text="Hello"), *EXITS], EMAIL_EDGES)
    assert path(task) == [("default", "next"), ("mail", "error"), ("failed", "exit")]
    assert task["data"]["last_error"]["message"] == "profile has no email"
    assert outbox(app, task["task_id"]) == []


def test_unsubscribed_profile_is_skipped_with_a_reason_and_goes_on(
    app: App, clock: FakeClock, db: ProfileDatabase
) -> None:
    pid = one_person(app, db.id, email_status=SubscriptionStatus.UNSUBSCRIBED)
    task = run_one(app, clock, db.id, pid, [email("mail", text="Hello"), *EXITS], EMAIL_EDGES)
    assert path(task) == [("default", "next"), ("mail", "next"), ("sent", "exit")]
    [message] = outbox(app, task["task_id"])
    assert message["status"] == "skipped"
    assert message["reason"] == "not subscribed to email (unsubscribed)"
    assert "sent" not in task["data"]


def test_subscribed_profile_gets_a_rendered_message(
    app: App, clock: FakeClock, db: ProfileDatabase
) -> None:
    pid = one_person(app, db.id, email_status=SubscriptionStatus.SUBSCRIBED)
    nodes = [email("mail", subject="Hi {{ profile.first_name }}", text="Hello"), *EXITS]
    task = run_one(app, clock, db.id, pid, nodes, EMAIL_EDGES)
    [message] = outbox(app, task["task_id"])
    assert message["status"] == "queued"
    assert message["payload"]["to"] == "user1@example.com"
    assert message["payload"]["subject"] == "Hi User1"
    assert task["data"]["sent"] == {"email": 1}


def test_welcome_greets_a_profile_without_a_first_name_as_friend(
    app: App, db: ProfileDatabase
) -> None:
    # The example's templates fall back with `profile.first_name or 'friend'`.
    app.profiles.add_promo_codes("welcome", ["W1"])
    saved = app.scenarios.save(welcome_scenario(db.id))
    assert saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    [profile_id] = import_people(
        app,
        db.id,
        [
            ProfileImport(
                fields={"email": "anon@example.com"},
                subscriptions={Channel.EMAIL: SubscriptionStatus.UNCONFIRMED},
            )
        ],
    ).profile_ids
    app.run_pending()
    with app.store.read() as tx:
        messages = tx.outbox.all("email")
    [task] = app.profiles.card(profile_id)["tasks"]
    assert [m["node_id"] for m in messages] == ["welcome_email"], task["data"].get("last_error")
    assert messages[0]["payload"]["subject"] == "Welcome, friend!"
