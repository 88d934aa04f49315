"""Scenario activation and end rules (issue 13 item 2) against the hand-made scenario city
(tests/fixtures.py seed_scenario_city) on SQLite and PostgreSQL, the expected states written out
here; then the rules' window edges on hand-made frames, and the board and its reader."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from data_access.areas import Lineage, OutsideScope
from data_access.models import ScenarioActivation, ScenarioEnded
from data_access.readers.scenarios import read_scenario_board, read_scenario_state
from data_access.runtime import build_runtime
from data_access.scenarios import (
    KEPT_WINDOW,
    evaluate_scenarios,
    load_scenario_board,
    load_scenario_state,
    scenario_catalogue,
)
from data_access.settings import Settings
from tests.fixtures import SM

NOW = SM + timedelta(seconds=30)


def ago(minutes: float) -> object:
    return SM - timedelta(minutes=minutes)


def test_the_state_of_the_hand_made_city(scenario_city: Engine) -> None:
    state = load_scenario_state(engine=scenario_city, now=NOW)
    assert state.computed_at == NOW
    assert state.active == (
        # West rain in alarm for the last 5 minutes: 3 alarm minutes at 2 min ago (its 2-minute run
        # 40 min ago was too short; the pump load is shown on the board only, never fires it).
        ScenarioActivation("storm", "100200", since=ago(2), reason="indicators",
                           values=(("rain_mm_h", 60.0, "alarm"),)),
        # Jia street: 3 crowd reports within 10 min again (8, 6 and 5 min ago; the entrapment is not one).
        ScenarioActivation("crowd", "100100001", since=ago(5), reason="incidents",
                           values=(("public_safety", 3.0, None),)),
        ScenarioActivation("gas", "100200", since=ago(15), reason="manual", values=(), started_by="ops.wang"),
    )
    assert state.last_ended == (
        # East: fired 18 min ago, normal 5 minutes at 10 min ago with 1 report (< 2) in the 30-minute
        # window; its 11 minutes in warn never fired an alarm rule.
        ScenarioEnded("storm", "100100", since=ago(18), ended=ago(10)),
        # North fired 8 min ago and was ended by hand 3 min ago: still in alarm, it does not re-fire.
        ScenarioEnded("storm", "100300", since=ago(8), ended=ago(3)),
        # Jia's first burst: 3 reports by 24 min ago, fewer than 2 in 10 minutes at 17 min ago.
        ScenarioEnded("crowd", "100100001", since=ago(24), ended=ago(17)),
        ScenarioEnded("gas", "100100", since=ago(40), ended=ago(30)),
    )
    # The West storm's acknowledgement on West's wall; Jia's from 20 min ago was the earlier activation's.
    assert state.acks == (("storm", "100200", "100200", ago(1)),)


def test_scope_filtering_and_takeovers(scenario_city: Engine) -> None:
    state = load_scenario_state(engine=scenario_city, now=NOW)
    lineage = Lineage(scenario_city)

    def keys(activations: tuple[ScenarioActivation, ...]) -> list[tuple[str, str]]:
        return [(a.scenario_id, a.area_code) for a in activations]

    everything = [("storm", "100200"), ("crowd", "100100001"), ("gas", "100200")]
    assert keys(state.active_in(lineage, None)) == everything
    assert keys(state.active_in(lineage, "100000")) == everything  # the city wall: any
    assert keys(state.active_in(lineage, "100100")) == [("crowd", "100100001")]  # a street below East
    assert keys(state.active_in(lineage, "100100002")) == []  # Yi: its noise reports are no scenario's
    assert keys(state.active_in(lineage, "100200")) == [("storm", "100200"), ("gas", "100200")]
    assert keys(state.active_in(lineage, "100200001")) == []  # a district's activation is above Bing
    # Acknowledged on West's wall: West takes over for gas only; the city's wall still for all three.
    assert keys(state.takeovers(lineage, "100200")) == [("gas", "100200")]
    assert keys(state.takeovers(lineage, "100000")) == everything
    assert keys(state.takeovers(lineage, "100100")) == [("crowd", "100100001")]  # its ack predates it


def test_the_catalogue_views(scenario_city: Engine) -> None:
    catalogue = scenario_catalogue(engine=scenario_city)
    assert catalogue.ids() == ("storm", "crowd", "gas")
    assert catalogue.scenario("crowd")["activation_incidents"] == 3
    assert catalogue.scenario("nope") is None
    ind = catalogue.of(catalogue.indicators, "storm")
    assert list(zip(ind["indicator_id"], ind["triggers"], strict=True)) == [("rain_mm_h", True),
                                                                            ("pump_load_pct", False)]
    cats = catalogue.of(catalogue.categories, "storm")
    assert sorted((c, s if isinstance(s, str) else None) for c, s in zip(cats["category"], cats["subcategory"],
                                                                       strict=True)) == [
        ("facilities", "manhole_cover_missing"), ("waterlogging", None)]
    assert list(catalogue.of(catalogue.steps, "storm")["step_id"]) == ["notify", "pumps"]


def test_the_board_of_an_active_scenario(scenario_city: Engine) -> None:
    state = load_scenario_state(engine=scenario_city, now=NOW)
    board = load_scenario_board(engine=scenario_city, scenario_id="storm", area_code="100200", state=state, now=NOW)
    assert board.activation == state.active[0] and board.active_below == (state.active[0],)
    assert board.area.name_en == "West" and board.scenario["name_en"] == "Rainstorm"
    assert [(r.indicator_id, r.value, r.status, bool(r.triggers)) for r in board.indicators.itertuples()] == [
        ("rain_mm_h", 60.0, "alarm", True), ("pump_load_pct", 97.0, "alarm", False)]
    # History since the activation (2 min ago): three rain minutes and the pump's one.
    assert sorted((r.indicator_id, r.minute) for r in board.history.itertuples()) == [
        ("pump_load_pct", pd.Timestamp(ago(1))), ("rain_mm_h", pd.Timestamp(ago(2))),
        ("rain_mm_h", pd.Timestamp(ago(1))), ("rain_mm_h", pd.Timestamp(SM))]
    # Open incidents of its categories in West, overdue first (the noise report is not one).
    assert list(board.incidents["incident_id"]) == ["w4", "w3", "m1"]
    assert (board.incidents_total, board.incidents_overdue) == (3, 1)
    # Its resource types in West and its streets, the one without a position included.
    assert list(board.resources["resource_id"]) == ["t1", "p1", "p2"]
    assert board.resources.set_index("resource_id").loc["t1", "lat"] is None or pd.isna(
        board.resources.set_index("resource_id").loc["t1", "lat"])
    assert [(r.resource_type, r.idle, r.total) for r in board.readiness.itertuples()] == [
        ("patrol_team", 1, 1), ("pump_truck", 1, 2)]
    steps = board.steps.set_index("step_id")
    assert (steps.loc["notify", "state"], steps.loc["notify", "principal"]) == ("done", "ops.wang")  # newest mark
    assert steps.loc["pumps", "state"] is None  # the mark 30 min ago was an older activation's


def test_the_board_of_the_city_and_of_an_inactive_area(scenario_city: Engine) -> None:
    state = load_scenario_state(engine=scenario_city, now=NOW)
    city = load_scenario_board(engine=scenario_city, scenario_id="storm", area_code="100000", state=state, now=NOW)
    assert city.activation is None and [a.area_code for a in city.active_below] == ["100200"]
    assert city.last_ended == ScenarioEnded("storm", "100300", since=ago(8), ended=ago(3))  # the newest below
    assert city.incidents_total == 4  # w2 in East and West's three
    east = load_scenario_board(engine=scenario_city, scenario_id="storm", area_code="100100", state=state, now=NOW)
    assert east.activation is None and east.active_below == ()
    assert east.last_ended == ScenarioEnded("storm", "100100", since=ago(18), ended=ago(10))
    assert [(r.resource_type, r.idle, r.total) for r in east.readiness.itertuples()] == [
        ("patrol_team", 0, 0), ("pump_truck", 1, 1)]
    with pytest.raises(LookupError):
        load_scenario_board(engine=scenario_city, scenario_id="nope", area_code="100100", state=state, now=NOW)
    with pytest.raises(LookupError):
        load_scenario_board(engine=scenario_city, scenario_id="storm", area_code="999999", state=state, now=NOW)


def test_the_readers_check_the_scope_first(live_scenario_city: Engine) -> None:
    runtime = build_runtime(Settings(database_url=live_scenario_city.url.render_as_string(hide_password=False),
                                     feeder=False, refresh_s=60))
    try:
        state = read_scenario_state(runtime=runtime)
        assert read_scenario_state(runtime=runtime) is not None
        assert [(a.scenario_id, a.area_code) for a in state.active] == [
            ("storm", "100200"), ("crowd", "100100001"), ("gas", "100200")]
        board = read_scenario_board(runtime=runtime, scope="100200", scenario_id="storm", area_code="100200001")
        assert board.area.area_code == "100200001" and list(board.incidents["incident_id"]) == ["w4", "w3", "m1"]
        with pytest.raises(OutsideScope):
            read_scenario_board(runtime=runtime, scope="100100", scenario_id="storm", area_code="100200")
        with pytest.raises(LookupError):
            read_scenario_board(runtime=runtime, scope=None, scenario_id="../x", area_code="100200")
        with pytest.raises(LookupError):
            read_scenario_board(runtime=runtime, scope=None, scenario_id="nope", area_code="100200")
        with pytest.raises(LookupError):
            read_scenario_board(runtime=runtime, scope=None, scenario_id="storm", area_code="999999")
    finally:
        runtime.engine.dispose()


# --- the window's edges, on hand-made frames -------------------------------------------------------

def _catalogue(**rule: object):
    from data_access.models import ScenarioCatalogue

    row = dict(scenario_id="s", name="s", name_en="s", description=None, description_en=None, area_level="district",
               activation_kind="indicators", activation_status="warn", activation_minutes=3,
               activation_incidents=None, activation_window_minutes=None, end_normal_minutes=2,
               end_incidents_below=None, sort_order=0)
    row.update(rule)
    return ScenarioCatalogue(
        scenarios=pd.DataFrame([row]),
        indicators=pd.DataFrame([dict(scenario_id="s", indicator_id="i", triggers=True, sort_order=0)]),
        categories=pd.DataFrame([dict(scenario_id="s", category="c", subcategory=None)]),
        resource_types=pd.DataFrame(columns=["scenario_id", "resource_type"]),
        steps=pd.DataFrame(columns=["scenario_id", "step_id", "sort_order", "text", "text_en", "role"]))


def _minutes(start, statuses: str):  # noqa: ANN001, ANN202 - one character per minute: n w a
    names = {"n": "normal", "w": "warn", "a": "alarm"}
    return pd.DataFrame([dict(indicator_id="i", area_code="D", area_level="district",
                              minute=start + timedelta(minutes=k), value=float(k), status=names[c])
                         for k, c in enumerate(statuses)])


NO_ACTIONS = pd.DataFrame(columns=["action_id", "at", "principal", "kind", "scenario_id", "area_code", "scope_code"])
NO_REPORTS = pd.DataFrame(columns=["incident_id", "category", "subcategory", "district_code", "street_code",
                                   "reported_at", "closed_at"])


def test_a_run_older_than_the_window_has_no_since() -> None:
    start = NOW - KEPT_WINDOW
    # In warn from the window's first minute: it may have been for hours; since=None, never the window start.
    state = evaluate_scenarios(catalogue=_catalogue(), minutes=_minutes(start, "wwwwww"), reports=NO_REPORTS,
                               actions=NO_ACTIONS, now=NOW)
    assert [(a.since, a.values) for a in state.active] == [(None, (("i", 5.0, "warn"),))]
    later = evaluate_scenarios(catalogue=_catalogue(), minutes=_minutes(start + timedelta(minutes=1), "wwwww"),
                               reports=NO_REPORTS, actions=NO_ACTIONS, now=NOW + timedelta(minutes=1))
    assert [a.since for a in later.active] == [None]  # the window moved a minute: the key did not
    # Alarm counts for a warn rule; a run beginning well inside the window has its own since.
    inside = evaluate_scenarios(catalogue=_catalogue(), minutes=_minutes(start, "nnnnnwaa"), reports=NO_REPORTS,
                                actions=NO_ACTIONS, now=NOW)
    assert [a.since for a in inside.active] == [start + timedelta(minutes=7)]
    # Ended after 2 normal minutes; an acknowledgement of it is then no active one's.
    ended = evaluate_scenarios(catalogue=_catalogue(), minutes=_minutes(start, "nnnnnwaann"), reports=NO_REPORTS,
                               actions=NO_ACTIONS, now=NOW)
    assert ended.active == () and ended.last_ended == (
        ScenarioEnded("s", "D", since=start + timedelta(minutes=7), ended=start + timedelta(minutes=9)),)


def test_a_manual_start_before_the_window_still_holds() -> None:
    now = NOW
    actions = pd.DataFrame([
        dict(action_id=1, at=now - KEPT_WINDOW - timedelta(hours=2), principal="lead", kind="manual_start",
             scenario_id="s", area_code="D", scope_code=None),
        dict(action_id=2, at=now - timedelta(minutes=1), principal="sup", kind="ack_takeover", scenario_id="s",
             area_code="D", scope_code="D"),
    ])
    state = evaluate_scenarios(catalogue=_catalogue(activation_kind="manual"), minutes=_minutes(now, ""),
                               reports=NO_REPORTS, actions=actions, now=now)
    assert state.active == (ScenarioActivation("s", "D", since=None, reason="manual", values=(), started_by="lead"),)
    assert state.acks == (("s", "D", "D", now - timedelta(minutes=1)),)  # since None: every kept ack counts


def test_reports_at_the_window_start_and_a_city_rule() -> None:
    start = NOW - KEPT_WINDOW
    reports = pd.DataFrame([dict(incident_id=f"r{k}", category="c", subcategory="x", district_code="D",
                                 street_code="D1", reported_at=at, closed_at=None)
                            for k, at in enumerate((start + timedelta(minutes=1), start + timedelta(minutes=2),
                                                    NOW - timedelta(minutes=5), NOW - timedelta(minutes=4)))])
    rule = dict(activation_kind="incidents", activation_incidents=2, activation_window_minutes=10)
    state = evaluate_scenarios(catalogue=_catalogue(**rule), minutes=_minutes(start, ""), reports=reports,
                               actions=NO_ACTIONS, now=NOW)
    # The first pair is within 10 minutes of the window start (older reports may have gone): since None;
    # it ended when fewer than 2 were left in the window (the default end level: the activating count).
    assert state.last_ended == (ScenarioEnded("s", "D", since=None, ended=start + timedelta(minutes=11)),)
    assert [(a.since, a.values) for a in state.active] == [(NOW - timedelta(minutes=4), (("c", 2.0, None),))]
    city = evaluate_scenarios(catalogue=_catalogue(area_level="city", **rule), minutes=_minutes(start, ""),
                              reports=reports, actions=NO_ACTIONS, now=NOW, city_code="C")
    assert [a.area_code for a in city.active] == ["C"]


def test_the_change_points_read_gives_the_state_of_every_minute(scenario_city: Engine) -> None:
    """load_scenario_state reads only the minutes where a status changes (and each series' last);
    the scan over every minute of v_vitals_recent gives the same state."""
    from data_access.sql import read_frame

    every = read_frame(scenario_city, "SELECT v.indicator_id, v.area_code, a.level AS area_level, v.minute, v.value,"
                                      " v.status FROM v_vitals_recent v JOIN v_areas a ON a.area_code = v.area_code",
                       times_in=("minute",))
    assert len(every) > 100
    reports = read_frame(scenario_city, "SELECT * FROM v_incident_reports_recent",
                         times_in=("reported_at", "closed_at"))
    actions = read_frame(scenario_city, "SELECT * FROM v_operator_actions", times_in=("at",))
    state = evaluate_scenarios(catalogue=scenario_catalogue(engine=scenario_city), minutes=every, reports=reports,
                               actions=actions, now=NOW, city_code="100000")
    assert state == load_scenario_state(engine=scenario_city, now=NOW)


def test_the_change_points_of_each_tick_match_a_whole_read(scenario_city: Engine) -> None:
    """A tick reads only the newest minutes and the window's first ones, and keeps the rest from the
    tick before (change_points with a memo): tick after tick, with the window sliding over status
    changes and a reading arriving, its points are the whole window's."""
    from data_access import schema
    from data_access.scenarios import ChangePointsMemo, change_points

    catalogue = scenario_catalogue(engine=scenario_city)
    ids = sorted(set(catalogue.indicators.loc[catalogue.indicators["triggers"], "indicator_id"]))
    levels = sorted(set(catalogue.scenarios["area_level"]))
    memo = ChangePointsMemo()
    order = ["indicator_id", "area_code", "minute"]
    compared = 0
    first_whole_read = None
    arrived = False
    for step in range(0, 40 * 60, 47):  # the last 40 minutes, a tick every 47 s
        end = ago(40) + timedelta(seconds=step)
        start = end - timedelta(minutes=25)  # slides over East's and West's runs
        if step >= 20 * 60 and not arrived:
            arrived = True
            with scenario_city.begin() as conn:  # a reading for the minute being read again
                conn.execute(schema.readings.insert(), [dict(indicator_id="rain_mm_h", area_code="100300",
                                                             ts=end - timedelta(seconds=50), value=99.0)])
        kept = change_points(engine=scenario_city, ids=ids, levels=levels, start=start, end=end, memo=memo)
        whole = change_points(engine=scenario_city, ids=ids, levels=levels, start=start, end=end)
        assert len(whole) > 3
        pd.testing.assert_frame_equal(kept.sort_values(order).reset_index(drop=True),
                                      whole.sort_values(order).reset_index(drop=True), check_dtype=False)
        compared += 1
        first_whole_read = first_whole_read if compared > 1 else memo.last().read_whole_at
    assert memo.last().read_whole_at == first_whole_read  # every tick after the first read a few minutes
    assert compared > 40
