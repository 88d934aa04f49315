"""The as-of fixture (issue 15): a small city whose incidents and vital signs at one past minute ``T``
are written out here, with events before and after ``T`` that an as-of read must count or ignore.

Times: ``T`` is a minute two hours ago (inside v_vitals_recent's 24 h); ``DAY`` the city's local
midnight that began T's day, ``MID`` halfway between ``DAY`` and ``T`` ("today" at T), ``Y`` an hour
before ``DAY`` ("yesterday"). Asia/Shanghai, as init_db's default."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from data_access import schema
from data_access.asof import day_start_utc
from data_access.db import utc_now
from tests.fixtures import insert_rows

TZ = ZoneInfo("Asia/Shanghai")
NOW = utc_now().replace(second=0)
T = NOW - timedelta(hours=2)
DAY = day_start_utc(T, TZ)
MID = DAY + (T - DAY) / 2
Y = DAY - timedelta(hours=1)
MIN = timedelta(minutes=1)
H = timedelta(hours=1)

CITY, D1, D2, S1, S2, S3 = "100000", "100100", "100200", "100100001", "100100002", "100200001"


def _incidents() -> list[dict]:
    base = {"source": "patrol", "lat": 31.2, "lon": 121.4, "reopened": 0, "subcategory": None, "title": None,
            "address": None, "dispatched_at": None, "started_at": None, "resolved_at": None, "closed_at": None}
    here = {"S1": {"street_code": S1, "district_code": D1}, "S2": {"street_code": S2, "district_code": D1},
            "S3": {"street_code": S3, "district_code": D2}}
    return [
        # open at T: dispatched then (started only after T), overdue (due yesterday); still open now
        {**base, **here["S1"], "incident_id": "a", "category": "noise", "priority": 3, "status": "in_progress",
         "cell_id": "c1", "reported_at": Y - 2 * H, "dispatched_at": Y - H, "started_at": T + 30 * MIN, "due_at": Y},
        # open at T (in progress), resolved and closed after T; the hotline's
        {**base, **here["S1"], "incident_id": "b", "category": "noise", "priority": 1, "status": "closed",
         "source": "hotline_12345", "cell_id": "c2", "reported_at": Y - 3 * H, "dispatched_at": Y - 2 * H,
         "started_at": Y - H, "resolved_at": T + 30 * MIN, "closed_at": T + H, "due_at": T + 2 * H},
        # closed today before T, on time
        {**base, **here["S2"], "incident_id": "c", "category": "noise", "priority": 1, "status": "closed",
         "cell_id": "c3", "reported_at": Y - 2 * H, "resolved_at": MID, "closed_at": MID, "due_at": T + H},
        # reported after T: not there yet
        {**base, **here["S1"], "incident_id": "d", "category": "noise", "priority": 2, "status": "reported",
         "cell_id": "c1", "reported_at": T + 10 * MIN, "due_at": T + 5 * H},
        # reported today, resolved (awaiting verification) at T, no deadline; no position
        {**base, **here["S3"], "incident_id": "e", "category": "waterlogging", "priority": 2, "status": "resolved",
         "cell_id": "c4", "reported_at": MID, "dispatched_at": MID, "started_at": MID, "resolved_at": MID,
         "due_at": None, "lat": None, "lon": None},
        # closed yesterday, late: counts in the 30 days only
        {**base, **here["S1"], "incident_id": "f", "category": "noise", "priority": 1, "status": "closed",
         "cell_id": "c1", "reported_at": Y - 2 * H, "resolved_at": Y, "closed_at": Y + 10 * MIN,
         "due_at": Y - 90 * MIN},
        # closed 40 days before T: nowhere
        {**base, **here["S3"], "incident_id": "g", "category": "noise", "priority": 1, "status": "closed",
         "cell_id": "c4", "reported_at": T - timedelta(days=41), "closed_at": T - timedelta(days=40),
         "due_at": T - timedelta(days=39)},
        # reported today, no stage times kept (its current status stands), the hotline's
        {**base, **here["S3"], "incident_id": "h", "category": "noise", "priority": 1, "status": "in_progress",
         "source": "hotline_12345", "cell_id": "c4", "reported_at": MID, "due_at": T + H},
    ]


def _readings() -> list[dict]:
    rows = [{"indicator_id": "power_load", "area_code": D1, "ts": T - m * MIN + timedelta(seconds=5), "value": 90.0}
            for m in range(70, 5, -1)]
    rows += [{"indicator_id": "power_load", "area_code": D1, "ts": T - m * MIN + timedelta(seconds=5), "value": 130.0}
             for m in range(5, 0, -1)]
    rows += [  # minute T itself: two readings averaging 130 (alarm)
        {"indicator_id": "power_load", "area_code": D1, "ts": T + timedelta(seconds=10), "value": 128.0},
        {"indicator_id": "power_load", "area_code": D1, "ts": T + timedelta(seconds=20), "value": 132.0},
        # after T: normal again (a replay of T never sees it)
        {"indicator_id": "power_load", "area_code": D1, "ts": T + MIN, "value": 50.0},
        {"indicator_id": "power_load", "area_code": D1, "ts": T + 5 * MIN, "value": 50.0},
        # D2: last reported 10 minutes before T: stale at T (period 60 s)
        {"indicator_id": "power_load", "area_code": D2, "ts": T - 10 * MIN, "value": 95.0},
        # the city's AQI: warn 30 minutes before T (fresh for an hourly indicator), normal after T
        {"indicator_id": "aqi", "area_code": CITY, "ts": T - 30 * MIN, "value": 150.0},
        {"indicator_id": "aqi", "area_code": CITY, "ts": T + 30 * MIN, "value": 50.0},
        # the same time yesterday: the hour holding T - 24 h averages 80
        {"indicator_id": "aqi", "area_code": CITY, "ts": (T - timedelta(hours=24)).replace(minute=5), "value": 70.0},
        {"indicator_id": "aqi", "area_code": CITY, "ts": (T - timedelta(hours=24)).replace(minute=25), "value": 90.0},
    ]
    return rows


def seed_asof_city(engine: Engine) -> None:
    with engine.begin() as conn:
        insert_rows(conn, schema.areas, [
            dict(area_code=CITY, level="city", parent_code=None, name="测试市", name_en="Testville", sort_order=0),
            dict(area_code=D1, level="district", parent_code=CITY, name="东区", name_en="East", sort_order=1),
            dict(area_code=D2, level="district", parent_code=CITY, name="西区", name_en="West", sort_order=2),
            dict(area_code=S1, level="street", parent_code=D1, name="甲街道", name_en="Jia", sort_order=1),
            dict(area_code=S2, level="street", parent_code=D1, name="乙街道", name_en="Yi", sort_order=2),
            dict(area_code=S3, level="street", parent_code=D2, name="丙街道", name_en="Bing", sort_order=1),
        ])
        insert_rows(conn, schema.grid_cells, [
            dict(cell_id="c1", street_code=S1, name="甲1", geojson='{"type":"Point","coordinates":[121.4,31.2]}'),
            dict(cell_id="c2", street_code=S1, name="甲2", geojson='{"type":"Point","coordinates":[121.4,31.2]}'),
            dict(cell_id="c3", street_code=S2, name="乙1", geojson='{"type":"Point","coordinates":[121.4,31.2]}'),
            dict(cell_id="c4", street_code=S3, name="丙1", geojson='{"type":"Point","coordinates":[121.4,31.2]}'),
        ])
        insert_rows(conn, schema.indicators, [
            dict(indicator_id="power_load", dimension="supply", name="用电负荷", name_en="Power load", unit="MW",
                 level="district", period_s=60, warn_high=100, alarm_high=120, on_wall=True, sort_order=1),
            dict(indicator_id="aqi", dimension="environment", name="空气质量指数", name_en="AQI", unit="",
                 level="city", period_s=3600, warn_high=100, alarm_high=200, on_wall=True, sort_order=1),
        ])
        insert_rows(conn, schema.readings, _readings())
        insert_rows(conn, schema.incidents, _incidents())
