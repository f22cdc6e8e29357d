"""Segments: rule checking, SQL evaluation of every rule kind, static members, access,
and sending a segment's members through a scenario's default capture."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql

from scenaria.clock import DAY, FakeClock
from scenaria.errors import Conflict, InvalidInput, NotFound, ScenarioNotActive
from scenaria.model.access import User
from scenaria.model.nodes.condition import _compare
from scenaria.model.profiles import Channel, FieldType, ProfileDatabase, SubscriptionStatus, coerce
from scenaria.model.scenario import Edge, Node, ReentryMode, Scenario
from scenaria.model.segments import (
    MAX_DEPTH,
    FieldRule,
    RuleGroup,
    SegmentKind,
)
from scenaria.services.app import App
from scenaria.store.schema import profiles
from scenaria.store.segments_repo import rules_clause
from tests.conftest import import_people, person

SALES = User(id=101, name="sam", groups=frozenset({"sales"}))
OPS = User(id=102, name="olga", groups=frozenset({"ops"}))


def rules(*items: dict[str, Any], match: str = "all", negate: bool = False) -> RuleGroup:
    return RuleGroup.model_validate({"match": match, "rules": list(items), "negate": negate})


def field(name: str, op: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {"type": "field", "field": name, "op": op, "value": value, **extra}


def members(app: App, segment_id: int) -> set[int]:
    return {m["id"] for m in app.segments.members(segment_id, limit=1000).items}


def matching(app: App, db: ProfileDatabase, group: RuleGroup) -> set[int]:
    """Who a dynamic segment with these rules holds now (saved, listed, then deleted)."""
    assert db.id is not None
    segment = app.segments.create(db.id, "probe", SegmentKind.DYNAMIC, group)
    assert segment.id is not None
    try:
        found = members(app, segment.id)
        assert app.segments.count(segment.id) == len(found)
        assert app.segments.preview(db.id, group) == len(found)
        return found
    finally:
        app.segments.delete(segment.id)


@pytest.fixture
def people(app: App, db: ProfileDatabase) -> list[int]:
    """Five profiles: loyalty points 0, 10, 20, 30 and none; user1 confirmed email."""
    assert db.id is not None
    rows = [person(i, loyalty_points=(i - 1) * 10) for i in range(1, 5)]
    rows[0] = person(1, email_status=SubscriptionStatus.SUBSCRIBED, loyalty_points=0)
    rows.append(person(5, first_name=""))
    return import_people(app, db.id, rows).profile_ids


# ------------------------------------------------------------------ field rules


def test_numeric_comparisons_take_the_fields_type(app: App, db, people: list[int]) -> None:
    p1, p2, p3, p4, p5 = people
    assert matching(app, db, rules(field("loyalty_points", "gt", 10))) == {p3, p4}
    assert matching(app, db, rules(field("loyalty_points", "gte", "10"))) == {p2, p3, p4}
    assert matching(app, db, rules(field("loyalty_points", "lt", 10))) == {p1}
    assert matching(app, db, rules(field("loyalty_points", "lte", 10.0))) == {p1, p2}
    assert matching(app, db, rules(field("loyalty_points", "eq", 20))) == {p3}
    # A profile without the field is "not equal" to any value, as in the Condition node.
    assert matching(app, db, rules(field("loyalty_points", "ne", 20))) == {p1, p2, p4, p5}


def test_string_set_and_contains(app: App, db, people: list[int]) -> None:
    p1, p2, p3, p4, p5 = people
    assert matching(app, db, rules(field("first_name", "eq", "User2"))) == {p2}
    assert matching(app, db, rules(field("first_name", "contains", "USER"))) == {p1, p2, p3, p4}
    assert matching(app, db, rules(field("email", "contains", "%"))) == set()
    assert matching(app, db, rules(field("first_name", "is_not_set"))) == {p5}
    assert matching(app, db, rules(field("loyalty_points", "is_set"))) == {p1, p2, p3, p4}
    assert matching(app, db, rules(field("loyalty_points", "is_not_set"))) == {p5}


def test_bool_and_date_fields(app: App) -> None:
    db = app.profiles.create_database(
        "Typed", {"first_name": FieldType.STRING, "vip": FieldType.BOOL, "born": FieldType.DATE}
    )
    assert db.id is not None
    ids = import_people(
        app,
        db.id,
        [
            person(1, vip=True, born="1990-05-01"),
            person(2, vip=False, born=date(2001, 1, 31)),
            person(3),
        ],
    ).profile_ids
    assert matching(app, db, rules(field("vip", "eq", "yes"))) == {ids[0]}
    assert matching(app, db, rules(field("vip", "ne", True))) == {ids[1], ids[2]}
    assert matching(app, db, rules(field("born", "lt", "2000-01-01"))) == {ids[0]}
    assert matching(app, db, rules(field("born", "gte", "2000-01-01"))) == {ids[1]}


def test_subscription_rules(app: App, db, people: list[int]) -> None:
    p1 = people[0]
    assert matching(app, db, rules({"type": "subscription", "channel": "email"})) == {p1}
    unconfirmed = {"type": "subscription", "channel": "email", "status": "unconfirmed"}
    assert matching(app, db, rules(unconfirmed)) == set(people[1:])
    assert matching(app, db, rules({"type": "subscription", "channel": "sms"})) == set(people)


def test_groups_any_and_negate(app: App, db, people: list[int]) -> None:
    p1, p2, p3, p4, p5 = people
    low = field("loyalty_points", "lt", 10)
    high = field("loyalty_points", "gt", 20)
    assert matching(app, db, rules(low, high, match="any")) == {p1, p4}
    assert matching(app, db, rules(low, high, match="any", negate=True)) == {p2, p3, p5}
    # A negated comparison is the exact complement: the profile without points is in it.
    assert matching(app, db, rules({**low, "negate": True})) == {p2, p3, p4, p5}
    nested = rules(
        field("first_name", "is_set"),
        {"type": "group", "match": "any", "rules": [low, high]},
    )
    assert matching(app, db, nested) == {p1, p4}


# Reference semantics: SQL evaluation agrees with the Condition node's comparisons.
OPS_ = ["eq", "ne", "gt", "gte", "lt", "lte", "contains", "is_set", "is_not_set"]
REFERENCE_FIELDS = {"points": FieldType.INT, "score": FieldType.FLOAT, "nick": FieldType.STRING}
REFERENCE_VALUES: dict[str, list[Any]] = {
    "points": [-5, 0, 3, 7, None],
    "score": [-1.5, 0.0, 2.25, 7.0, None],
    "nick": ["", "ann", "Anna", "bob", "a_b", None],
}


def _reference(rule: FieldRule, fields: dict[str, Any]) -> bool:
    actual = fields.get(rule.field)
    expected = rule.value
    if expected is not None and rule.op not in ("is_set", "is_not_set", "contains"):
        expected = coerce(expected, REFERENCE_FIELDS[rule.field])
    return _compare(rule.op, actual, expected) != rule.negate


@st.composite
def field_rules(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(REFERENCE_FIELDS)))
    kind = REFERENCE_FIELDS[name]
    ops = [o for o in OPS_ if kind is FieldType.STRING or o != "contains"]
    if kind is FieldType.STRING:
        ops = [o for o in ops if o not in ("gt", "gte", "lt", "lte")]
    op = draw(st.sampled_from(ops))
    pool = [v for v in REFERENCE_VALUES[name] if v is not None]
    value = None if op in ("is_set", "is_not_set") else draw(st.sampled_from(pool))
    if op in ("eq", "ne", "contains") and value == "":
        value = "an"
    return field(name, op, value, negate=draw(st.booleans()))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=st.lists(field_rules(), min_size=1, max_size=3), match=st.sampled_from(["all", "any"]))
def test_sql_agrees_with_the_condition_nodes_semantics(
    app: App, drawn: list[dict[str, Any]], match: str
) -> None:
    with app.store.read() as tx:
        existing = tx.databases.list()
    db = next((d for d in existing if d.name == "Reference"), None)
    if db is None:
        db = app.profiles.create_database(
            "Reference", {**REFERENCE_FIELDS, "first_name": FieldType.STRING}
        )
        assert db.id is not None
        rows = []
        for i in range(30):
            values = {
                k: v[i % len(v)] if k != "score" else v[(i // 3) % len(v)]
                for k, v in REFERENCE_VALUES.items()
            }
            values = {k: v for k, v in values.items() if v is not None}
            rows.append(person(i, **values))
        import_people(app, db.id, rows)
    assert db.id is not None
    group = rules(*drawn, match=match)
    checked = [FieldRule.model_validate(r) for r in drawn]
    with app.store.read() as tx:
        found = set(
            tx.conn.execute(
                select(profiles.c.id).where(
                    profiles.c.database_id == db.id,
                    rules_clause(group, {**db.all_fields()}, 0.0),
                )
            ).scalars()
        )
        every = tx.conn.execute(
            select(profiles.c.id, profiles.c.fields).where(profiles.c.database_id == db.id)
        ).all()
    join = all if match == "all" else any
    expected = {pid for pid, fields in every if join(_reference(r, fields) for r in checked)}
    assert found == expected


def test_rules_compile_for_postgresql() -> None:
    group = rules(
        field("loyalty_points", "gte", 10),
        field("first_name", "contains", "an"),
        {"type": "subscription", "channel": "email"},
        {"type": "event", "event": "opened", "within_days": 7},
        {"type": "scenario", "scenario_id": 3, "participation": "now", "negate": True},
    )
    fields = {"first_name": FieldType.STRING, "loyalty_points": FieldType.INT}
    sql = str(
        select(func.count())
        .where(rules_clause(group, fields, 1_000.0))
        .compile(dialect=postgresql.dialect())
    )
    assert "CAST((profiles.fields ->> " in sql
    assert "EXISTS (SELECT * \nFROM events" in sql
    assert "NOT (EXISTS (SELECT * \nFROM tasks" in sql


# ------------------------------------------------------------------ event rules


def test_event_rules_with_and_without_a_time_window(
    app: App, db, people: list[int], clock: FakeClock
) -> None:
    p1, p2, p3 = people[:3]
    with app.store.transaction() as tx:
        tx.events.add(p1, "purchase", clock.now() - 30 * DAY)
        tx.events.add(p2, "purchase", clock.now() - 2 * DAY)
        tx.events.add(p3, "opened", clock.now())
    purchase = {"type": "event", "event": "purchase"}
    assert matching(app, db, rules(purchase)) == {p1, p2}
    assert matching(app, db, rules({**purchase, "within_days": 7})) == {p2}
    assert matching(app, db, rules({**purchase, "negate": True})) == set(people) - {p1, p2}
    clock.advance(6 * DAY)
    assert matching(app, db, rules({**purchase, "within_days": 7})) == set()


def test_a_subscription_change_is_an_event_too(app: App, db, people: list[int]) -> None:
    app.profiles.confirm_subscription(people[3], Channel.EMAIL)
    confirmed = {"type": "event", "event": "subscription_confirmed", "within_days": 1}
    assert matching(app, db, rules(confirmed)) == {people[3]}


# --------------------------------------------------------- scenario participation


def promo_scenario(database_id: int, reentry: ReentryMode = ReentryMode.ONCE_EVER) -> Scenario:
    """default → promo code (pool 'one'; its error port unwired) → pause 1 day → exit."""
    return Scenario(
        database_id=database_id,
        name="Promo",
        reentry=reentry,
        nodes=[
            Node(id="default", kind="default_capture"),
            Node(id="promo", kind="promo_code", settings={"pool": "one"}),
            Node(id="wait", kind="pause", settings={"days": 1}),
            Node(id="done", kind="exit"),
        ],
        edges=[
            Edge(source="default", target="promo"),
            Edge(source="promo", target="wait"),
            Edge(source="wait", target="done"),
        ],
    )


def pause_scenario(database_id: int, reentry: ReentryMode = ReentryMode.ONCE_EVER) -> Scenario:
    """default → pause 1 day → exit."""
    return Scenario(
        database_id=database_id,
        name="Pause",
        reentry=reentry,
        nodes=[
            Node(id="default", kind="default_capture"),
            Node(id="wait", kind="pause", settings={"days": 1}),
            Node(id="done", kind="exit"),
        ],
        edges=[Edge(source="default", target="wait"), Edge(source="wait", target="done")],
    )


def start(app: App, scenario: Scenario) -> int:
    saved = app.scenarios.save(scenario)
    assert saved.problems == [], saved.problems
    assert saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    return saved.scenario.id


def participation(scenario_id: int, how: str, negate: bool = False) -> RuleGroup:
    return rules(
        {"type": "scenario", "scenario_id": scenario_id, "participation": how, "negate": negate}
    )


def test_scenario_participation_rules_follow_a_running_scenario(
    app: App, db, people: list[int], clock: FakeClock
) -> None:
    p1, p2 = people[:2]
    app.profiles.add_promo_codes("one", ["ONLY-ONE"])
    sid = start(app, promo_scenario(db.id))
    assert app.scenarios.engage(sid, p1).captured
    app.run_pending()  # p1 takes the only code and waits a day
    assert app.scenarios.engage(sid, p2).captured
    app.run_pending()  # the pool is empty: p2 fails at the promo node

    assert matching(app, db, participation(sid, "ever")) == {p1, p2}
    assert matching(app, db, participation(sid, "now")) == {p1}
    assert matching(app, db, participation(sid, "failed")) == {p2}
    assert matching(app, db, participation(sid, "completed")) == set()
    assert matching(app, db, participation(sid, "ever", negate=True)) == set(people[2:])

    app.run_until_idle(clock)
    assert matching(app, db, participation(sid, "now")) == set()
    assert matching(app, db, participation(sid, "completed")) == {p1}
    assert matching(app, db, participation(sid, "failed")) == {p2}


# ------------------------------------------------------------------ rule checking


def test_problems_name_each_rule(app: App, db) -> None:
    other = app.profiles.create_database("Other")
    assert other.id is not None
    foreign = app.scenarios.save(pause_scenario(other.id)).scenario.id
    bad = rules(
        field("age", "gt", 3),
        field("first_name", "gt", "a"),
        field("loyalty_points", "eq", "many"),
        field("loyalty_points", "eq"),
        field("loyalty_points", "contains", "1"),
        {"type": "scenario", "scenario_id": 999},
        {"type": "group", "rules": [{"type": "scenario", "scenario_id": foreign}]},
    )
    with pytest.raises(InvalidInput) as err:
        app.segments.create(db.id, "Bad", SegmentKind.DYNAMIC, bad)
    text = str(err.value)
    assert "rule 1 (field 'age' gt 3): 'age' is not a field of the profile database" in text
    assert "rule 2 (field 'first_name' gt 'a'): 'gt' needs a number or date field" in text
    assert (
        "rule 3 (field 'loyalty_points' eq 'many'): loyalty_points: 'many' is not a valid int"
        in text
    )
    assert "rule 4 (field 'loyalty_points' eq None): 'eq' needs a value; to test for" in text
    assert "rule 5" in text and "'contains' needs a string field" in text
    assert "rule 6 (scenario 999 ever): scenario 999 does not exist" in text
    assert f"rule 7.1 (scenario {foreign} ever): scenario {foreign} 'Pause' uses another" in text
    with app.store.read() as tx:
        assert tx.segments.list_all() == []


def test_out_of_range_numbers_and_too_deep_groups_are_refused(app: App, db) -> None:
    with pytest.raises(InvalidInput, match=r"not a valid int|out of range"):
        app.segments.preview(db.id, rules(field("loyalty_points", "gt", "1" + "0" * 400)))
    deep: dict[str, Any] = field("first_name", "is_set")
    for _ in range(MAX_DEPTH - 1):
        deep = {"type": "group", "rules": [deep]}
    assert app.segments.preview(db.id, rules(deep)) == 0  # as deep as allowed
    deep = {"type": "group", "rules": [deep]}
    with pytest.raises(InvalidInput, match=f"nest at most {MAX_DEPTH} levels"):
        app.segments.preview(db.id, rules(deep))


def test_kinds_need_the_right_rules(app: App, db) -> None:
    with pytest.raises(InvalidInput, match="dynamic segment needs rules"):
        app.segments.create(db.id, "No rules", SegmentKind.DYNAMIC)
    with pytest.raises(InvalidInput, match="static segment has no rules"):
        app.segments.create(db.id, "Rules", SegmentKind.STATIC, rules(field("email", "is_set")))
    with pytest.raises(InvalidInput, match="profile database 77 does not exist"):
        app.segments.create(77, "Nowhere", SegmentKind.STATIC)
    static = app.segments.create(db.id, "List", SegmentKind.STATIC)
    assert static.id is not None
    with pytest.raises(InvalidInput, match="is static: it has no rules"):
        app.segments.update(static.id, rules=rules(field("email", "is_set")))


def test_update_rechecks_and_coerces_the_rules(app: App, db, people: list[int]) -> None:
    segment = app.segments.create(
        db.id, "Rich", SegmentKind.DYNAMIC, rules(field("loyalty_points", "gte", 20))
    )
    assert segment.id is not None
    assert app.segments.count(segment.id) == 2
    updated = app.segments.update(
        segment.id, name="Richer", rules=rules(field("loyalty_points", "gte", "30"))
    )
    assert updated.name == "Richer"
    assert updated.rules is not None and updated.rules.rules[0].value == 30  # type: ignore[union-attr]
    assert app.segments.get(segment.id) == updated
    assert app.segments.count(segment.id) == 1
    with pytest.raises(InvalidInput, match="rule 1"):
        app.segments.update(segment.id, rules=rules(field("nope", "is_set")))


# ------------------------------------------------------------------ static segments


def test_static_members_by_id_and_match_key(app: App, db, people: list[int]) -> None:
    other = app.profiles.create_database("Other", {"first_name": FieldType.STRING})
    assert other.id is not None
    stranger = import_people(app, other.id, [person(9)]).profile_ids[0]
    segment = app.segments.create(db.id, "Hand-picked", SegmentKind.STATIC)
    assert segment.id is not None

    added = app.segments.add_members(
        segment.id,
        profile_ids=[people[0], people[1], people[0], stranger, 424242],
        match_keys=[" USER3@Example.com", "user2@example.com", "ghost@example.com"],
    )
    assert added.changed == 3 and added.unchanged == 0
    assert added.unknown_profile_ids == [stranger, 424242]
    assert added.unknown_match_keys == ["ghost@example.com"]
    assert members(app, segment.id) == set(people[:3])

    again = app.segments.add_members(segment.id, profile_ids=[people[0], people[3]])
    assert (again.changed, again.unchanged) == (1, 1)
    assert app.segments.count(segment.id) == 4

    removed = app.segments.remove_members(
        segment.id, profile_ids=[people[0], people[4]], match_keys=["user2@example.com"]
    )
    assert (removed.changed, removed.unchanged) == (2, 1)
    assert members(app, segment.id) == {people[2], people[3]}

    assert app.segments.clear(segment.id) == 2
    assert app.segments.count(segment.id) == 0


def test_dynamic_members_cannot_be_edited_by_hand(app: App, db, people: list[int]) -> None:
    segment = app.segments.create(
        db.id, "Auto", SegmentKind.DYNAMIC, rules(field("email", "is_set"))
    )
    assert segment.id is not None
    with pytest.raises(Conflict, match="is dynamic"):
        app.segments.add_members(segment.id, profile_ids=[people[0]])
    with pytest.raises(Conflict, match="is dynamic"):
        app.segments.remove_members(segment.id, profile_ids=[people[0]])
    with pytest.raises(Conflict, match="is dynamic"):
        app.segments.clear(segment.id)


def test_members_page_by_profile_id(app: App, db, people: list[int]) -> None:
    segment = app.segments.create(
        db.id, "All", SegmentKind.DYNAMIC, rules(field("email", "is_set"))
    )
    assert segment.id is not None
    seen: list[int] = []
    after = 0
    while True:
        page = app.segments.members(segment.id, after=after, limit=2)
        seen += [m["id"] for m in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted(people)


def test_delete_removes_the_segment_and_its_members(app: App, db, people: list[int]) -> None:
    segment = app.segments.create(db.id, "Gone", SegmentKind.STATIC)
    assert segment.id is not None
    app.segments.add_members(segment.id, profile_ids=people)
    app.segments.delete(segment.id)
    with pytest.raises(NotFound, match=f"segment {segment.id} does not exist"):
        app.segments.get(segment.id)
    with app.store.read() as tx:
        assert tx.conn.exec_driver_sql("SELECT count(*) FROM segment_members").scalar() == 0
    with pytest.raises(NotFound):
        app.segments.delete(segment.id)


# ------------------------------------------------------------------ access


def test_segments_are_visible_to_their_groups_only(app: App, db) -> None:
    mine = app.segments.create(
        db.id, "Sales list", SegmentKind.STATIC, groups=["sales"], actor=SALES
    )
    open_ = app.segments.create(db.id, "Everyone's", SegmentKind.STATIC)
    assert mine.id is not None
    assert app.segments.get(mine.id, SALES) == mine
    with pytest.raises(NotFound, match=f"segment {mine.id} does not exist"):
        app.segments.get(mine.id, OPS)
    with pytest.raises(NotFound):
        app.segments.count(mine.id, OPS)
    with pytest.raises(NotFound):
        app.segments.update(mine.id, OPS, name="Mine now")
    with pytest.raises(NotFound):
        app.segments.delete(mine.id, OPS)
    assert [s.id for s in app.segments.list_all(OPS)] == [open_.id]
    assert {s.id for s in app.segments.list_all()} == {mine.id, open_.id}  # the system is admin
    with pytest.raises(InvalidInput, match="the segment would be hidden from you"):
        app.segments.create(db.id, "Theirs", SegmentKind.STATIC, groups=["ops"], actor=SALES)
    with pytest.raises(InvalidInput, match="hidden from you"):
        app.segments.update(mine.id, SALES, groups=["ops"])


def test_rules_may_name_only_scenarios_the_author_can_see(app: App, db) -> None:
    hidden = pause_scenario(db.id).model_copy(update={"groups": ["ops"]})
    sid = app.scenarios.save(hidden).scenario.id
    assert sid is not None
    with pytest.raises(InvalidInput, match=f"scenario {sid} does not exist"):
        app.segments.preview(db.id, participation(sid, "ever"), SALES)
    assert app.segments.preview(db.id, participation(sid, "ever"), OPS) == 0


# ------------------------------------------------------------ send to a scenario


def test_send_a_segment_in_batches_and_count_refusals(
    app: App, db, people: list[int], clock: FakeClock
) -> None:
    sid = start(app, pause_scenario(db.id, ReentryMode.NOT_WHILE_ACTIVE))
    segment = app.segments.create(
        db.id, "Has points", SegmentKind.DYNAMIC, rules(field("loyalty_points", "is_set"))
    )
    assert segment.id is not None
    app.segments.batch_size = 3

    sent = app.segments.send_to_scenario(segment.id, sid)
    assert (sent.processed, sent.captured, sent.batches) == (4, 4, 2)
    assert sent.refused == {"once_ever": 0, "not_while_active": 0}
    app.run_pending()
    assert matching(app, db, participation(sid, "now")) == set(people[:4])

    again = app.segments.send_to_scenario(segment.id, sid)
    assert (again.processed, again.captured) == (4, 0)
    assert again.refused == {"once_ever": 0, "not_while_active": 4}

    app.run_until_idle(clock)
    after_leaving = app.segments.send_to_scenario(segment.id, sid)
    assert after_leaving.captured == 4
    with app.store.read() as tx:
        journal = [e for e in tx.audit.for_scenario(sid) if e["action"] == "send_segment"]
    assert len(journal) == 3
    assert journal[0]["details"] == {"segment_id": segment.id, "processed": 4, "captured": 4}


def test_send_walks_a_shrinking_segment_without_skipping(app: App, db, people: list[int]) -> None:
    sid = start(app, pause_scenario(db.id, ReentryMode.ONCE_EVER))
    never_in = app.segments.create(
        db.id, "Not yet engaged", SegmentKind.DYNAMIC, participation(sid, "ever", negate=True)
    )
    assert never_in.id is not None
    app.segments.batch_size = 2
    sent = app.segments.send_to_scenario(never_in.id, sid)
    assert (sent.processed, sent.captured, sent.batches) == (5, 5, 3)
    assert app.segments.count(never_in.id) == 0
    once_more = app.segments.send_to_scenario(never_in.id, sid)
    assert (once_more.processed, once_more.batches) == (0, 0)


def test_a_static_segment_with_once_ever_refusals(app: App, db, people: list[int]) -> None:
    sid = start(app, pause_scenario(db.id, ReentryMode.ONCE_EVER))
    segment = app.segments.create(db.id, "Two", SegmentKind.STATIC)
    assert segment.id is not None
    app.segments.add_members(segment.id, profile_ids=people[:2])
    app.scenarios.engage(sid, people[0])
    sent = app.segments.send_to_scenario(segment.id, sid)
    assert (sent.processed, sent.captured) == (2, 1)
    assert sent.refused["once_ever"] == 1


def test_send_refusals(app: App, db, people: list[int]) -> None:
    other = app.profiles.create_database("Other")
    assert other.id is not None
    foreign = app.segments.create(other.id, "Elsewhere", SegmentKind.STATIC)
    local = app.segments.create(db.id, "Here", SegmentKind.STATIC)
    assert foreign.id is not None and local.id is not None
    draft = app.scenarios.save(pause_scenario(db.id)).scenario.id
    assert draft is not None
    with pytest.raises(InvalidInput, match="must be the same"):
        app.segments.send_to_scenario(foreign.id, draft)
    with pytest.raises(ScenarioNotActive, match="is draft, not active"):
        app.segments.send_to_scenario(local.id, draft)
    with pytest.raises(NotFound, match="scenario 999 does not exist"):
        app.segments.send_to_scenario(local.id, 999)
    hidden = app.scenarios.save(pause_scenario(db.id).model_copy(update={"groups": ["ops"]}))
    assert hidden.scenario.id is not None
    with pytest.raises(NotFound, match=f"scenario {hidden.scenario.id} does not exist"):
        app.segments.send_to_scenario(local.id, hidden.scenario.id, SALES)
    secret = app.segments.create(db.id, "Ops only", SegmentKind.STATIC, groups=["ops"])
    assert secret.id is not None
    with pytest.raises(NotFound, match=f"segment {secret.id} does not exist"):
        app.segments.send_to_scenario(secret.id, draft, SALES)


def test_a_scenario_stopped_midway_reports_how_far_it_got(
    app: App, db, people: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = start(app, pause_scenario(db.id, ReentryMode.PARALLEL))
    segment = app.segments.create(
        db.id, "All", SegmentKind.DYNAMIC, rules(field("email", "is_set"))
    )
    assert segment.id is not None
    app.segments.batch_size = 2
    engage_many = app.scenarios.engage_many
    calls = []

    def stop_after_first(scenario_id: int, ids: list[int], *args: Any) -> Any:
        calls.append(ids)
        if len(calls) == 2:
            app.scenarios.stop(scenario_id)
        return engage_many(scenario_id, ids, *args)

    monkeypatch.setattr(app.scenarios, "engage_many", stop_after_first)
    with pytest.raises(Conflict, match="stopped while the segment was being sent: 2 profiles"):
        app.segments.send_to_scenario(segment.id, sid)
