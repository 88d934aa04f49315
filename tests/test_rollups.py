"""The readings roll-ups (feeder/rollups.py) and retention on SQLite and PostgreSQL (real
databases): minute and hour means with their counts, idempotence, the watermark, late readings,
the views reading roll-ups plus the raw tail, and what retention deletes and keeps."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.db import utc_now
from feeder.rollups import RetentionPolicy, apply_retention, roll_up, watermarks
from tests.conftest import BACKENDS
from tests.fixtures import seed_small_city

# The raw-readings SQL of the views before the roll-ups (the reference they must still agree with).
NAIVE_MINUTES = {
    "sqlite": "SELECT indicator_id, area_code, strftime('%Y-%m-%d %H:%M:00', ts) AS minute, AVG(value) AS value"
              " FROM readings WHERE ts >= datetime('now', '-86400 seconds')"
              " GROUP BY indicator_id, area_code, strftime('%Y-%m-%d %H:%M:00', ts)",
    "postgresql": "SELECT indicator_id, area_code, date_trunc('minute', ts) AS minute, AVG(value) AS value"
                  " FROM readings WHERE ts >= (now() AT TIME ZONE 'UTC') - interval '86400 seconds'"
                  " GROUP BY indicator_id, area_code, date_trunc('minute', ts)",
}
NAIVE_HOURS = {
    "sqlite": "SELECT indicator_id, area_code, strftime('%Y-%m-%d %H:00:00', ts) AS hour, AVG(value) AS value"
              " FROM readings WHERE ts >= datetime('now', '-691200 seconds')"
              " GROUP BY indicator_id, area_code, strftime('%Y-%m-%d %H:00:00', ts)",
    "postgresql": "SELECT indicator_id, area_code, date_trunc('hour', ts) AS hour, AVG(value) AS value"
                  " FROM readings WHERE ts >= (now() AT TIME ZONE 'UTC') - interval '691200 seconds'"
                  " GROUP BY indicator_id, area_code, date_trunc('hour', ts)",
}


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, new_database: Callable[[str], Engine]) -> Engine:
    eng = new_database(request.param)
    seed_small_city(eng)
    return eng


def _frame(engine: Engine, sql: str, time_column: str) -> dict[tuple, float | None]:
    with engine.connect() as conn:
        frame = pd.read_sql(sa.text(sql), conn)
    frame[time_column] = pd.to_datetime(frame[time_column])
    return {(r.indicator_id, r.area_code, r[time_column]): None if pd.isna(r.value) else round(float(r.value), 9)
            for _, r in frame.iterrows()}


def _view(engine: Engine, view: str, time_column: str) -> dict[tuple, float | None]:
    return _frame(engine, f"SELECT indicator_id, area_code, {time_column}, value FROM {view}", time_column)


def _add(engine: Engine, rows: list[tuple[str, str, datetime, float | None]]) -> None:
    with engine.begin() as conn:
        conn.execute(schema.readings.insert(), [
            {"indicator_id": i, "area_code": a, "ts": ts, "value": v} for i, a, ts, v in rows])


def _table(engine: Engine, table: sa.Table) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))]


def test_views_answer_the_same_from_roll_ups(engine: Engine) -> None:
    dialect = engine.dialect.name
    naive_minutes = _frame(engine, NAIVE_MINUTES[dialect], "minute")
    naive_hours = _frame(engine, NAIVE_HOURS[dialect], "hour")
    assert _view(engine, "v_vitals_recent", "minute") == naive_minutes  # nothing rolled: raw alone
    stats = roll_up(engine, now=utc_now())
    assert stats.minute_rows > 0 and stats.hour_rows > 0
    assert stats.minute_until is not None and stats.minute_until <= utc_now()
    assert _view(engine, "v_vitals_recent", "minute") == naive_minutes
    assert _view(engine, "v_vitals_hourly", "hour") == naive_hours
    # The running minute is not rolled: a reading written now shows at once, from raw readings.
    now = utc_now()
    _add(engine, [("aqi", "100000", now, 42.0)])
    recent = _view(engine, "v_vitals_recent", "minute")
    assert recent[("aqi", "100000", pd.Timestamp(now.replace(second=0)))] == 42.0
    assert _view(engine, "v_vitals_hourly", "hour") == _frame(engine, NAIVE_HOURS[dialect], "hour")


def _hours(engine: Engine) -> dict[datetime, tuple]:
    return {row[2]: row[3:] for row in _table(engine, schema.readings_hourly) if row[0] == "water_pressure"}


def test_minute_and_hour_means_counts_and_idempotence(engine: Engine) -> None:
    now = datetime(2026, 3, 1, 12, 30, 20)
    m = datetime(2026, 3, 1, 12, 10)
    _add(engine, [
        ("water_pressure", "100000", m + timedelta(seconds=5), 1.0),
        ("water_pressure", "100000", m + timedelta(seconds=10), 3.0),
        ("water_pressure", "100000", m + timedelta(seconds=15), None),  # a sensor fault: not counted
        ("water_pressure", "100000", m + timedelta(minutes=1), None),  # a minute of faults only
        ("water_pressure", "100000", m - timedelta(hours=1), 8.0),
        ("water_pressure", "100000", now, 9.0),  # the running minute: not rolled yet
    ])
    policy = RetentionPolicy(minute_s=6 * 3600, hourly_s=86400)
    first = roll_up(engine, now=now, policy=policy)
    minutes = {row[2]: row[3:] for row in _table(engine, schema.readings_minute) if row[0] == "water_pressure"}
    assert minutes == {m: (2.0, 2), m + timedelta(minutes=1): (None, 0), m - timedelta(hours=1): (8.0, 1)}
    assert _hours(engine) == {datetime(2026, 3, 1, 11): (8.0, 1)}  # 12:00 is still running
    with engine.connect() as conn:
        assert watermarks(conn) == {"minute": datetime(2026, 3, 1, 12, 30), "hour": datetime(2026, 3, 1, 12)}
    # The 12:00 hour ended less than late_s ago at 13:02: still waiting.
    assert roll_up(engine, now=datetime(2026, 3, 1, 13, 2), policy=policy).minute_until == datetime(2026, 3, 1, 13, 2)
    with engine.connect() as conn:
        assert watermarks(conn)["hour"] == datetime(2026, 3, 1, 12)
    before = (_table(engine, schema.readings_minute), _table(engine, schema.readings_hourly))
    # Again at the same time, and a fresh first run over the same window: the same rows.
    again = roll_up(engine, now=datetime(2026, 3, 1, 13, 2), policy=policy)
    assert again.minute_rows == 0 and again.hour_rows == 0
    assert (_table(engine, schema.readings_minute), _table(engine, schema.readings_hourly)) == before
    with engine.begin() as conn:
        conn.execute(schema.rollup_watermarks.delete())
    roll_up(engine, now=datetime(2026, 3, 1, 13, 2), policy=policy)
    assert _table(engine, schema.readings_minute) == before[0]
    assert first.minute_rows == 3
    # At 13:05 the 12:00 hour is rolled: the exact mean of its non-NULL readings (1, 3, 9).
    assert roll_up(engine, now=datetime(2026, 3, 1, 13, 5), policy=policy).hour_rows >= 1
    assert _hours(engine)[datetime(2026, 3, 1, 12)] == (pytest.approx(13 / 3), 3)


def test_late_readings_within_the_late_window_are_re_rolled(engine: Engine) -> None:
    policy = RetentionPolicy(minute_s=6 * 3600, hourly_s=86400, late_s=300)
    now = datetime(2026, 3, 1, 12, 30, 20)
    _add(engine, [("water_pressure", "100000", datetime(2026, 3, 1, 12, 27, 5), 1.0)])
    roll_up(engine, now=now, policy=policy)
    _add(engine, [("water_pressure", "100000", datetime(2026, 3, 1, 12, 27, 40), 3.0),  # 3 min late
                  ("water_pressure", "100000", datetime(2026, 3, 1, 12, 10, 0), 5.0)])  # 20 min late
    roll_up(engine, now=now + timedelta(minutes=1), policy=policy)
    minutes = {row[2]: row[3:] for row in _table(engine, schema.readings_minute) if row[0] == "water_pressure"}
    assert minutes[datetime(2026, 3, 1, 12, 27)] == (2.0, 2)
    assert datetime(2026, 3, 1, 12, 10) not in minutes  # too late for the minute roll-up (raw keeps it)


def test_retention_keeps_what_the_roll_ups_have_not_covered(engine: Engine) -> None:
    policy = RetentionPolicy(raw_s=2 * 3600, minute_s=4 * 3600, hourly_s=86400, late_s=300)
    now = datetime(2026, 3, 1, 12, 30, 20)
    old = [now - timedelta(hours=h) for h in (30, 5, 3, 1)]
    _add(engine, [("aqi", "100000", ts, float(i)) for i, ts in enumerate(old)])
    assert apply_retention(engine, now=now, policy=policy).readings == 0  # nothing rolled: keep all
    assert len([r for r in _table(engine, schema.readings) if r[0] == "aqi"]) == 5  # + the fixture's
    roll_up(engine, now=now, policy=policy)
    stats = apply_retention(engine, now=now, policy=policy)
    kept = sorted(r[2] for r in _table(engine, schema.readings) if r[0] == "aqi" and r[2] < now - timedelta(hours=2))
    assert kept == [] and stats.readings >= 3
    assert [r[2] for r in _table(engine, schema.readings) if r[0] == "aqi" and r[2] < now] == [now - timedelta(hours=1)]
    minutes = [r[2] for r in _table(engine, schema.readings_minute) if r[0] == "aqi"]
    assert min(minutes) >= now - timedelta(hours=4) and (now - timedelta(hours=3)).replace(second=0) in minutes
    hours = [r[2] for r in _table(engine, schema.readings_hourly) if r[0] == "aqi"]
    assert min(hours) >= now - timedelta(days=1) and datetime(2026, 3, 1, 7) in hours  # 5 h old, still kept
    # The hour roll-up stuck behind: raw readings it still needs survive retention.
    with engine.begin() as conn:
        conn.execute(schema.rollup_watermarks.update().where(schema.rollup_watermarks.c.rollup == "hour")
                     .values(rolled_until=datetime(2026, 3, 1, 11)))
    _add(engine, [("aqi", "100000", datetime(2026, 3, 1, 11, 0, 5), 7.0)])
    apply_retention(engine, now=now + timedelta(hours=3), policy=policy)
    assert datetime(2026, 3, 1, 11, 0, 5) in [r[2] for r in _table(engine, schema.readings)]
