from scenaria.clock import DAY, FakeClock
from scenaria.services.app import App
from tests.conftest import HttpSink, import_people, person, welcome_scenario


def test_welcome_runs_to_the_call_centre(
    app: App, db, clock: FakeClock, http_sink: HttpSink
) -> None:
    app.profiles.add_promo_codes("welcome", ["A1", "A2"])
    saved = app.scenarios.save(welcome_scenario(db.id, http_sink.url))
    assert saved.problems == []
    app.scenarios.activate(saved.scenario.id)
    import_people(app, db.id, [person(1)])
    app.run_until_idle(clock)
    assert len(http_sink.requests) == 1
    assert http_sink.json_bodies()[0]["phone"] == "+15550000001"
    assert clock.now() >= FakeClock().now() + 2 * DAY
