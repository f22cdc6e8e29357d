"""Run the welcome scenario on N synthetic profiles, a seeded share of whom confirm."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from scenaria.clock import DAY, FakeClock
from scenaria.model import scenario_file
from scenaria.model.profiles import Channel, FieldType, ImportSource, SubscriptionStatus
from scenaria.model.scenario import Scenario
from scenaria.services.app import App
from scenaria.services.profiles import ProfileImport

IMPORT_BATCH = 1000
STEP = 3600.0
"""The demo's clock moves an hour at a time so confirmations land between pauses."""
HORIZON = 3 * DAY


def welcome_document() -> str:
    return resources.files("scenaria").joinpath("examples/welcome.yaml").read_text("utf-8")


def welcome(database_id: int, call_centre_url: str) -> Scenario:
    scenario = scenario_file.loads(welcome_document(), database_id)
    for node in scenario.nodes:
        if node.kind == "api_request":
            node.settings["url"] = call_centre_url
    return scenario


@dataclass
class DemoResult:
    profiles: int
    confirmed: int
    scenario_id: int
    stats: dict[str, Any]
    call_requests: int


Progress = Callable[[str, float, float], None]
"""(phase, done, total)."""


def run_demo(
    app: App,
    clock: FakeClock,
    profiles: int,
    confirm_share: float,
    seed: int,
    call_centre_url: str,
    progress: Progress | None = None,
) -> DemoResult:
    report = progress or (lambda phase, done, total: None)
    rng = random.Random(seed)
    database = app.profiles.create_database(
        "Demo customers", {"first_name": FieldType.STRING, "loyalty_points": FieldType.INT}
    )
    assert database.id is not None
    app.profiles.add_promo_codes("welcome", [f"WELCOME-{i:07d}" for i in range(profiles)])
    saved = app.scenarios.save(welcome(database.id, call_centre_url))
    scenario_id = saved.scenario.id
    assert scenario_id is not None
    app.scenarios.activate(scenario_id)

    start = clock.now()
    ids: list[int] = []
    for first in range(0, profiles, IMPORT_BATCH):
        batch = [
            ProfileImport(
                fields={
                    "email": f"customer{i}@example.com",
                    "phone": f"+1555{i:07d}",
                    "first_name": f"Customer{i}",
                },
                subscriptions={
                    Channel.EMAIL: SubscriptionStatus.UNCONFIRMED,
                    Channel.SMS: SubscriptionStatus.SUBSCRIBED,
                },
            )
            for i in range(first, min(first + IMPORT_BATCH, profiles))
        ]
        ids += app.profiles.import_profiles(database.id, batch, ImportSource.API).profile_ids
        report("import", len(ids), profiles)

    # A seeded share confirms at some moment of the first two days: some before the
    # first check, some during the SMS pause (they take the confirmed branch next time).
    confirming = rng.sample(ids, round(len(ids) * confirm_share))
    when = sorted((start + rng.uniform(0, 2 * DAY), pid) for pid in confirming)
    pending = 0
    while clock.now() < start + HORIZON:
        while pending < len(when) and when[pending][0] <= clock.now():
            app.profiles.confirm_subscription(when[pending][1], Channel.EMAIL)
            pending += 1
        app.run_pending()
        report("run", clock.now() - start, HORIZON)
        clock.advance(STEP)
    app.run_until_idle(clock)
    report("run", HORIZON, HORIZON)
    stats = app.stats.scenario(scenario_id, all_time=True).as_dict()
    return DemoResult(profiles, len(confirming), scenario_id, stats, 0)
