"""The scenario state as of a past minute (issue 15): load_scenario_state(now=at) reads nothing after
``at`` — no minute, report or operator action — so the hand-made scenario city (tests/fixtures.py)
replayed 12 minutes back shows what was active then, written out here; SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from data_access.scenarios import evaluate_scenarios, load_scenario_state, scenario_catalogue
from data_access.sql import read_frame, utc_text
from tests.fixtures import SM

PAST = SM - timedelta(minutes=12)


def ago(minutes: float) -> object:
    return SM - timedelta(minutes=minutes)


def test_the_state_twelve_minutes_back(scenario_city: Engine) -> None:
    state = load_scenario_state(engine=scenario_city, now=PAST)
    assert state.computed_at == PAST
    # East's storm fired 18 min ago and ends only 10 min ago; gas was started by hand 15 min ago. West's
    # storm (fires 2 min ago), North's (8 min ago) and Jia's second crowd burst (5 min ago) are still ahead.
    assert [(a.scenario_id, a.area_code, a.since, a.reason) for a in state.active] == [
        ("storm", "100100", ago(18), "indicators"), ("gas", "100200", ago(15), "manual")]
    # North's manual end 3 min ago and East's end are not there yet; Jia's first burst has ended.
    assert [(e.scenario_id, e.area_code, e.since, e.ended) for e in state.last_ended] == [
        ("crowd", "100100001", ago(24), ago(17)), ("gas", "100100", ago(40), ago(30))]
    assert all(at <= PAST for *_, at in state.acks)


def test_the_past_state_is_the_scan_of_what_was_there(scenario_city: Engine) -> None:
    """The same as the pure scan over every row up to the moment (and nothing after it)."""
    end = {"end": utc_text(PAST)}
    minutes = read_frame(scenario_city, "SELECT v.indicator_id, v.area_code, a.level AS area_level, v.minute,"
                                        " v.value, v.status FROM v_vitals_recent v JOIN v_areas a"
                                        " ON a.area_code = v.area_code WHERE v.minute <= :end", end,
                         times_in=("minute",))
    reports = read_frame(scenario_city, "SELECT * FROM v_incident_reports_recent WHERE reported_at <= :end", end,
                         times_in=("reported_at", "closed_at"))
    actions = read_frame(scenario_city, "SELECT * FROM v_operator_actions WHERE at <= :end", end, times_in=("at",))
    expected = evaluate_scenarios(catalogue=scenario_catalogue(engine=scenario_city), minutes=minutes,
                                  reports=reports, actions=actions, now=PAST, city_code="100000")
    assert load_scenario_state(engine=scenario_city, now=PAST) == expected
    assert load_scenario_state(engine=scenario_city, now=PAST) != load_scenario_state(engine=scenario_city, now=SM)


def test_a_replayed_wall_shows_the_takeovers_of_its_minute(scenario_city: Engine) -> None:
    """readers/replay.py: the West wall 12 minutes back is taken over by gas (started by hand 15 min
    ago), not yet by West's storm (it fires 2 min ago); the live wall has both."""
    from data_access.readers.replay import read_wall_takeovers_as_of
    from data_access.readers.wall import read_wall_takeovers
    from data_access.runtime import build_runtime
    from data_access.settings import Settings

    runtime = build_runtime(Settings(database_url=scenario_city.url.render_as_string(hide_password=False),
                                     feeder=False, refresh_s=60))
    try:
        past = read_wall_takeovers_as_of(runtime=runtime, scope=None, code="100200", at=PAST)
        assert [(a.scenario_id, a.area_code) for a in past.active] == [("gas", "100200")]
        assert {a.scenario_id for a in read_wall_takeovers(runtime=runtime, scope=None, code="100200").active} == {
            "storm", "gas"}
    finally:
        runtime.engine.dispose()
