"""The step-by-step welcome guide's story, run end to end on examples/welcome.yaml.

New profiles get a welcome email and a day to read it. Those who confirmed their
email subscription by then get +100 loyalty points, one promo code and a promo
email; the others get one reminder SMS, wait a day, are checked again and, if
still unconfirmed, are handed to the call centre by an API request.
"""

from __future__ import annotations

import json
from typing import Any

from scenaria.clock import DAY, FakeClock
from scenaria.engine.delivery import Deliverer, RetryPolicy
from scenaria.model.profiles import SubscriptionStatus
from scenaria.model.scenario import Edge, Node
from scenaria.services.app import App
from scenaria.services.profiles import ProfileImport
from tests.conftest import HttpSink, import_people, person, welcome_scenario

HOUR = 3600.0

START = [("new_profile", "next"), ("welcome_email", "next"), ("read_time", "next")]
REWARD = [
    ("confirmed", "yes"),
    ("loyalty_points", "next"),
    ("promo_code", "next"),
    ("promo_email", "next"),
]
REMINDER = [
    ("confirmed", "no"),
    ("sms_sent", "no"),
    ("reminder_sms", "next"),
    ("sms_wait", "next"),
]
CONFIRMED_PATH = START + REWARD
CALL_CENTRE_PATH = [*START, *REMINDER, ("confirmed", "no"), ("sms_sent", "yes")]
LATE_CONFIRM_PATH = START + REMINDER + REWARD


# --------------------------------------------------------------------------- helpers


def start_welcome(app: App, db_id: int, url: str | None, codes: list[str]) -> int:
    if codes:
        app.profiles.add_promo_codes("welcome", codes)
    saved = app.scenarios.save(welcome_scenario(db_id, url))
    assert saved.problems == []
    app.scenarios.activate(saved.scenario.id)
    return saved.scenario.id


def only_task(app: App, profile_id: int) -> dict[str, Any]:
    tasks = app.profiles.card(profile_id)["tasks"]
    assert len(tasks) == 1
    return tasks[0]


def path_of(task: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["node_id"], v["port"]) for v in task["path"]]


def outbox(app: App, channel: str, profile_id: int | None = None) -> list[dict[str, Any]]:
    with app.store.transaction() as tx:
        rows = tx.outbox.all(channel)
    return [r for r in rows if profile_id is None or r["profile_id"] == profile_id]


def promo_given(app: App) -> list[tuple[str, int]]:
    with app.store.transaction() as tx:
        return tx.promo.given("welcome")


def header(request: dict[str, Any], name: str) -> str | None:
    return next((v for k, v in request["headers"].items() if k.lower() == name.lower()), None)


def assert_stats_match_visits(app: App, scenario_id: int) -> None:
    """Each node's entered/exited/errors/inside counters tell what the visit history tells."""
    stats = app.stats.scenario(scenario_id, all_time=True)
    with app.store.transaction() as tx:
        task_ids = tx.tasks.all_ids(scenario_id)
        visits = [v for t in task_ids for v in tx.visits.for_task(t)]
        tasks = [tx.tasks.get(t) for t in task_ids]
    live_at: dict[str, int] = {}
    for t in tasks:
        if t.node_id is not None:
            live_at[t.node_id] = live_at.get(t.node_id, 0) + 1
    for node in stats.nodes:
        mine = [v for v in visits if v["node_id"] == node.id]
        assert node.exited == len(mine), node
        assert node.inside == live_at.get(node.id, 0), node
        assert node.entered == node.exited + node.inside, node
        assert node.errors == len([v for v in mine if v["port"] == "error"]), node
    assert stats.entered == len(tasks)
    assert stats.completed == len([t for t in tasks if t.state.value == "finished"])
    assert stats.failed == len([t for t in tasks if t.state.value == "failed"])
    assert stats.inside == len([t for t in tasks if t.node_id is not None])


def reach_call_centre(app: App, clock: FakeClock) -> None:
    """From the import: the first pause, the SMS, the SMS pause, then the API request."""
    app.run_pending()
    clock.advance(DAY)
    app.run_pending()
    clock.advance(DAY)
    app.run_pending()


# --------------------------------------------------------------------------- the story


def test_welcome_story_every_profile_takes_its_path(
    app: App, db, clock: FakeClock, http_sink: HttpSink
) -> None:
    codes = [f"WELCOME-{i:02d}" for i in range(1, 11)]
    scenario_id = start_welcome(app, db.id, http_sink.url, codes)
    t0 = clock.now()
    people = [
        person(1),  # confirms within the first day
        person(2),  # confirms within the first day
        person(3),  # never confirms
        person(4),  # never confirms
        person(5),  # confirms during the pause after the SMS
        person(6, email_status=SubscriptionStatus.SUBSCRIBED),  # confirmed before joining
    ]
    result = import_people(app, db.id, people)
    assert result.created == 6 and result.captured == 6
    p1, p2, p3, p4, p5, p6 = result.profile_ids

    app.run_pending()
    welcome = outbox(app, "email")
    assert sorted(m["profile_id"] for m in welcome) == sorted(result.profile_ids)
    first = next(m for m in welcome if m["profile_id"] == p1)
    assert first["node_id"] == "welcome_email"
    assert first["payload"]["to"] == "user1@example.com"
    assert first["payload"]["subject"] == "Welcome, User1!"
    for pid in result.profile_ids:
        assert only_task(app, pid)["node_id"] == "read_time"

    # Two of them confirm during the day they are given to read the email.
    clock.advance(6 * HOUR)
    app.profiles.confirm_subscription(p1)
    app.profiles.confirm_subscription(p2)
    app.run_pending()
    assert only_task(app, p1)["node_id"] == "read_time", "the reward waits for the pause"
    assert promo_given(app) == []

    # The day is over: the confirmed are rewarded, the others reminded by SMS.
    clock.advance_to(t0 + DAY)
    app.run_pending()
    for pid in (p1, p2, p6):
        assert only_task(app, pid)["state"] == "finished"
    for pid in (p3, p4, p5):
        assert only_task(app, pid)["node_id"] == "sms_wait"
    assert http_sink.requests == []

    # One of the reminded confirms while the SMS pause runs.
    clock.advance(6 * HOUR)
    app.profiles.confirm_subscription(p5)
    app.run_pending()
    assert only_task(app, p5)["node_id"] == "sms_wait"

    clock.advance_to(t0 + 2 * DAY)
    app.run_pending()
    app.run_until_idle(clock)

    # Paths, as the profile card shows them.
    for pid in (p1, p2, p6):
        task = only_task(app, pid)
        assert path_of(task) == CONFIRMED_PATH
        assert (task["state"], task["end_reason"]) == ("finished", "completed")
    for pid in (p3, p4):
        task = only_task(app, pid)
        assert path_of(task) == [*CALL_CENTRE_PATH, ("call_centre", "next")]
        assert (task["state"], task["end_reason"]) == ("finished", "completed")
        assert task["data"]["api_response"]["status"] == 200
    late = only_task(app, p5)
    assert path_of(late) == LATE_CONFIRM_PATH
    assert (late["state"], late["end_reason"]) == ("finished", "completed")

    # Loyalty points: +100 for the confirmed, nothing for the others.
    rewarded = (p1, p2, p5, p6)
    for pid in rewarded:
        assert app.profiles.card(pid)["fields"]["loyalty_points"] == 100
    for pid in (p3, p4):
        assert app.profiles.card(pid)["fields"].get("loyalty_points") is None

    # Promo codes: exactly one per rewarded task, no code given twice, and the
    # promo email carries the profile's own code.
    given = promo_given(app)
    assert len(given) == len(rewarded)
    assert len({code for code, _ in given}) == len(given)
    assert {code for code, _ in given} <= set(codes)
    code_of_task = {task_id: code for code, task_id in given}
    assert len(code_of_task) == len(rewarded)
    for pid in rewarded:
        task = only_task(app, pid)
        code = code_of_task[task["task_id"]]
        assert task["data"]["promo_code"] == code
        promo = [m for m in outbox(app, "email", pid) if m["node_id"] == "promo_email"]
        assert len(promo) == 1
        assert promo[0]["payload"]["text"] == f"Your promo code: {code}"
        assert code in promo[0]["payload"]["html"]
    for pid in (p3, p4):
        assert [m["node_id"] for m in outbox(app, "email", pid)] == ["welcome_email"]

    # SMS: exactly one reminder for each profile that was unconfirmed after a day.
    for pid, i in ((p3, 3), (p4, 4), (p5, 5)):
        sms = outbox(app, "sms", pid)
        assert len(sms) == 1
        assert sms[0]["payload"]["to"] == f"+1555{i:07d}"
        assert sms[0]["payload"]["text"] == (
            f"User{i}, please confirm your subscription: check your inbox."
        )
    for pid in (p1, p2, p6):
        assert outbox(app, "sms", pid) == []

    # The call centre: one request per still-unconfirmed profile, with its contacts.
    assert len(http_sink.requests) == 2
    bodies = {b["email"]: b for b in http_sink.json_bodies()}
    assert bodies == {
        "user3@example.com": {
            "name": "User3",
            "email": "user3@example.com",
            "phone": "+15550000003",
        },
        "user4@example.com": {
            "name": "User4",
            "email": "user4@example.com",
            "phone": "+15550000004",
        },
    }
    calls = outbox(app, "api_request")
    assert sorted(c["profile_id"] for c in calls) == sorted([p3, p4])
    keys = {c["key"] for c in calls}
    for request in http_sink.requests:
        assert request["method"] == "POST"
        assert request["path"] == "/call-requests"
        assert header(request, "Idempotency-Key") in keys
    assert len({header(r, "Idempotency-Key") for r in http_sink.requests}) == 2
    assert all(c["status"] == "sent" for c in calls)

    stats = app.stats.scenario(scenario_id, all_time=True)
    assert (stats.entered, stats.completed, stats.failed, stats.inside) == (6, 6, 0, 0)
    assert stats.errors == 0
    assert_stats_match_visits(app, scenario_id)

    # The greeting is a one-time event: re-entry is disabled for good.
    assert app.scenarios.engage(scenario_id, p3).refused == "once_ever"
    again = import_people(
        app, db.id, [ProfileImport(fields={"email": "user1@example.com", "first_name": "Ann"})]
    )
    assert (again.updated, again.captured) == (1, 0)
    assert len(app.profiles.card(p1)["tasks"]) == 1


def test_profile_confirmed_during_sms_pause_gets_reward_and_no_call(
    app: App, db, clock: FakeClock, http_sink: HttpSink
) -> None:
    start_welcome(app, db.id, http_sink.url, ["ONLY-ONE"])
    (pid,) = import_people(app, db.id, [person(7)]).profile_ids
    app.run_pending()
    clock.advance(DAY)
    app.run_pending()
    assert only_task(app, pid)["node_id"] == "sms_wait"
    clock.advance(12 * HOUR)
    app.profiles.confirm_subscription(pid)
    app.run_until_idle(clock)

    task = only_task(app, pid)
    assert path_of(task) == LATE_CONFIRM_PATH
    assert task["data"]["promo_code"] == "ONLY-ONE"
    assert app.profiles.card(pid)["fields"]["loyalty_points"] == 100
    assert len(outbox(app, "sms", pid)) == 1
    assert outbox(app, "api_request") == []
    assert http_sink.requests == []


# --------------------------------------------------------------------------- errors


def test_empty_promo_pool_sends_task_down_the_unwired_error_path(
    app: App, db, clock: FakeClock, http_sink: HttpSink
) -> None:
    scenario_id = start_welcome(app, db.id, http_sink.url, ["LAST-CODE"])
    people = [person(i, email_status=SubscriptionStatus.SUBSCRIBED) for i in (1, 2)]
    people.append(person(3))
    p1, p2, p3 = import_people(app, db.id, people).profile_ids
    app.run_until_idle(clock)

    given = promo_given(app)
    assert len(given) == 1 and given[0][0] == "LAST-CODE"
    tasks = {pid: only_task(app, pid) for pid in (p1, p2)}
    winner = next(pid for pid, t in tasks.items() if t["task_id"] == given[0][1])
    loser = p2 if winner == p1 else p1

    won = tasks[winner]
    assert path_of(won) == CONFIRMED_PATH
    assert won["state"] == "finished"

    lost = tasks[loser]
    assert path_of(lost) == [
        *START,
        ("confirmed", "yes"),
        ("loyalty_points", "next"),
        ("promo_code", "error"),
    ]
    assert (lost["state"], lost["end_reason"], lost["exit_node"]) == (
        "failed",
        "error",
        "promo_code",
    )
    assert lost["data"]["last_error"]["node"] == "promo_code"
    assert "empty" in lost["data"]["last_error"]["message"]
    assert "promo_code" not in lost["data"]
    assert [m["node_id"] for m in outbox(app, "email", loser)] == ["welcome_email"]
    # The step before the promo code did happen.
    assert app.profiles.card(loser)["fields"]["loyalty_points"] == 100

    stats = app.stats.scenario(scenario_id, all_time=True)
    by_node = {n.id: n for n in stats.nodes}
    assert by_node["promo_code"].errors == 1
    assert stats.errors == 1
    assert (stats.entered, stats.completed, stats.failed, stats.inside) == (3, 2, 1, 0)
    assert by_node["promo_email"].entered == 1
    assert only_task(app, p3)["state"] == "finished"
    assert_stats_match_visits(app, scenario_id)


def test_api_request_answered_500_is_retried_then_succeeds(
    app: App, db, clock: FakeClock, http_sink: HttpSink
) -> None:
    scenario_id = start_welcome(app, db.id, http_sink.url, ["C1"])
    (pid,) = import_people(app, db.id, [person(9)]).profile_ids
    http_sink.status = 500
    reach_call_centre(app, clock)

    assert len(http_sink.requests) == 1
    task = only_task(app, pid)
    assert (task["node_id"], task["state"]) == ("call_centre", "awaiting")
    (call,) = outbox(app, "api_request")
    assert (call["status"], call["attempts"]) == ("queued", 1)
    assert "500" in call["reason"]
    delay = RetryPolicy().delay(1)
    assert call["next_attempt_at"] == clock.now() + delay

    # Not before the retry delay has passed …
    clock.advance(delay - 1)
    app.run_pending()
    assert len(http_sink.requests) == 1

    # … then the call centre is back up.
    http_sink.status = 200
    clock.advance(1)
    app.run_pending()
    assert len(http_sink.requests) == 2
    first, second = http_sink.requests
    assert header(first, "Idempotency-Key") == header(second, "Idempotency-Key") == call["key"]
    assert first["body"] == second["body"]
    assert http_sink.json_bodies()[1]["phone"] == "+15550000009"

    task = only_task(app, pid)
    assert path_of(task) == [*CALL_CENTRE_PATH, ("call_centre", "next")]
    assert (task["state"], task["end_reason"]) == ("finished", "completed")
    assert task["data"]["api_response"]["status"] == 200
    (call,) = outbox(app, "api_request")
    assert (call["status"], call["attempts"]) == ("sent", 2)
    assert app.stats.scenario(scenario_id, all_time=True).errors == 0


def test_api_request_gives_up_after_the_retry_policy_limit(
    app: App, db, clock: FakeClock, http_sink: HttpSink
) -> None:
    app.deliverer = Deliverer(
        app.store,
        clock,
        app.deliverer.channels,
        retry=RetryPolicy(max_attempts=3, base_seconds=10),
    )
    scenario_id = start_welcome(app, db.id, http_sink.url, ["C1"])
    (pid,) = import_people(app, db.id, [person(9)]).profile_ids
    http_sink.status = 503
    app.run_until_idle(clock)

    assert len(http_sink.requests) == 3
    task = only_task(app, pid)
    assert path_of(task)[-1] == ("call_centre", "error")
    assert (task["state"], task["end_reason"]) == ("failed", "error")
    (call,) = outbox(app, "api_request")
    assert (call["status"], call["attempts"]) == ("failed", 3)
    by_node = {n.id: n for n in app.stats.scenario(scenario_id, all_time=True).nodes}
    assert by_node["call_centre"].errors == 1


def test_api_request_answered_4xx_takes_the_error_path(
    app: App, db, clock: FakeClock, http_sink: HttpSink
) -> None:
    scenario = welcome_scenario(db.id, http_sink.url)
    scenario.nodes.append(Node(id="call_failed", kind="exit", name="Call centre refused"))
    scenario.edges.append(Edge(source="call_centre", port="error", target="call_failed"))
    app.profiles.add_promo_codes("welcome", ["C1"])
    saved = app.scenarios.save(scenario)
    assert saved.problems == []
    scenario_id = saved.scenario.id
    app.scenarios.activate(scenario_id)
    (pid,) = import_people(app, db.id, [person(4)]).profile_ids
    http_sink.status = 422
    app.run_until_idle(clock)

    assert len(http_sink.requests) == 1, "a 4xx answer is final: no retry"
    task = only_task(app, pid)
    assert path_of(task) == [*CALL_CENTRE_PATH, ("call_centre", "error"), ("call_failed", "exit")]
    assert (task["state"], task["end_reason"], task["exit_node"]) == (
        "finished",
        "exit_node",
        "call_failed",
    )
    assert task["data"]["api_response"]["status"] == 422
    assert "422" in task["data"]["last_error"]["message"]
    (call,) = outbox(app, "api_request")
    assert (call["status"], call["attempts"]) == ("failed", 1)

    stats = app.stats.scenario(scenario_id, all_time=True)
    by_node = {n.id: n for n in stats.nodes}
    assert by_node["call_centre"].errors == 1
    assert (stats.completed, stats.failed) == (1, 0)
    assert_stats_match_visits(app, scenario_id)


def test_api_request_4xx_with_unwired_error_port_fails_the_task(
    app: App, db, clock: FakeClock, http_sink: HttpSink
) -> None:
    scenario_id = start_welcome(app, db.id, http_sink.url, ["C1"])
    (pid,) = import_people(app, db.id, [person(4)]).profile_ids
    http_sink.status = 404
    app.run_until_idle(clock)

    assert len(http_sink.requests) == 1
    task = only_task(app, pid)
    assert path_of(task) == [*CALL_CENTRE_PATH, ("call_centre", "error")]
    assert (task["state"], task["end_reason"]) == ("failed", "error")
    assert json.loads(http_sink.requests[0]["body"])["name"] == "User4"
    stats = app.stats.scenario(scenario_id, all_time=True)
    assert (stats.failed, stats.errors) == (1, 1)
