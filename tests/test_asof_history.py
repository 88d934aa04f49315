"""v_incident_history and the kept history (data_access/replay.py kept_history_start) on SQLite and
PostgreSQL: every incident, open or closed, with its lifecycle times as written; the oldest kept
moment is the oldest vital-sign hour or minute, else the oldest incident report, else None."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.db import utc_now
from data_access.replay import kept_history_start
from data_access.sql import read_frame
from tests.conftest import BACKENDS

INCIDENT_COLUMNS = ("incident_id", "category", "status", "reported_at", "dispatched_at", "started_at", "resolved_at",
                    "closed_at", "due_at", "reopened", "street_code", "district_code", "priority")


def incident(**values: object) -> dict[str, object]:
    """One incidents row with every column the test inserts (executemany needs the same keys)."""
    row: dict[str, object] = dict.fromkeys(INCIDENT_COLUMNS)
    row.update({"reopened": 0, "priority": 1})
    row.update(values)
    return row


@pytest.fixture(params=BACKENDS)
def empty_city(request: pytest.FixtureRequest, new_database: Callable[[str], Engine]) -> Engine:
    engine = new_database(request.param)
    with engine.begin() as conn:
        conn.execute(schema.areas.insert(), [
            {"area_code": "C", "level": "city", "parent_code": None, "name": "城"},
            {"area_code": "D1", "level": "district", "parent_code": "C", "name": "一区"},
            {"area_code": "S1", "level": "street", "parent_code": "D1", "name": "一街"}])
    return engine


def test_history_holds_every_incident_with_its_lifecycle(empty_city: Engine) -> None:
    now = utc_now().replace(second=0)
    rows = [
        incident(incident_id="open", category="noise", status="dispatched", reported_at=now - timedelta(hours=3),
                 dispatched_at=now - timedelta(hours=2), due_at=now + timedelta(hours=1), street_code="S1",
                 district_code="D1", priority=2),
        incident(incident_id="closed", category="noise", status="closed", reported_at=now - timedelta(hours=5),
                 dispatched_at=now - timedelta(hours=4), started_at=now - timedelta(hours=3),
                 resolved_at=now - timedelta(hours=2), closed_at=now - timedelta(hours=1), reopened=1,
                 street_code="S1", district_code="D1"),
    ]
    with empty_city.begin() as conn:
        conn.execute(schema.incidents.insert(), rows)
    assert kept_history_start(engine=empty_city) == now - timedelta(hours=5)
    got = read_frame(empty_city, "SELECT * FROM v_incident_history ORDER BY incident_id",
                     times_in=("reported_at", "dispatched_at", "started_at", "resolved_at", "closed_at", "due_at"))
    assert list(got.columns) == [
        "incident_id", "category", "subcategory", "source", "priority", "status", "reported_at", "dispatched_at",
        "started_at", "resolved_at", "closed_at", "due_at", "reopened", "lat", "lon", "cell_id", "street_code",
        "district_code", "title", "address"]
    assert list(got["incident_id"]) == ["closed", "open"]
    closed = got.iloc[0]
    assert closed["closed_at"] == now - timedelta(hours=1) and closed["resolved_at"] == now - timedelta(hours=2)
    assert int(closed["reopened"]) == 1 and closed["status"] == "closed"
    opened = got.iloc[1]
    assert pd.isna(opened["closed_at"])
    assert opened["dispatched_at"] == now - timedelta(hours=2) and int(opened["priority"]) == 2


def test_kept_history_is_the_oldest_vital_sign_minute_or_hour(empty_city: Engine) -> None:
    assert kept_history_start(engine=empty_city) is None
    now = utc_now().replace(second=0)
    with empty_city.begin() as conn:
        conn.execute(schema.indicators.insert(), [{"indicator_id": "pm25", "dimension": "environment",
                                                   "name": "PM2.5", "level": "city", "period_s": 60}])
        conn.execute(schema.readings.insert(), [
            {"indicator_id": "pm25", "area_code": "C", "ts": now - timedelta(minutes=90, seconds=-17), "value": 1.0},
            {"indicator_id": "pm25", "area_code": "C", "ts": now - timedelta(minutes=1), "value": 2.0}])
        conn.execute(schema.incidents.insert(), [{"incident_id": "old", "category": "noise", "status": "reported",
                                                  "reported_at": now - timedelta(days=3)}])
    # raw readings only (no roll-up): v_vitals_hourly's oldest hour starts before the oldest minute
    oldest_reading = now - timedelta(minutes=90, seconds=-17)
    assert kept_history_start(engine=empty_city) == oldest_reading.replace(minute=0, second=0)
    with empty_city.begin() as conn:
        conn.execute(sa.text("DELETE FROM readings"))
    assert kept_history_start(engine=empty_city) == now - timedelta(days=3)  # back to the incidents
