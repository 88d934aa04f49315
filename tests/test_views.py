"""Every view of the contract, on SQLite and PostgreSQL, against a small hand-made city whose
answers are written out below."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access.areas import area_by_code
from data_access.db import init_db, make_engine
from data_access.incidents import incident_channel, incident_counts, open_incidents_by_cell
from data_access.vitals import last_normal_minute, vitals_latest, vitals_recent
from tests.conftest import BACKENDS, create_database
from tests.fixtures import M, T, seed_small_city


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url, cleanup = create_database(request.param, tmp_path_factory.mktemp("views"))
    eng = make_engine(url)
    init_db(eng)
    seed_small_city(eng)
    yield eng
    eng.dispose()
    cleanup()


def _rows(engine: Engine, sql: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql))]


def test_v_areas_lists_every_level(engine: Engine) -> None:
    rows = _rows(engine, "SELECT area_code, level, parent_code FROM v_areas ORDER BY area_code")
    assert [(r["area_code"], r["level"], r["parent_code"]) for r in rows] == [
        ("100000", "city", None), ("100100", "district", "100000"), ("100100001", "street", "100100"),
        ("100100002", "street", "100100"), ("100200", "district", "100000"), ("100200001", "street", "100200"),
    ]


def test_v_grid_cells_carry_their_district(engine: Engine) -> None:
    rows = _rows(engine, "SELECT cell_id, street_code, district_code FROM v_grid_cells ORDER BY cell_id")
    assert [(r["cell_id"], r["district_code"]) for r in rows] == [
        ("c1", "100100"), ("c2", "100100"), ("c3", "100100"), ("c4", "100200"),
    ]


def test_v_indicators_has_the_catalogue(engine: Engine) -> None:
    rows = _rows(engine, "SELECT indicator_id, period_s, warn_low FROM v_indicators ORDER BY indicator_id")
    assert [(r["indicator_id"], r["period_s"]) for r in rows] == [
        ("aqi", 3600), ("broken_sensor", 60), ("power_load", 60), ("water_pressure", 5),
    ]
    assert rows[3]["warn_low"] == pytest.approx(0.28)


def test_v_vitals_latest_status_and_yesterday(engine: Engine) -> None:
    rows = {(r["indicator_id"], r["area_code"]): r for r in _rows(engine, "SELECT * FROM v_vitals_latest")}
    assert len(rows) == 5
    east = rows[("power_load", "100100")]
    assert east["value"] == 130 and east["status"] == "alarm"
    assert east["prev_day_value"] == 80  # exactly 24 h earlier counts as "yesterday"
    assert pd.Timestamp(east["ts"]) == pd.Timestamp(T - timedelta(seconds=30))
    assert rows[("power_load", "100200")]["status"] == "normal"
    assert rows[("power_load", "100200")]["prev_day_value"] is None
    assert rows[("aqi", "100000")]["status"] == "warn"
    assert rows[("water_pressure", "100000")]["status"] == "alarm"  # below alarm_low
    assert rows[("broken_sensor", "100000")]["value"] is None
    assert rows[("broken_sensor", "100000")]["status"] is None  # NULL value: no status


def test_staleness_at_a_frozen_time(engine: Engine) -> None:
    east = vitals_latest(engine=engine, area_code="100100", now=T)
    west = vitals_latest(engine=engine, area_code="100200", now=T)
    assert east.loc[0, "age_s"] == 30 and not east.loc[0, "stale"]
    assert west.loc[0, "age_s"] == 600 and west.loc[0, "stale"]  # 600 s > 2 x 60 s
    city = vitals_latest(engine=engine, area_code="100000", now=T + timedelta(hours=1))
    aqi = city.set_index("indicator_id").loc["aqi"]
    assert aqi["age_s"] == 7200 and not aqi["stale"]  # exactly 2 periods: still fresh
    later = vitals_latest(engine=engine, area_code="100000", now=T + timedelta(hours=1, seconds=1))
    assert later.set_index("indicator_id").loc["aqi", "stale"]
    assert later.set_index("indicator_id").loc["water_pressure", "stale"]


def test_v_vitals_recent_minute_averages_of_last_day(engine: Engine) -> None:
    rows = _rows(engine, "SELECT area_code, minute, value FROM v_vitals_recent"
                         " WHERE indicator_id = 'power_load' ORDER BY area_code, minute")
    east = [(pd.Timestamp(r["minute"]), r["value"]) for r in rows if r["area_code"] == "100100"]
    minute_of = {pd.Timestamp((ts).replace(second=0)) for ts in (T - timedelta(hours=1), T - timedelta(seconds=30))}
    two_min_ago = pd.Timestamp(M - timedelta(minutes=2))
    assert (two_min_ago, 110.0) in east  # mean of 100 and 120 in the same minute
    assert {m for m, _ in east} == minute_of | {two_min_ago}  # 25 h and 24 h old readings excluded
    recent = vitals_recent(engine=engine, indicator_id="power_load", area_code="100100",
                                   since=M - timedelta(minutes=2))
    assert list(recent["value"]) == [110.0, 130.0]


def test_v_open_incidents_and_overdue(engine: Engine) -> None:
    rows = _rows(engine, "SELECT incident_id, overdue, status FROM v_open_incidents ORDER BY incident_id")
    assert [(r["incident_id"], r["overdue"]) for r in rows] == [("i1", 1), ("i2", 0), ("i3", 1), ("i8", 0)]
    assert {r["status"] for r in rows} == {"dispatched", "reported", "resolved"}


EXPECTED_COUNTS = {
    # area: open, overdue, reported_today, closed_today, closed_on_time_today, on_time_rate_30d
    "100000": (4, 2, 2, 2, 1, 3 / 4),  # 30 d: i4, i6, i9 on time, i5 late
    "100100": (3, 2, 1, 0, 0, 1.0),
    "100200": (1, 0, 1, 2, 1, 0.5),
    "100100001": (2, 1, 1, 0, 0, 1.0),  # i9 closed before local midnight: not "today"
    "100100002": (1, 1, 0, 0, 0, 1.0),
    "100200001": (1, 0, 1, 2, 1, 0.5),
}


def test_v_incident_counts_every_area(engine: Engine) -> None:
    rows = {r["area_code"]: r for r in _rows(engine, "SELECT * FROM v_incident_counts")}
    assert set(rows) == set(EXPECTED_COUNTS)
    for code, (n_open, overdue, rep, closed, on_time, rate) in EXPECTED_COUNTS.items():
        row = rows[code]
        got = (row["open"], row["overdue"], row["reported_today"], row["closed_today"],
               row["closed_on_time_today"])
        assert got == (n_open, overdue, rep, closed, on_time), code
        assert float(row["on_time_rate_30d"]) == pytest.approx(rate), code
    assert rows["100000"]["level"] == "city" and rows["100100001"]["level"] == "street"
    counts = incident_counts(engine=engine, area_code="100100")
    assert counts is not None and (counts.open, counts.overdue) == (3, 2)
    assert incident_counts(engine=engine, area_code="999999") is None


def test_v_incident_cells(engine: Engine) -> None:
    rows = _rows(engine, "SELECT * FROM v_incident_cells ORDER BY cell_id")
    assert [(r["cell_id"], r["street_code"], r["district_code"], r["open"], r["overdue"], r["max_priority"])
            for r in rows] == [
        ("c1", "100100001", "100100", 2, 1, 3),
        ("c3", "100100002", "100100", 1, 1, 1),
    ]
    east = area_by_code(engine=engine, area_code="100100002")
    assert list(open_incidents_by_cell(engine=engine, area=east)["cell_id"]) == ["c3"]


def test_v_incident_categories(engine: Engine) -> None:
    rows = _rows(engine, "SELECT area_code, category, category_name_en, open, overdue"
                         " FROM v_incident_categories ORDER BY area_code, category")
    got = {(r["area_code"], r["category"]): (r["open"], r["overdue"]) for r in rows}
    assert got == {
        ("100000", "gas"): (1, 1), ("100000", "noise"): (2, 1), ("100000", "waterlogging"): (1, 0),
        ("100100", "gas"): (1, 1), ("100100", "noise"): (2, 1), ("100200", "waterlogging"): (1, 0),
        ("100100001", "gas"): (1, 1), ("100100001", "noise"): (1, 0), ("100100002", "noise"): (1, 1),
        ("100200001", "waterlogging"): (1, 0),
    }
    names = {r["category"]: r["category_name_en"] for r in rows}
    assert names["gas"] == "Gas" and names["waterlogging"] == "waterlogging"  # unknown: its code


def test_init_db_again_keeps_everything(engine: Engine) -> None:
    before = _rows(engine, "SELECT COUNT(*) AS n FROM incidents")[0]["n"]
    assert init_db(engine) is False  # nothing changed: views untouched
    assert _rows(engine, "SELECT COUNT(*) AS n FROM incidents")[0]["n"] == before == 9
    assert _rows(engine, "SELECT COUNT(*) AS n FROM readings")[0]["n"] == 10


def test_v_incident_sources_per_channel(engine: Engine) -> None:
    rows = {(r["area_code"], r["source"]): r for r in _rows(engine, "SELECT * FROM v_incident_sources")}
    assert set(rows) == {("100000", "patrol"), ("100100", "patrol"), ("100200", "patrol")}  # city + districts
    city = rows[("100000", "patrol")]
    assert (city["open"], city["overdue"], city["reported_today"], city["closed_today"]) == (4, 2, 2, 2)
    assert float(city["on_time_rate_30d"]) == pytest.approx(3 / 4)
    assert incident_channel(engine=engine, area_code="100000", source="hotline_12345") == {
        "open": 0, "overdue": 0, "reported_today": 0, "closed_today": 0, "on_time_rate_30d": None}


def test_v_vitals_recent_status_and_hourly(engine: Engine) -> None:
    rows = _rows(engine, "SELECT minute, value, status FROM v_vitals_recent"
                         " WHERE indicator_id = 'power_load' AND area_code = '100100' ORDER BY minute")
    assert [(r["value"], r["status"]) for r in rows][-2:] == [(110.0, "warn"), (130.0, "alarm")]
    assert rows[0]["status"] == "normal"  # 50 at T - 1 h
    hourly = _rows(engine, "SELECT hour, value FROM v_vitals_hourly"
                           " WHERE indicator_id = 'power_load' AND area_code = '100100' ORDER BY hour")
    # The fixture's east power readings, grouped by hour here by hand.
    readings = [(T - timedelta(seconds=30) - timedelta(days=1), 80), (M - timedelta(hours=25), 70),
                (M - timedelta(seconds=110), 100), (M - timedelta(seconds=80), 120),
                (T - timedelta(seconds=30), 130), (T - timedelta(hours=1), 50)]
    expected: dict[pd.Timestamp, list[float]] = {}
    for ts, value in readings:
        expected.setdefault(pd.Timestamp(ts.replace(minute=0, second=0)), []).append(value)
    assert {pd.Timestamp(r["hour"]): pytest.approx(r["value"]) for r in hourly} == {
        hour: sum(values) / len(values) for hour, values in expected.items()}
    last_normal = last_normal_minute(engine=engine, series=[("power_load", "100100")])
    hour_ago_minute = pd.Timestamp((T - timedelta(hours=1)).replace(second=0))
    assert pd.Timestamp(last_normal[("power_load", "100100")]) == hour_ago_minute


def test_an_areas_own_thresholds_override_the_catalogue(engine: Engine) -> None:
    from data_access import schema

    west = ("SELECT value, status, warn_high FROM v_vitals_latest"
            " WHERE indicator_id = 'power_load' AND area_code = '100200'")
    assert [tuple(r.values()) for r in _rows(engine, west)] == [(90.0, "normal", 100.0)]
    with engine.begin() as conn:  # the west district is small: its own line is 80
        conn.execute(schema.indicator_thresholds.insert().values(
            indicator_id="power_load", area_code="100200", warn_high=80, alarm_high=None))
    try:
        assert [tuple(r.values()) for r in _rows(engine, west)] == [(90.0, "warn", 80.0)]
        recent = _rows(engine, "SELECT status FROM v_vitals_recent"
                               " WHERE indicator_id = 'power_load' AND area_code = '100200'")
        assert [r["status"] for r in recent] == ["warn"]
        east = _rows(engine, "SELECT status FROM v_vitals_latest WHERE indicator_id = 'power_load'"
                             " AND area_code = '100100'")
        assert east == [{"status": "alarm"}]  # other areas keep the catalogue's bounds (alarm_high 120)
        bounds = _rows(engine, "SELECT warn_high, alarm_high FROM v_vitals_latest"
                               " WHERE indicator_id = 'power_load' AND area_code = '100200'")
        assert bounds == [{"warn_high": 80.0, "alarm_high": 120.0}]  # a NULL override inherits
        frame = vitals_latest(engine=engine, area_code="100200", now=T)
        assert frame.loc[0, "status"] == "warn"
    finally:
        with engine.begin() as conn:
            conn.execute(schema.indicator_thresholds.delete())
