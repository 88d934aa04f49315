"""Roll-ups and retention of the demo's readings, as SQL run by the feeder (never by the app).

``roll_up`` aggregates raw ``readings`` into ``readings_minute`` (every finished minute) and
``readings_hourly`` (every finished hour) with one ``INSERT … SELECT … GROUP BY … ON CONFLICT
DO UPDATE`` each, on SQLite and PostgreSQL alike, and moves each roll-up's watermark in
``rollup_watermarks``: every bucket starting before it is in the roll-up table; the views
(``v_vitals_recent``, ``v_vitals_hourly``) read the buckets from the watermark on from raw
readings, so the running minute shows at once whatever the roll-up's lag.

Idempotent: a bucket is recomputed from the raw readings, never incremented, so running a step
twice, or over a window already rolled, gives the same rows. Late readings: each minute step
re-rolls the last ``late_s`` before its watermark (a reading written up to ``late_s`` after its
time is still counted), and an hour is rolled only once it ended ``late_s`` ago.

``apply_retention`` deletes raw readings, minute and hourly roll-ups older than the policy's
windows, and never a raw reading that a roll-up has not covered yet.
"""
from __future__ import annotations

import time as _time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema
from data_access.db import render_sql


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each resolution is kept (docs/views.md, "Roll-ups and retention", says why)."""

    raw_s: int = 26 * 3600  # v_vitals_latest's "same time yesterday" reads raw ts - 25 h .. ts - 24 h
    minute_s: int = 48 * 3600  # v_vitals_recent shows 24 h; the day before it for comparisons
    hourly_s: int = 30 * 86400  # v_vitals_hourly shows 8 days; a month for reports
    late_s: int = 300  # readings written up to this late still make it into the roll-ups


DEFAULT_POLICY = RetentionPolicy()


@dataclass(frozen=True)
class RollupStats:
    minute_rows: int = 0  # minute buckets written (inserted or recomputed)
    hour_rows: int = 0
    minute_until: datetime | None = None  # the watermarks after the step
    hour_until: datetime | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class RetentionStats:
    readings: int = 0
    minutes: int = 0
    hours: int = 0
    seconds: float = 0.0


# Rows go in in key order: the roll-up's primary-key index then fills page after page instead of
# touching a random page of a big index for every bucket.
_ROLLUP_SQL = {
    "minute": """
        INSERT INTO readings_minute (indicator_id, area_code, minute, value, n)
        SELECT r.indicator_id, r.area_code, {{MINUTE:r.ts}}, AVG(r.value), COUNT(r.value)
        FROM readings r
        WHERE r.ts >= :start AND r.ts < :end
        GROUP BY r.indicator_id, r.area_code, {{MINUTE:r.ts}}
        ORDER BY r.indicator_id, r.area_code, {{MINUTE:r.ts}}
        ON CONFLICT (indicator_id, area_code, minute) DO UPDATE SET value = excluded.value, n = excluded.n
    """,
    "hour": """
        INSERT INTO readings_hourly (indicator_id, area_code, hour, value, n)
        SELECT r.indicator_id, r.area_code, {{HOUR:r.ts}}, AVG(r.value), COUNT(r.value)
        FROM readings r
        WHERE r.ts >= :start AND r.ts < :end
        GROUP BY r.indicator_id, r.area_code, {{HOUR:r.ts}}
        ORDER BY r.indicator_id, r.area_code, {{HOUR:r.ts}}
        ON CONFLICT (indicator_id, area_code, hour) DO UPDATE SET value = excluded.value, n = excluded.n
    """,
}


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch = datetime(1970, 1, 1)
    whole = int((moment - epoch).total_seconds())
    return epoch + timedelta(seconds=whole - whole % seconds)


def _statement(conn: Connection, name: str) -> sa.TextClause:
    # The time zone only matters for the day macros, which these statements do not use.
    sql = render_sql(_ROLLUP_SQL[name], dialect=conn.dialect.name, tz_name="UTC")
    return sa.text(sql).bindparams(sa.bindparam("start", type_=schema.UtcDateTime),
                                   sa.bindparam("end", type_=schema.UtcDateTime))


READINGS_ROLLUPS = ("minute", "hour")  # rollup_watermarks' rows of these roll-ups (the table also
# holds 'incidents', data_access/incident_rollups.py)


def watermarks(conn: Connection) -> dict[str, datetime]:
    w = schema.rollup_watermarks
    query = sa.select(w.c.rollup, w.c.rolled_until).where(w.c.rollup.in_(READINGS_ROLLUPS))
    return {row.rollup: row.rolled_until for row in conn.execute(query)}


def _set_watermark(conn: Connection, rollup: str, until: datetime) -> None:
    w = schema.rollup_watermarks
    updated = conn.execute(w.update().where(w.c.rollup == rollup).values(rolled_until=until)).rowcount
    if not updated:
        conn.execute(w.insert().values(rollup=rollup, rolled_until=until))


def _roll(conn: Connection, name: str, start: datetime, end: datetime) -> int:
    if end <= start:
        return 0
    return max(0, conn.execute(_statement(conn, name), {"start": start, "end": end}).rowcount or 0)


def roll_up(engine_or_conn: Engine | Connection, *, now: datetime,
            policy: RetentionPolicy = DEFAULT_POLICY) -> RollupStats:
    """Roll every finished minute and hour up to ``now`` (naive UTC); one transaction.

    First run (no watermark): minutes from ``now - policy.minute_s``, hours from
    ``now - policy.hourly_s``, as far as raw readings reach.
    """
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            return roll_up(conn, now=now, policy=policy)
    conn = engine_or_conn
    started = _time.perf_counter()
    now = now.replace(microsecond=0, tzinfo=None)
    marks = watermarks(conn)

    minute_end = _floor(now, 60)
    minute_from = _floor(now - timedelta(seconds=policy.minute_s), 60)
    if "minute" in marks:
        minute_from = max(minute_from, _floor(marks["minute"] - timedelta(seconds=policy.late_s), 60))
    minute_rows = 0
    if minute_end > marks.get("minute", datetime.min):
        minute_rows = _roll(conn, "minute", minute_from, minute_end)
        _set_watermark(conn, "minute", minute_end)
        marks["minute"] = minute_end

    hour_end = _floor(now - timedelta(seconds=policy.late_s), 3600)
    hour_from = marks.get("hour", _floor(now - timedelta(seconds=policy.hourly_s), 3600))
    hour_rows = 0
    if hour_end > hour_from:
        hour_rows = _roll(conn, "hour", hour_from, hour_end)
        _set_watermark(conn, "hour", hour_end)
        marks["hour"] = hour_end
    return RollupStats(minute_rows, hour_rows, marks.get("minute"), marks.get("hour"),
                       round(_time.perf_counter() - started, 4))


def apply_retention(engine_or_conn: Engine | Connection, *, now: datetime,
                    policy: RetentionPolicy = DEFAULT_POLICY) -> RetentionStats:
    """Delete what the policy no longer keeps. Raw readings go only once both roll-ups (and the
    late window of the minute roll-up) are past them: a stopped roll-up never loses data."""
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            return apply_retention(conn, now=now, policy=policy)
    conn = engine_or_conn
    started = _time.perf_counter()
    now = now.replace(microsecond=0, tzinfo=None)
    marks = watermarks(conn)
    raw_cutoff = now - timedelta(seconds=policy.raw_s)
    if "minute" not in marks or "hour" not in marks:
        deleted_raw = 0  # nothing rolled yet: raw readings are the only copy
    else:
        raw_cutoff = min(raw_cutoff, marks["minute"] - timedelta(seconds=policy.late_s), marks["hour"])
        r = schema.readings
        deleted_raw = conn.execute(r.delete().where(r.c.ts < raw_cutoff)).rowcount
    m, h = schema.readings_minute, schema.readings_hourly
    deleted_m = conn.execute(m.delete().where(m.c.minute < now - timedelta(seconds=policy.minute_s))).rowcount
    deleted_h = conn.execute(h.delete().where(h.c.hour < now - timedelta(seconds=policy.hourly_s))).rowcount
    return RetentionStats(max(0, deleted_raw or 0), max(0, deleted_m or 0), max(0, deleted_h or 0),
                          round(_time.perf_counter() - started, 4))
