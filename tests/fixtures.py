"""A small hand-made city (2 districts, 3 streets, 4 cells, 4 indicators, 9 incidents) whose
view answers the tests write out literally."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.db import utc_now

# Times relative to the moment the fixture is written; "today" rows are written at T itself and
# "yesterday" rows before the city's local midnight, so the day boundary is never ambiguous.
T = utc_now()
M = T.replace(second=0)  # start of the current minute
TZ = ZoneInfo("Asia/Shanghai")
LOCAL_MIDNIGHT_UTC = (
    datetime.combine(datetime.now(TZ).date(), datetime.min.time(), tzinfo=TZ).astimezone(UTC).replace(tzinfo=None)
)


def insert_rows(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """executemany needs one key set: missing columns become NULL (or their server default)."""
    keys = set().union(*rows)
    conn.execute(table.insert(), [{k: row.get(k) for k in keys} for row in rows])


def seed_small_city(engine: Engine) -> None:
    h = timedelta(hours=1)
    d = timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(schema.areas.insert(), [
            dict(area_code="100000", level="city", parent_code=None, name="测试市", name_en="Testville"),
            dict(area_code="100100", level="district", parent_code="100000", name="东区", name_en="East"),
            dict(area_code="100200", level="district", parent_code="100000", name="西区", name_en="West"),
            dict(area_code="100100001", level="street", parent_code="100100", name="甲街道", name_en="Jia"),
            dict(area_code="100100002", level="street", parent_code="100100", name="乙街道", name_en="Yi"),
            dict(area_code="100200001", level="street", parent_code="100200", name="丙街道", name_en="Bing"),
        ])
        conn.execute(schema.grid_cells.insert(), [
            dict(cell_id="c1", street_code="100100001"), dict(cell_id="c2", street_code="100100001"),
            dict(cell_id="c3", street_code="100100002"), dict(cell_id="c4", street_code="100200001"),
        ])
        insert_rows(conn, schema.indicators, [
            dict(indicator_id="power_load", dimension="supply", name="用电负荷", name_en="Power load",
                 unit="MW", level="district",
                 period_s=60, warn_high=100, alarm_high=120),
            dict(indicator_id="aqi", dimension="environment", name="空气质量指数", name_en="AQI",
                 unit="", level="city",
                 period_s=3600, warn_high=100, alarm_high=200),
            dict(indicator_id="water_pressure", dimension="supply", name="水压", name_en="Water pressure",
                 unit="MPa", level="city",
                 period_s=5, warn_low=0.28, alarm_low=0.25),
            dict(indicator_id="broken_sensor", dimension="safety", name="坏传感器", name_en="Broken sensor",
                 unit="", level="city",
                 period_s=60, warn_high=1),
        ])
        conn.execute(schema.readings.insert(), [
            dict(indicator_id="power_load", area_code="100100", ts=T - timedelta(seconds=30) - d, value=80),
            dict(indicator_id="power_load", area_code="100100", ts=M - timedelta(minutes=25 * 60), value=70),
            dict(indicator_id="power_load", area_code="100100", ts=M - timedelta(seconds=110), value=100),
            dict(indicator_id="power_load", area_code="100100", ts=M - timedelta(seconds=80), value=120),
            dict(indicator_id="power_load", area_code="100100", ts=T - timedelta(seconds=30), value=130),
            dict(indicator_id="power_load", area_code="100200", ts=T - timedelta(minutes=10), value=90),
            dict(indicator_id="aqi", area_code="100000", ts=T - h, value=150),
            dict(indicator_id="water_pressure", area_code="100000", ts=T - timedelta(seconds=5), value=0.24),
            dict(indicator_id="broken_sensor", area_code="100000", ts=T, value=None),
        ])
        # Written late and out of order: must not replace the newer latest value.
        conn.execute(schema.readings.insert(),
                     [dict(indicator_id="power_load", area_code="100100", ts=T - h, value=50)])
        conn.execute(schema.incident_categories.insert(), [
            dict(subcategory="gas_leak", category="gas", name="燃气泄漏", category_name="燃气安全",
                 category_name_en="Gas", sla_hours=1, priority=3, sort_order=10),
            dict(subcategory="noise_night", category="noise", name="夜间噪声", category_name="噪声扰民",
                 category_name_en="Noise", sla_hours=24, priority=1, sort_order=20),
        ])
        base = dict(source="patrol", priority=1, title="t", address="a")
        insert_rows(conn, schema.incidents, [
            {**base, "incident_id": "i1", "category": "gas", "priority": 3, "status": "dispatched",
             "cell_id": "c1", "street_code": "100100001", "district_code": "100100",
             "reported_at": LOCAL_MIDNIGHT_UTC - 2 * h, "due_at": T - h},
            {**base, "incident_id": "i2", "category": "noise", "status": "reported", "cell_id": "c1",
             "street_code": "100100001", "district_code": "100100", "reported_at": T, "due_at": T + 2 * h},
            {**base, "incident_id": "i3", "category": "noise", "status": "resolved", "cell_id": "c3",
             "street_code": "100100002", "district_code": "100100", "reported_at": T - 3 * d,
             "due_at": T - 2 * d, "resolved_at": T - h},
            {**base, "incident_id": "i4", "category": "noise", "status": "closed", "cell_id": "c4",
             "street_code": "100200001", "district_code": "100200", "reported_at": T - d,
             "due_at": T + h, "resolved_at": T - timedelta(minutes=1), "closed_at": T},
            {**base, "incident_id": "i5", "category": "noise", "status": "closed", "cell_id": "c4",
             "street_code": "100200001", "district_code": "100200", "reported_at": T - 2 * d,
             "due_at": T - d, "resolved_at": T - timedelta(minutes=10), "closed_at": T},
            {**base, "incident_id": "i6", "category": "noise", "status": "closed", "cell_id": "c3",
             "street_code": "100100002", "district_code": "100100", "reported_at": T - 11 * d,
             "due_at": T - 10 * d, "resolved_at": T - 10 * d - h, "closed_at": T - 10 * d},
            {**base, "incident_id": "i7", "category": "noise", "status": "closed", "cell_id": "c1",
             "street_code": "100100001", "district_code": "100100", "reported_at": T - 41 * d,
             "due_at": T - 40 * d, "resolved_at": T - 40 * d - h, "closed_at": T - 40 * d},
            {**base, "incident_id": "i8", "category": "waterlogging", "status": "reported", "cell_id": None,
             "street_code": "100200001", "district_code": "100200", "reported_at": T, "due_at": None},
            {**base, "incident_id": "i9", "category": "noise", "status": "closed", "cell_id": "c2",
             "street_code": "100100001", "district_code": "100100", "reported_at": LOCAL_MIDNIGHT_UTC - h,
             "due_at": LOCAL_MIDNIGHT_UTC + d, "resolved_at": LOCAL_MIDNIGHT_UTC - h / 2,
             "closed_at": LOCAL_MIDNIGHT_UTC - timedelta(minutes=1)},
        ])


# --- situations (issue 13) -------------------------------------------------------------------------
# Times relative to SM, the start of the minute the scenario fixture is written (the views keep 24 h
# counted from the database's clock: every row here is at most an hour old).
SM = utc_now().replace(second=0)


def _m(minutes: int, start: datetime = SM) -> datetime:
    return start - timedelta(minutes=minutes)


def rain_minutes(area: str, runs: list[tuple[int, int, float]], start: datetime = SM) -> list[dict]:
    """Readings of rain_mm_h, one per minute: (from minutes ago, to minutes ago, value) runs."""
    return [dict(indicator_id="rain_mm_h", area_code=area, ts=_m(m, start) + timedelta(seconds=10), value=v)
            for first, last, v in runs for m in range(first, last - 1, -1)]


def seed_scenario_city(engine: Engine, *, minute: datetime = SM) -> None:
    """Three districts, three streets, rain and pump indicators, three scenarios, incidents,
    resources and operator actions; test_scenarios.py writes out what each rule makes of them. ``minute``:
    the minute its times count back from (tests reading through the real clock pass the current one)."""
    with engine.begin() as conn:
        conn.execute(schema.areas.insert(), [
            dict(area_code="100000", level="city", parent_code=None, name="测试市", name_en="Testville"),
            dict(area_code="100100", level="district", parent_code="100000", name="东区", name_en="East"),
            dict(area_code="100200", level="district", parent_code="100000", name="西区", name_en="West"),
            dict(area_code="100300", level="district", parent_code="100000", name="北区", name_en="North"),
            dict(area_code="100100001", level="street", parent_code="100100", name="甲街道", name_en="Jia"),
            dict(area_code="100100002", level="street", parent_code="100100", name="乙街道", name_en="Yi"),
            dict(area_code="100200001", level="street", parent_code="100200", name="丙街道", name_en="Bing"),
        ])
        insert_rows(conn, schema.indicators, [
            dict(indicator_id="rain_mm_h", dimension="environment", name="降雨", name_en="Rain", unit="mm/h",
                 level="district", period_s=60, warn_high=30, alarm_high=50),
            dict(indicator_id="pump_load_pct", dimension="infrastructure", name="泵站负荷", name_en="Pump load",
                 unit="%", level="district", period_s=60, warn_high=80, alarm_high=95),
        ])
        readings = (
            # East: 11 minutes in warn (not enough for an alarm rule), 6 in alarm (fires at 18 min ago),
            # then 15 normal minutes (normal 5 minutes at 10 min ago: ends, its reports allowing).
            rain_minutes("100100", [(60, 46, 10), (45, 35, 40), (34, 21, 10), (20, 15, 60), (14, 0, 10)], minute)
            # West: two alarm minutes (too short) 40 min ago, then alarm for the last 5 minutes (fires at 2).
            + rain_minutes("100200", [(41, 41, 10), (40, 39, 60), (38, 5, 10), (4, 0, 60)], minute)
            # North: alarm for the last 10 minutes (fires at 8 min ago), manually ended 3 min ago.
            + rain_minutes("100300", [(30, 11, 10), (10, 0, 70)], minute)
            + [dict(indicator_id="pump_load_pct", area_code="100200", ts=_m(1, minute), value=97)]  # board only
        )
        conn.execute(schema.readings.insert(), readings)
        insert_rows(conn, schema.incident_categories, [
            dict(subcategory="road_waterlogging", category="waterlogging", name="道路积水", category_name="积水",
                 sla_hours=2, priority=2),
            dict(subcategory="manhole_cover_missing", category="facilities", name="井盖缺失", category_name="设施",
                 sla_hours=4, priority=2),
            dict(subcategory="crowd_gathering", category="public_safety", name="人员聚集", category_name="安全",
                 sla_hours=1, priority=3),
            dict(subcategory="elevator_entrapment", category="public_safety", name="电梯困人", category_name="安全",
                 sla_hours=1, priority=3),
            dict(subcategory="noise_night", category="noise", name="夜间噪声", category_name="噪声",
                 sla_hours=24, priority=1),
        ])

        def incident(iid: str, sub: str, street: str, minutes_ago: int, *, closed: bool = False,
                     due_in_min: int = 60) -> dict:
            category = {"road_waterlogging": "waterlogging", "manhole_cover_missing": "facilities",
                        "noise_night": "noise"}.get(sub, "public_safety")
            reported = _m(minutes_ago, minute)
            return dict(incident_id=iid, category=category, subcategory=sub, source="patrol", priority=2,
                        status="closed" if closed else "reported", street_code=street, district_code=street[:6],
                        reported_at=reported, due_at=minute + timedelta(minutes=due_in_min),
                        closed_at=reported + timedelta(minutes=1) if closed else None, lat=31.2, lon=121.4)

        insert_rows(conn, schema.incidents, [
            # East storm reports: 50 and 12 min ago (one in the 30-minute end window at 10 min ago).
            incident("w1", "road_waterlogging", "100100001", 50, closed=True),
            incident("w2", "road_waterlogging", "100100002", 12),
            # West: two open ones for its board (one overdue first) and a manhole report.
            incident("w3", "road_waterlogging", "100200001", 20, due_in_min=30),
            incident("w4", "road_waterlogging", "100200001", 25, due_in_min=-5),
            incident("m1", "manhole_cover_missing", "100200001", 6),
            incident("n1", "noise_night", "100200001", 6),  # not a storm category
            # Jia street crowd: three within 10 min (fires 24 min ago), quiet by 17 min ago (ends);
            # three again 8, 6 and 5 min ago (fires 5 min ago); an elevator entrapment never counts.
            incident("c1", "crowd_gathering", "100100001", 30, closed=True),
            incident("c2", "crowd_gathering", "100100001", 27, closed=True),
            incident("c3", "crowd_gathering", "100100001", 24, closed=True),
            incident("c4", "crowd_gathering", "100100001", 8),
            incident("c5", "crowd_gathering", "100100001", 6),
            incident("c6", "crowd_gathering", "100100001", 5),
            incident("e1", "elevator_entrapment", "100100001", 4),
            # Yi street: three noise reports (not a crowd category); Bing street: only two crowd reports.
            incident("x1", "noise_night", "100100002", 3), incident("x2", "noise_night", "100100002", 2),
            incident("x3", "noise_night", "100100002", 1),
            incident("c7", "crowd_gathering", "100200001", 3), incident("c8", "crowd_gathering", "100200001", 2),
        ])
        insert_rows(conn, schema.scenarios, [
            dict(scenario_id="storm", name="暴雨积水", name_en="Rainstorm", area_level="district",
                 activation_kind="indicators", activation_status="alarm", activation_minutes=3,
                 activation_window_minutes=30, end_normal_minutes=5, end_incidents_below=2, sort_order=1),
            dict(scenario_id="crowd", name="大客流", name_en="Large crowd", area_level="street",
                 activation_kind="incidents", activation_incidents=3, activation_window_minutes=10,
                 end_incidents_below=2, sort_order=2),
            dict(scenario_id="gas", name="燃气安全", name_en="Gas safety", area_level="district",
                 activation_kind="manual", sort_order=3),
        ])
        insert_rows(conn, schema.scenario_indicators, [
            dict(scenario_id="storm", indicator_id="rain_mm_h", triggers=True, sort_order=1),
            dict(scenario_id="storm", indicator_id="pump_load_pct", triggers=False, sort_order=2),
        ])
        insert_rows(conn, schema.scenario_categories, [
            dict(scenario_id="storm", category="waterlogging", subcategory=None),
            dict(scenario_id="storm", category="facilities", subcategory="manhole_cover_missing"),
            dict(scenario_id="crowd", category="public_safety", subcategory="crowd_gathering"),
        ])
        insert_rows(conn, schema.scenario_resource_types, [
            dict(scenario_id="storm", resource_type="pump_truck"),
            dict(scenario_id="storm", resource_type="patrol_team"),
        ])
        insert_rows(conn, schema.scenario_steps, [
            dict(scenario_id="storm", step_id="notify", sort_order=1, text="通知", text_en="Notify", role="supervisor"),
            dict(scenario_id="storm", step_id="pumps", sort_order=2, text="调泵车", text_en="Send pumps",
                 role="leader"),
        ])
        insert_rows(conn, schema.resource_types, [
            dict(resource_type="pump_truck", name="泵车", name_en="Pump truck", sort_order=2),
            dict(resource_type="patrol_team", name="巡逻队", name_en="Patrol team", sort_order=1),
            dict(resource_type="repair_crew", name="抢修队", name_en="Repair crew", sort_order=3),
        ])
        insert_rows(conn, schema.resources, [
            dict(resource_id="p1", resource_type="pump_truck", name="泵车1", status="idle", lat=31.2, lon=121.4,
                 area_code="100200", updated_at=_m(1, minute), period_s=60),
            dict(resource_id="p2", resource_type="pump_truck", name="泵车2", status="en_route", lat=31.2,
                 lon=121.5, area_code="100200001", updated_at=_m(30, minute), period_s=60, assigned_incident_id="w4"),
            dict(resource_id="t1", resource_type="patrol_team", name="巡逻1", status="idle", lat=None, lon=None,
                 area_code="100200001", updated_at=None, period_s=60),  # no position: listed all the same
            dict(resource_id="r1", resource_type="repair_crew", name="抢修1", status="idle", lat=31.2, lon=121.4,
                 area_code="100200", updated_at=_m(1, minute), period_s=60),  # not a storm type
            dict(resource_id="p3", resource_type="pump_truck", name="泵车3", status="idle", lat=31.3, lon=121.4,
                 area_code="100100", updated_at=_m(1, minute), period_s=60),  # another district
        ])

        def action(n: int, kind: str, scenario: str, area: str, minutes_ago: float, **extra: object) -> dict:
            return dict(at=minute - timedelta(minutes=minutes_ago), principal=extra.pop("principal", "ops.li"),
                        role="supervisor", screen="/scenario", kind=kind, scenario_id=scenario, area_code=area,
                        request_id=f"req-{n}", **extra)

        insert_rows(conn, schema.operator_actions, [
            action(1, "manual_start", "gas", "100100", 40), action(2, "manual_end", "gas", "100100", 30),
            action(3, "manual_start", "gas", "100200", 15, principal="ops.wang"),
            action(4, "manual_end", "storm", "100300", 3),
            # The West storm acknowledged on West's wall 1 min ago (after it began 2 min ago).
            action(5, "ack_takeover", "storm", "100200", 1, scope_code="100200"),
            # Jia's crowd acknowledged 20 min ago: the earlier activation's, not the one since 5 min ago.
            action(6, "ack_takeover", "crowd", "100100001", 20, scope_code="100100"),
            # Checklist marks of the West storm: one before it began (an older activation), two in it.
            action(7, "step", "storm", "100200", 30, step_id="notify", step_state="done"),
            action(8, "step", "storm", "100200", 1.5, step_id="notify", step_state="skipped", comment="later"),
            action(9, "step", "storm", "100200", 0.5, step_id="notify", step_state="done", principal="ops.wang"),
        ])


# --- the shift log (issue 15): a simulated day on top of the scenario city ---------------------------
# Times count back from ``minute`` (the views keep 24 h from the database's clock): a noise indicator
# read every 10 minutes all day with two excursions, a street's short alarm, a manual scenario in the
# night, a checklist mark whose comment would be a spreadsheet formula, and incidents that went
# overdue (open, or closed after their deadline) or were closed in time. test_shift_log.py writes
# out every entry this day must give.

def noise_readings(area: str, runs: list[tuple[int, int, float]], minute: datetime) -> list[dict]:
    """Readings of noise_db every 10 minutes: (from minutes ago, to minutes ago, value) runs."""
    return [dict(indicator_id="noise_db", area_code=area, ts=_m(m, minute) + timedelta(seconds=10), value=v)
            for first, last, v in runs for m in range(first, last - 1, -10)]


def seed_log_day(engine: Engine, *, minute: datetime) -> None:
    seed_scenario_city(engine, minute=minute)
    with engine.begin() as conn:
        insert_rows(conn, schema.indicators, [
            dict(indicator_id="noise_db", dimension="environment", name="环境噪声", name_en="Noise", unit="dB",
                 level="district", period_s=600, warn_high=65, alarm_high=85, decimals=0),
        ])
        conn.execute(schema.readings.insert(), noise_readings(
            "100100", [(1380, 1210, 50), (1200, 1150, 70), (1140, 1120, 90), (1110, 1090, 70), (1080, 0, 50)], minute)
            + noise_readings("100200001", [(700, 700, 50), (690, 690, 90), (680, 680, 50)], minute))
        insert_rows(conn, schema.operator_actions, [
            dict(at=_m(1200, minute), principal="ops.zhao", role="supervisor", screen="/scenario", kind="manual_start",
                 scenario_id="gas", area_code="100300", request_id="day-1"),
            dict(at=_m(1150, minute), principal="ops.zhao", role="supervisor", screen="/scenario", kind="manual_end",
                 scenario_id="gas", area_code="100300", request_id="day-2"),
            dict(at=_m(600, minute), principal="ops.li", role="supervisor", screen="/scenario", kind="step",
                 scenario_id="storm", area_code="100100", step_id="notify", step_state="done",
                 comment="=HYPERLINK(1)", request_id="day-3"),
        ])

        def incident(iid: str, street: str, due_ago: int, closed_ago: int | None) -> dict:
            return dict(incident_id=iid, category="noise", subcategory="noise_night", source="patrol", priority=1,
                        status="closed" if closed_ago is not None else "dispatched", street_code=street,
                        district_code=street[:6], reported_at=_m(due_ago + 1440, minute) + timedelta(minutes=30),
                        due_at=_m(due_ago, minute),
                        closed_at=None if closed_ago is None else _m(closed_ago, minute), lat=31.2, lon=121.4,
                        title=f"night noise {iid}")

        insert_rows(conn, schema.incidents, [
            incident("o1", "100100001", 300, None),  # open, overdue for 5 hours
            incident("o2", "100100002", 400, 500),  # closed before its deadline: never overdue
            incident("o3", "100200001", 250, 200),  # closed 50 minutes after its deadline
        ])
