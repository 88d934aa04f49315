"""As-of reads (data_access/asof.py) against tests/asof_city.py on SQLite and PostgreSQL: at the past
minute T every figure equals what the fixture wrote for T (incidents open then, their stage and
deadline then, today's and the 30 days' figures up to T; vital signs of the minute T and before),
whatever happened after T."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy.engine import Engine

from data_access import asof
from data_access.areas import area_by_code
from data_access.db import utc_now
from data_access.incident_map import load_map_counts
from data_access.models import IncidentCounts, IncidentFilter
from data_access.replay import kept_history_start, parse_at
from tests.asof_city import CITY, D1, D2, MIN, NOW, S1, S2, S3, TZ, T


def area(engine: Engine, code: str):
    found = area_by_code(engine=engine, area_code=code)
    assert found is not None
    return found


def test_incident_counts_at_t(asof_city: Engine) -> None:
    def counts(code: str) -> IncidentCounts | None:
        return asof.incident_counts_as_of(engine=asof_city, area_code=code, at=T, tz=TZ)

    assert counts(CITY) == IncidentCounts(area_code=CITY, open=4, overdue=1, reported_today=2, closed_today=1,
                                          closed_on_time_today=1, on_time_rate_30d=0.5)
    assert counts(D1) == IncidentCounts(area_code=D1, open=2, overdue=1, reported_today=0, closed_today=1,
                                        closed_on_time_today=1, on_time_rate_30d=0.5)
    assert counts(D2) == IncidentCounts(area_code=D2, open=2, overdue=0, reported_today=2, closed_today=0,
                                        closed_on_time_today=0, on_time_rate_30d=None)
    assert counts(S2) == IncidentCounts(area_code=S2, open=0, overdue=0, reported_today=0, closed_today=1,
                                        closed_on_time_today=1, on_time_rate_30d=1.0)
    assert counts("999999") is None
    # a minute before the first report of the day: nothing reported yet, and b not yet overdue either way
    assert asof.incident_counts_as_of(engine=asof_city, area_code=CITY, at=T + 2 * timedelta(hours=1),
                                      tz=TZ).open == 4  # at T+2h: b closed (T+1h), d reported (T+10 min)


def test_map_counts_at_t(asof_city: Engine) -> None:
    counts = asof.load_map_counts_as_of(engine=asof_city, at=T)
    assert counts.own[CITY] == (CITY, 4, 1)
    assert counts.children[CITY] == [(D1, 2, 1), (D2, 2, 0)]
    assert counts.children[D1] == [(S1, 2, 1), (S2, 0, 0)]
    assert counts.children[D2] == [(S3, 2, 0)]
    assert counts.cells == [("c1", 1, 1, 3), ("c2", 1, 0, 1), ("c4", 2, 0, 2)]
    assert counts.cells_in[S1] == [("c1", 1, 1, 3), ("c2", 1, 0, 1)]
    assert counts.cells_in[D2] == [("c4", 2, 0, 2)]
    # now: the live read and the as-of read of this minute agree (a, d, h open; a and nothing else overdue)
    live, now = load_map_counts(engine=asof_city), asof.load_map_counts_as_of(engine=asof_city, at=NOW + MIN)
    assert live.own == now.own and live.cells == now.cells


def test_open_incidents_and_points_at_t(asof_city: Engine) -> None:
    frame = asof.open_incidents_as_of(engine=asof_city, area=None, at=T)
    assert list(frame["incident_id"]) == ["a", "e", "b", "h"]  # priority, overdue, reported_at
    assert dict(zip(frame["incident_id"], frame["status"], strict=True)) == {
        "a": "dispatched", "b": "in_progress", "e": "resolved", "h": "in_progress"}
    overdue = dict(zip(frame["incident_id"], frame["overdue"].astype(int), strict=True))
    assert overdue == {"a": 1, "b": 0, "e": 0, "h": 0}
    assert list(frame.columns) == ["incident_id", "category", "subcategory", "source", "priority", "status",
                                   "reported_at", "due_at", "overdue", "lat", "lon", "cell_id", "street_code",
                                   "district_code", "title", "address"]
    west = asof.open_incidents_as_of(engine=asof_city, area=area(asof_city, D2), at=T)
    assert list(west["incident_id"]) == ["e", "h"]
    assert list(asof.open_incidents_as_of(engine=asof_city, area=None, at=T, limit=1)["incident_id"]) == ["a"]
    points = asof.open_incident_points_as_of(engine=asof_city, street_code=S1, at=T)
    assert list(points["incident_id"]) == ["a", "b"]
    assert list(points["status"]) == ["dispatched", "in_progress"]
    assert list(asof.open_incident_points_as_of(engine=asof_city, street_code=S3, at=T)["incident_id"]) == ["h"]
    # (e is open there too, but has no position)
    shapes = asof.open_cell_shapes_as_of(engine=asof_city, area=area(asof_city, D1), at=T)
    assert list(shapes["cell_id"]) == ["c1", "c2"]


def test_level_panels_at_t(asof_city: Engine) -> None:
    panels = asof.load_panels_as_of(engine=asof_city, area=area(asof_city, CITY), at=T, tz=TZ)
    assert panels.counts.open == 4
    assert list(panels.children["area_code"]) == [D1, D2]  # D1 has the overdue one
    assert list(panels.children["open"]) == [2, 2] and list(panels.children["reported_today"]) == [0, 2]
    assert panels.children["on_time_rate_30d"].iloc[0] == 0.5 and pd.isna(panels.children["on_time_rate_30d"].iloc[1])
    assert list(zip(panels.categories["category"], panels.categories["open"], panels.categories["overdue"],
                    strict=True)) == [("noise", 3, 1), ("waterlogging", 1, 0)]
    assert list(zip(panels.funnel["status"], panels.funnel["open"], strict=True)) == [
        ("reported", 0), ("dispatched", 1), ("in_progress", 2), ("resolved", 1)]
    street = asof.load_panels_as_of(engine=asof_city, area=area(asof_city, S1), at=T, tz=TZ)
    assert list(zip(street.children["area_code"], street.children["open"], street.children["overdue"],
                    strict=True)) == [("c1", 1, 1), ("c2", 1, 0)]
    district = asof.load_panels_as_of(engine=asof_city, area=area(asof_city, D1), at=T, tz=TZ)
    assert district.vitals.loc[0, "indicator_id"] == "power_load" and district.vitals.loc[0, "value"] == 130.0


def test_incident_list_at_t(asof_city: Engine) -> None:
    everything = IncidentFilter()
    assert asof.count_incidents_as_of(engine=asof_city, filt=everything, at=T) == 4
    rows = asof.list_incidents_as_of(engine=asof_city, filt=everything, at=T)
    assert list(rows["incident_id"]) == ["a", "e", "b", "h"]
    assert set(rows["street_name"]) == {"甲街道", "丙街道"}
    overdue = IncidentFilter.from_values(overdue="1")
    assert list(asof.list_incidents_as_of(engine=asof_city, filt=overdue, at=T)["incident_id"]) == ["a"]
    in_progress = IncidentFilter.from_values(area_level="district", area_code=D2, statuses=["in_progress"])
    assert asof.count_incidents_as_of(engine=asof_city, filt=in_progress, at=T) == 1


def test_wall_at_t(asof_city: Engine) -> None:
    wall = asof.load_wall_as_of(engine=asof_city, area=area(asof_city, D1), at=T, hotline_source="hotline_12345",
                                level_words={"zh": "区", "en": "district"}, tz=TZ)
    assert wall.read_at == T
    vitals = wall.vitals.set_index("indicator_id")
    assert vitals.loc["power_load", "value"] == 130.0 and vitals.loc["power_load", "status"] == "alarm"
    assert vitals.loc["power_load", "source_area"] == D1 and not vitals.loc["power_load", "stale"]
    assert vitals.loc["aqi", "value"] == 150.0 and vitals.loc["aqi", "status"] == "warn"
    assert vitals.loc["aqi", "source_area"] == CITY and vitals.loc["aqi", "age_s"] == 1800
    assert not vitals.loc["aqi", "stale"]
    assert vitals.loc["aqi", "prev_day_value"] == 80.0
    assert [(a.indicator_id, a.status, a.since) for a in wall.alarms] == [
        ("power_load", "alarm", T - 5 * MIN), ("aqi", "warn", None)]
    assert wall.sparks["power_load"] == [90.0] * 55 + [130.0] * 5
    assert wall.health.overall == 0.0
    assert wall.counts == IncidentCounts(area_code=D1, open=2, overdue=1, reported_today=0, closed_today=1,
                                         closed_on_time_today=1, on_time_rate_30d=0.5)
    assert wall.hotline == {"open": 1, "overdue": 0, "reported_today": 0, "closed_today": 0,
                            "on_time_rate_30d": None}
    assert wall.newest_reading == T
    assert wall.failed == frozenset()
    stale = asof.load_wall_as_of(engine=asof_city, area=area(asof_city, D2), at=T, hotline_source="hotline_12345",
                                 level_words={}, tz=TZ)
    power = stale.vitals.set_index("indicator_id").loc["power_load"]
    assert power["value"] == 95.0 and bool(power["stale"]) and power["age_s"] == 600
    assert stale.hotline["open"] == 1 and stale.hotline["reported_today"] == 1


def test_kept_history_bounds_the_moment(asof_city: Engine) -> None:
    kept = kept_history_start(engine=asof_city)
    hour_yesterday = (T - timedelta(hours=24)).replace(minute=0)
    assert kept == hour_yesterday  # v_vitals_hourly keeps the hour of yesterday's AQI readings
    local = pd.Timestamp(T).tz_localize("UTC").tz_convert(TZ).strftime("%Y-%m-%dT%H:%M")
    assert parse_at(local, tz=TZ, now=NOW, kept_from=kept) == T


def test_as_of_this_minute_equals_the_live_views(asof_city: Engine) -> None:
    """One definition: read as of the current minute, every area's figures are v_incident_counts'."""
    from data_access.incidents import incident_counts

    now = utc_now() + MIN  # the incidents' changes are all at whole seconds before it
    for code in (CITY, D1, D2, S1, S2, S3):
        assert asof.incident_counts_as_of(engine=asof_city, area_code=code, at=now, tz=TZ) == incident_counts(
            engine=asof_city, area_code=code), code
