"""Several `scenaria worker` processes on one PostgreSQL database.

They claim due tasks and outbox messages with ``FOR UPDATE SKIP LOCKED``; these
tests check that every task is advanced exactly once per step, every message is
claimed by one deliverer at a time and reaches its provider once (or, after a
crash, again under the same idempotency key), and the statistics counters tell
what the node-visit records tell — with workers running side by side, killed
with SIGKILL in the middle of a batch, hung past their lease, or stopped with
SIGTERM.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from scenaria.clock import DAY, FileClock
from scenaria.model import scenario_file
from scenaria.model.profiles import FieldType, ImportSource, SubscriptionStatus
from scenaria.services.app import App
from scenaria.store.database import Store
from tests.conftest import person, welcome_scenario
from tests.integration.test_welcome_story import CALL_CENTRE_PATH, CONFIRMED_PATH
from tests.postgres.conftest import (
    KeyedHttpSink,
    KeyedMailbox,
    Spawn,
    WorkerProcess,
    resources_file,
    settle,
    wait_for,
)

PROFILES = 20_000
SUBSCRIBED, UNCONFIRMED = SubscriptionStatus.SUBSCRIBED, SubscriptionStatus.UNCONFIRMED
CALLED_PATH = [*CALL_CENTRE_PATH, ("call_centre", "next")]
SENDING_NODES = {"welcome_email", "promo_email", "reminder_sms", "call_centre"}


def start_welcome(app: App, call_centre: str, codes: int) -> tuple[int, int]:
    """The welcome scenario, active, with ``codes`` promo codes: (database id, scenario id)."""
    db = app.profiles.create_database(
        "Customers", {"first_name": FieldType.STRING, "loyalty_points": FieldType.INT}
    )
    assert db.id is not None
    app.profiles.add_promo_codes("welcome", [f"W{i:06d}" for i in range(codes)])
    saved = app.scenarios.save(welcome_scenario(db.id, call_centre))
    assert saved.problems == []
    app.scenarios.activate(saved.scenario.id)
    return db.id, saved.scenario.id


def import_profiles(app: App, db_id: int, count: int, confirmed: int) -> None:
    """``count`` profiles; the first ``confirmed`` of them subscribed to email already."""
    for start in range(0, count, 1000):
        people = [
            person(i, email_status=SUBSCRIBED if i < confirmed else UNCONFIRMED)
            for i in range(start, min(start + 1000, count))
        ]
        assert app.profiles.import_profiles(db_id, people, ImportSource.API).captured == len(people)


def paths(store: Store, scenario_id: int) -> dict[int, list[tuple[str, str]]]:
    """Every task's visits in order; seq must run 1, 2, 3 … without a gap or a repeat."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT v.task_id, v.seq, v.node_id, v.port FROM visits v "
                "JOIN tasks t ON t.id = v.task_id WHERE t.scenario_id = :s "
                "ORDER BY v.task_id, v.seq"
            ),
            {"s": scenario_id},
        ).all()
    out: dict[int, list[tuple[str, str]]] = {}
    for task_id, seq, node_id, port in rows:
        visited = out.setdefault(task_id, [])
        assert seq == len(visited) + 1, f"task {task_id}: visit {seq} after {len(visited)}"
        visited.append((node_id, port))
    return out


def outbox_keys(store: Store, scenario_id: int) -> dict[str, tuple[str, str, int]]:
    """Key -> (channel, status, attempts) of the scenario's messages."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT key, channel, status, attempts FROM outbox WHERE scenario_id = :s"),
            {"s": scenario_id},
        ).all()
    return {r.key: (r.channel, r.status, r.attempts) for r in rows}


def counters(store: Store, scenario_id: int) -> dict[tuple[str, str], int]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT node_id, metric, sum(value) FROM stat_counters WHERE scenario_id = :s "
                "GROUP BY node_id, metric"
            ),
            {"s": scenario_id},
        ).all()
    return {(r[0], r[1]): int(r[2]) for r in rows if r[2]}


def expected_counters(
    visited: dict[int, list[tuple[str, str]]], finished: int, inside: Counter[str] | None = None
) -> dict[tuple[str, str], int]:
    """What the visit records say the counters must be: entered = exited + inside."""
    out: Counter[tuple[str, str]] = Counter()
    for path in visited.values():
        for node, _port in path:
            out[(node, "entered")] += 1
            out[(node, "exited")] += 1
    for node, n in (inside or Counter()).items():
        out[(node, "entered")] += n
    out[("", "entered")] = len(visited)  # every task has visited its trigger
    if finished:
        out[("", "completed")] = finished
    return dict(out)


def live_tasks_by_node(store: Store, scenario_id: int) -> Counter[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT node_id, count(*) FROM tasks "
                "WHERE scenario_id = :s AND node_id IS NOT NULL GROUP BY node_id"
            ),
            {"s": scenario_id},
        ).all()
    return Counter({r[0]: int(r[1]) for r in rows})


def keys_of(visited: dict[int, list[tuple[str, str]]], nodes: set[str]) -> set[str]:
    """The outbox keys (task:node:visit) the visit records call for."""
    return {
        f"{task_id}:{node}:{seq}"
        for task_id, path in visited.items()
        for seq, (node, _port) in enumerate(path, start=1)
        if node in nodes
    }


# --------------------------------------------------------------------------- many workers


@pytest.mark.slow
def test_four_workers_take_20000_profiles_through_the_welcome_scenario(
    pg_app: App,
    file_clock: FileClock,
    spawn_worker: Spawn,
    http_keys: KeyedHttpSink,
    mail_keys: KeyedMailbox,
    tmp_path: Path,
) -> None:
    confirmed = PROFILES * 2 // 5
    db_id, scenario_id = start_welcome(pg_app, http_keys.url, codes=confirmed)
    resources = resources_file(tmp_path / "resources.json", http_keys, mail_keys)
    workers = [spawn_worker("--resources", str(resources)) for _ in range(4)]
    for worker in workers:
        worker.wait_started()
    store = pg_app.store
    t0 = file_clock.now()

    # Imports run while the workers already take the first profiles through.
    import_profiles(pg_app, db_id, PROFILES, confirmed)
    settle(store, file_clock, workers, timeout=300)
    file_clock.advance_to(t0 + DAY)
    settle(store, file_clock, workers, timeout=300)
    file_clock.advance_to(t0 + 2 * DAY)
    settle(store, file_clock, workers, timeout=300)
    wait_for(
        lambda: pg_app.stats.scenario(scenario_id, all_time=True).inside == 0,
        "every task to finish",
        timeout=300,
        workers=workers,
    )
    reports = [w.stop() for w in workers]

    # Every task advanced exactly once per step: its own path, visits numbered 1..n.
    visited = paths(store, scenario_id)
    with store.engine.connect() as conn:
        owners = dict(
            conn.execute(
                text("SELECT t.id, p.match_key FROM tasks t JOIN profiles p ON p.id = t.profile_id")
            ).all()
        )
        states = Counter(conn.execute(text("SELECT state FROM tasks")).scalars())
    assert states == {"finished": PROFILES}
    assert len(visited) == PROFILES
    for task_id, path in visited.items():
        number = int(owners[task_id].removeprefix("user").split("@")[0])
        assert path == (CONFIRMED_PATH if number < confirmed else CALLED_PATH), task_id

    # Every message written once, sent once, received once under its key.
    messages = outbox_keys(store, scenario_id)
    assert set(messages) == keys_of(visited, SENDING_NODES)
    assert {status for _, status, _ in messages.values()} == {"sent"}
    assert {attempts for _, _, attempts in messages.values()} == {1}
    by_channel: dict[str, set[str]] = {}
    for key, (channel, _, _) in messages.items():
        by_channel.setdefault(channel, set()).add(key)
    assert mail_keys.keys == Counter(by_channel["email"])
    assert http_keys.received("/sms") == Counter(by_channel["sms"])
    assert http_keys.received("/call-requests") == Counter(by_channel["api_request"])
    assert len(by_channel["email"]) == PROFILES + confirmed
    assert len(by_channel["api_request"]) == PROFILES - confirmed

    # One promo code and +100 points per rewarded task, none twice.
    with store.read() as tx:
        given = tx.promo.given("welcome")
    assert len(given) == confirmed == len({c for c, _ in given}) == len({t for _, t in given})
    with store.engine.connect() as conn:
        points = Counter(
            conn.execute(text("SELECT fields ->> 'loyalty_points' FROM profiles")).scalars()
        )
    assert points == {"100": confirmed, None: PROFILES - confirmed}

    # The counters, summed over their shards, tell what the visits tell.
    assert counters(store, scenario_id) == expected_counters(visited, finished=PROFILES)

    # All four took part, none failed a batch, and no batch was claimed twice:
    # a confirmed task is due twice (import, after the pause), a called one four
    # times (import, two pauses, the call centre's answer).
    assert all(r.tasks > 0 for r in reports), reports
    assert all(r.failed_batches == 0 for r in reports), reports
    assert sum(r.tasks for r in reports) == 2 * confirmed + 4 * (PROFILES - confirmed)
    assert sum(r.messages for r in reports) == len(messages)


# --------------------------------------------------------------------------- crashes


def held(marker: Path) -> bool:
    return marker.exists()


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(
    pg_app: App,
    file_clock: FileClock,
    spawn_worker: Spawn,
    http_keys: KeyedHttpSink,
    tmp_path: Path,
) -> None:
    db_id, scenario_id = start_welcome(pg_app, http_keys.url, codes=10)
    marker = tmp_path / "held"
    victim = spawn_worker(
        "--no-deliverer", "--batch-size", "300", "--test-hold-before-commit", str(marker)
    )
    import_profiles(pg_app, db_id, 1000, confirmed=0)
    wait_for(lambda: held(marker), "the worker to hold its first batch", workers=[victim])
    store = pg_app.store

    # The batch's writes are made but not committed: nobody sees them, and its
    # tasks are locked, so a claim skips them rather than taking them twice.
    assert paths(store, scenario_id) == {}
    with store.transaction() as tx:
        claimable = tx.tasks.claim_due(file_clock.now(), 10_000)
    assert len(claimable) == 1000 - 300

    victim.kill()
    rescuers = [spawn_worker("--no-deliverer"), spawn_worker("--no-deliverer")]
    settle(store, file_clock, rescuers, messages=False)
    reports = [w.stop() for w in rescuers]

    visited = paths(store, scenario_id)
    assert len(visited) == 1000
    assert all(path == CONFIRMED_PATH[:2] for path in visited.values())
    assert set(outbox_keys(store, scenario_id)) == keys_of(visited, SENDING_NODES)
    inside = live_tasks_by_node(store, scenario_id)
    assert inside == {"read_time": 1000}
    assert counters(store, scenario_id) == expected_counters(visited, 0, inside)
    assert sum(r.tasks for r in reports) == 1000


def test_a_hung_worker_loses_its_batch_when_its_lease_runs_out(
    pg_app: App,
    file_clock: FileClock,
    spawn_worker: Spawn,
    http_keys: KeyedHttpSink,
    tmp_path: Path,
) -> None:
    db_id, scenario_id = start_welcome(pg_app, http_keys.url, codes=10)
    marker = tmp_path / "held"
    hung = spawn_worker(
        "--no-deliverer",
        "--batch-size",
        "300",
        "--batch-lease",
        "1",
        "--test-hold-before-commit",
        str(marker),
    )
    import_profiles(pg_app, db_id, 1000, confirmed=0)
    wait_for(lambda: held(marker), "the worker to hold its first batch", workers=[hung])
    rescuer = spawn_worker("--no-deliverer", "--batch-lease", "1")
    store = pg_app.store
    # The held batch comes free only once the hung transaction is ended.
    settle(store, file_clock, [rescuer, hung], timeout=60, messages=False)

    # Woken, the hung worker finds its batch gone: its commit fails, nothing doubles.
    late = hung.stop()
    assert (late.tasks, late.failed_batches) == (0, 1)
    assert rescuer.stop().tasks == 1000
    visited = paths(store, scenario_id)
    assert len(visited) == 1000
    assert all(path == CONFIRMED_PATH[:2] for path in visited.values())
    inside = live_tasks_by_node(store, scenario_id)
    assert counters(store, scenario_id) == expected_counters(visited, 0, inside)


def test_sigterm_lets_the_batch_in_hand_commit(
    pg_app: App,
    file_clock: FileClock,
    spawn_worker: Spawn,
    http_keys: KeyedHttpSink,
    tmp_path: Path,
) -> None:
    db_id, scenario_id = start_welcome(pg_app, http_keys.url, codes=10)
    marker = tmp_path / "held"
    worker = spawn_worker(
        "--no-deliverer", "--batch-size", "300", "--test-hold-before-commit", str(marker)
    )
    import_profiles(pg_app, db_id, 1000, confirmed=0)
    wait_for(lambda: held(marker), "the worker to hold its first batch", workers=[worker])

    report = worker.stop()
    assert (report.tasks, report.batches, report.failed_batches) == (300, 1, 0)
    visited = paths(pg_app.store, scenario_id)
    assert len(visited) == 300
    assert all(path == CONFIRMED_PATH[:2] for path in visited.values())


# --------------------------------------------------------------------------- deliverers

SMS_ONLY = """
scenaria: 1
name: Hello by SMS
reentry: once_ever
nodes:
  - {id: new_profile, kind: trigger_any_import}
  - {id: hello, kind: sms, settings: {text: "Hello {{ profile.first_name }}"}}
edges:
  - {source: new_profile, target: hello}
"""


def queue_sms(app: App, count: int) -> int:
    """``count`` SMS messages in the outbox (the test's own scheduler writes them)."""
    db = app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
    assert db.id is not None
    saved = app.scenarios.save(scenario_file.loads(SMS_ONLY, db.id))
    assert saved.problems == []
    app.scenarios.activate(saved.scenario.id)
    import_profiles(app, db.id, count, confirmed=0)
    app.scheduler.run_due()
    return saved.scenario.id


def test_two_deliverers_claim_disjoint_messages(
    pg_app: App,
    file_clock: FileClock,
    spawn_worker: Spawn,
    http_keys: KeyedHttpSink,
    tmp_path: Path,
) -> None:
    resources = resources_file(tmp_path / "resources.json", http_keys)
    deliverers = [
        spawn_worker("--no-scheduler", "--resources", str(resources), "--idle", "0.01")
        for _ in range(2)
    ]
    for deliverer in deliverers:
        deliverer.wait_started()
    scenario_id = queue_sms(pg_app, 3000)
    settle(pg_app.store, file_clock, deliverers)
    reports = [w.stop() for w in deliverers]

    messages = outbox_keys(pg_app.store, scenario_id)
    assert len(messages) == 3000
    assert {(status, attempts) for _, status, attempts in messages.values()} == {("sent", 1)}
    assert http_keys.received("/sms") == Counter(list(messages))
    # Each message was claimed by one deliverer only, and both had a share.
    assert sum(r.messages for r in reports) == 3000
    assert all(r.messages > 0 for r in reports), reports


def test_a_deliverer_killed_after_sending_is_taken_over_when_its_lease_expires(
    pg_app: App,
    file_clock: FileClock,
    spawn_worker: Spawn,
    http_keys: KeyedHttpSink,
    tmp_path: Path,
) -> None:
    resources = resources_file(tmp_path / "resources.json", http_keys)
    scenario_id = queue_sms(pg_app, 1000)
    marker = tmp_path / "held"
    victim = spawn_worker(
        "--no-scheduler", "--resources", str(resources), "--test-hold-after-send", str(marker)
    )
    wait_for(lambda: held(marker), "the deliverer to send its first message", workers=[victim])
    victim.kill()
    [(first, sent)] = http_keys.received("/sms").items()
    assert sent == 1

    # The rest is delivered by another deliverer; the dead one's batch stays leased.
    rescuer = spawn_worker("--no-scheduler", "--resources", str(resources))
    wait_for(
        lambda: sum(http_keys.received("/sms").values()) == 1000 - 200 + 1,
        "the messages the dead deliverer did not hold",
        workers=[rescuer],
    )
    settle_time = file_clock.now()
    with pg_app.store.read() as tx:
        leased = [m for m in tx.outbox.all("sms") if m["status"] == "sending"]
    assert len(leased) == 200 and all(m["lease_until"] > settle_time for m in leased)

    # Once its lease expires the batch is taken over; the one message the dead
    # deliverer had sent goes again under the same key, for the provider to drop.
    file_clock.advance(121)
    settle(pg_app.store, file_clock, [rescuer])
    assert rescuer.stop().messages == 1000

    messages = outbox_keys(pg_app.store, scenario_id)
    assert {status for _, status, _ in messages.values()} == {"sent"}
    received = http_keys.received("/sms")
    assert set(received) == set(messages)
    assert received - Counter(list(messages)) == Counter({first: 1})
    leased_keys = {m["key"] for m in leased}
    assert all(messages[k][2] == (2 if k in leased_keys else 1) for k in messages)


def test_sigterm_puts_a_deliverers_unsent_messages_back(
    pg_app: App,
    file_clock: FileClock,
    spawn_worker: Spawn,
    http_keys: KeyedHttpSink,
    tmp_path: Path,
) -> None:
    resources = resources_file(tmp_path / "resources.json", http_keys)
    scenario_id = queue_sms(pg_app, 500)
    marker = tmp_path / "held"
    stopping = spawn_worker(
        "--no-scheduler", "--resources", str(resources), "--test-hold-after-send", str(marker)
    )
    wait_for(lambda: held(marker), "the deliverer to send its first message", workers=[stopping])
    assert stopping.stop().messages == 200

    # The one sent is recorded; the other 199 of its batch are queued again, the
    # claim not counted as an attempt.
    [first] = http_keys.received("/sms")
    messages = outbox_keys(pg_app.store, scenario_id)
    assert messages[first] == ("sms", "sent", 1)
    assert Counter(status for _, status, _ in messages.values()) == {"sent": 1, "queued": 499}
    assert {attempts for key, (_, _, attempts) in messages.items() if key != first} == {0}

    successor = spawn_worker("--no-scheduler", "--resources", str(resources))
    settle(pg_app.store, file_clock, [successor])
    assert successor.stop().messages == 499
    assert http_keys.received("/sms") == Counter(list(outbox_keys(pg_app.store, scenario_id)))


def test_workers_are_alive_until_stopped(spawn_worker: Spawn) -> None:
    worker: WorkerProcess = spawn_worker("--no-deliverer")
    wait_for(lambda: "started" in worker.output(), "the worker to start", workers=[worker])
    report = worker.stop()
    assert report.tasks == 0 and report.failed_batches == 0
