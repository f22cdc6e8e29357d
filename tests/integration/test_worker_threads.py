"""The worker's scheduler and deliverer run side by side: a provider that hangs holds
up its own messages only, never the journeys."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from scenaria.clock import FakeClock
from scenaria.engine.delivery import DeliveryResult, OutboundMessage
from scenaria.model import scenario_file
from scenaria.model.profiles import FieldType, ImportSource
from scenaria.services.app import App, Config
from scenaria.services.worker import Worker
from scenaria.store.database import Store
from tests.conftest import person

SMS_THEN_PAUSE = """
scenaria: 1
name: Hello, then wait
reentry: once_ever
nodes:
  - {id: new_profile, kind: trigger_any_import}
  - {id: hello, kind: sms, settings: {text: "Hello {{ profile.first_name }}"}}
  - {id: wait, kind: pause, settings: {seconds: 10}}
  - {id: after, kind: pause, settings: {days: 1}}
edges:
  - {source: new_profile, target: hello}
  - {source: hello, target: wait}
  - {source: wait, target: after}
"""


class HungProvider:
    """An SMS provider that never answers until ``release`` is set."""

    name = "sms"
    resumes_task = False

    def __init__(self) -> None:
        self.sending = threading.Event()
        self.release = threading.Event()
        self.sent: list[str] = []

    def send(self, message: OutboundMessage) -> DeliveryResult:
        self.sending.set()
        self.release.wait(60)
        self.sent.append(message.key)
        return DeliveryResult({"id": message.key})

    def close(self) -> None:
        self.release.set()


def eventually(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def provider() -> HungProvider:
    return HungProvider()


@pytest.fixture
def hung_app(store: Store, clock: FakeClock, provider: HungProvider) -> Iterator[App]:
    with App(Config(), clock=clock, store=store, channels={"sms": provider}) as app:
        yield app


def inside(app: App, scenario_id: int) -> dict[str, int]:
    return {n.id: n.inside for n in app.stats.realtime(scenario_id).nodes}


def test_a_hung_provider_does_not_stop_tasks_moving(
    hung_app: App, clock: FakeClock, provider: HungProvider
) -> None:
    app = hung_app
    db = app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
    assert db.id is not None
    saved = app.scenarios.save(scenario_file.loads(SMS_THEN_PAUSE, db.id))
    assert saved.problems == []
    scenario_id = saved.scenario.id
    app.scenarios.activate(scenario_id)
    people = [person(i) for i in range(5)]
    assert app.profiles.import_profiles(db.id, people, ImportSource.API).captured == 5

    worker = Worker(app, idle_seconds=0.01)
    worker.start()
    try:
        eventually(provider.sending.is_set, "the deliverer to hang in its first send")
        eventually(lambda: inside(app, scenario_id).get("wait") == 5, "the tasks to pause")
        # Seconds later (well within the deliverer's lease and batch time) the
        # pauses end while the provider still has not answered.
        clock.advance(10)
        eventually(
            lambda: inside(app, scenario_id).get("after") == 5,
            "the scheduler to move the due tasks on past the hung deliverer",
        )
        assert provider.sent == []
        # Released, the deliverer sends what it holds; nothing was lost or doubled.
        provider.release.set()
        eventually(lambda: len(provider.sent) == 5, "the held messages to go out")
    finally:
        provider.release.set()
        worker.stop()
    assert sorted(provider.sent) == sorted(set(provider.sent))
    assert (worker.done.tasks, worker.done.messages, worker.done.failed_batches) == (10, 5, 0)
