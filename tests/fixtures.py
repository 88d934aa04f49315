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
