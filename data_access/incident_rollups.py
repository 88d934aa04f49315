"""The incident count roll-ups: building them, moving their overdue watermark on, pruning them.

``incident_open_counts``, ``incident_open_cells``, ``incident_hour_counts`` and ``incident_day_counts``
(data_access/schema.py)
are kept current by triggers on ``incidents`` (views/01_incident_rollups_trigger*.sql): every
insert, update and delete by any writer (the feeder, the importers, a city's ETL) moves them at
once, so the views ``v_incident_counts``, ``v_incident_sources``, ``v_incident_open_areas``,
``v_incident_cells`` and ``v_incident_categories`` read a few thousand roll-up rows instead of the
open and the last 30 days' incidents, whatever the size of the table.

Two things no write does:

- **time passing due dates.** An open incident becomes overdue without being written. The roll-ups
  count as overdue the open incidents due before the watermark (``rollup_watermarks`` row
  ``'incidents'``, ``rolled_until``); ``advance`` (the feeder, every tick) moves it to ``now`` and
  adds the open incidents that fell due meanwhile. The views add the open incidents due between
  the watermark and the clock from the incidents themselves (an index range of a tick's worth), so
  the figures are exact whatever the watermark's lag.
- **old buckets.** ``prune`` drops hour and day rows older than ``KEEP_S`` (the views read 30 days).

The watermark row also says the roll-ups are complete: ``rebuild`` (init_db, when it is missing)
counts everything afresh and writes it; without it every view counts the incidents itself (the
plain counts). A bulk load that bypasses the triggers (PostgreSQL ``ALTER TABLE … DISABLE
TRIGGER``) deletes the row first (``invalidate``) and calls ``rebuild`` afterwards.
"""
from __future__ import annotations

import time as _time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema
from data_access.db import render_sql

WATERMARK = "incidents"  # the rollup_watermarks row
KEEP_S = 32 * 86400  # hour rows kept: the views' 30 days, the city's "today" and a margin

_REBUILD = (
    "DELETE FROM incident_open_counts",
    "DELETE FROM incident_open_cells",
    "DELETE FROM incident_hour_counts",
    "DELETE FROM incident_day_counts",
    """
    INSERT INTO incident_open_counts (district_code, street_code, category, source, priority, n_open, n_overdue)
    SELECT COALESCE(district_code, ''), COALESCE(street_code, ''), category, source, priority, COUNT(*),
           SUM(CASE WHEN due_at < :w THEN 1 ELSE 0 END)
    FROM incidents WHERE closed_at IS NULL
    GROUP BY COALESCE(district_code, ''), COALESCE(street_code, ''), category, source, priority
    """,
    """
    INSERT INTO incident_open_cells (cell_id, priority, n_open, n_overdue)
    SELECT cell_id, priority, COUNT(*), SUM(CASE WHEN due_at < :w THEN 1 ELSE 0 END)
    FROM incidents WHERE closed_at IS NULL AND cell_id IS NOT NULL
    GROUP BY cell_id, priority
    """,
    """
    WITH u AS (
        SELECT district_code AS d, street_code AS s, source AS src, {{HOUR:reported_at}} AS hour,
               COUNT(*) AS rep, 0 AS clo, 0 AS ont
        FROM incidents WHERE reported_at >= :cutoff
        GROUP BY district_code, street_code, source, {{HOUR:reported_at}}
        UNION ALL
        SELECT district_code, street_code, source, {{HOUR:closed_at}}, 0, COUNT(*),
               SUM(CASE WHEN due_at IS NULL OR COALESCE(resolved_at, closed_at) <= due_at THEN 1 ELSE 0 END)
        FROM incidents WHERE closed_at >= :cutoff
        GROUP BY district_code, street_code, source, {{HOUR:closed_at}}
    )
    INSERT INTO incident_hour_counts (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT '*', '', hour, SUM(rep), SUM(clo), SUM(ont) FROM u GROUP BY hour
    UNION ALL
    SELECT d, '', hour, SUM(rep), SUM(clo), SUM(ont) FROM u WHERE d IS NOT NULL GROUP BY d, hour
    UNION ALL
    SELECT s, '', hour, SUM(rep), SUM(clo), SUM(ont) FROM u WHERE s IS NOT NULL GROUP BY s, hour
    UNION ALL
    SELECT '*', src, hour, SUM(rep), SUM(clo), SUM(ont) FROM u GROUP BY src, hour
    UNION ALL
    SELECT d, src, hour, SUM(rep), SUM(clo), SUM(ont) FROM u WHERE d IS NOT NULL GROUP BY d, src, hour
    """,
    """
    INSERT INTO incident_day_counts (area_code, source, day, n_reported, n_closed, n_closed_on_time)
    SELECT area_code, source, {{DAY:hour}}, SUM(n_reported), SUM(n_closed), SUM(n_closed_on_time)
    FROM incident_hour_counts GROUP BY area_code, source, {{DAY:hour}}
    """,
)

# The open incidents that fell due in [w, until): added to the overdue counts.
_ADVANCE = (
    """
    UPDATE incident_open_counts SET n_overdue = incident_open_counts.n_overdue + d.n
    FROM (SELECT COALESCE(district_code, '') AS dc, COALESCE(street_code, '') AS sc, category, source, priority,
                 COUNT(*) AS n
          FROM incidents WHERE closed_at IS NULL AND due_at >= :w AND due_at < :until
          GROUP BY COALESCE(district_code, ''), COALESCE(street_code, ''), category, source, priority) d
    WHERE incident_open_counts.district_code = d.dc AND incident_open_counts.street_code = d.sc
      AND incident_open_counts.category = d.category AND incident_open_counts.source = d.source
      AND incident_open_counts.priority = d.priority
    """,
    """
    UPDATE incident_open_cells SET n_overdue = incident_open_cells.n_overdue + d.n
    FROM (SELECT cell_id, priority, COUNT(*) AS n
          FROM incidents WHERE closed_at IS NULL AND cell_id IS NOT NULL AND due_at >= :w AND due_at < :until
          GROUP BY cell_id, priority) d
    WHERE incident_open_cells.cell_id = d.cell_id AND incident_open_cells.priority = d.priority
    """,
)


@dataclass(frozen=True)
class RollupStep:
    done: bool  # False: no roll-ups (no watermark) or, on PostgreSQL, another step holds them
    rolled_until: datetime | None = None
    seconds: float = 0.0


def _text(conn: Connection, sql: str, *times: str) -> sa.TextClause:
    rendered = render_sql(sql, dialect=conn.dialect.name, tz_name="UTC")
    used = [t for t in times if f":{t}" in rendered]
    return sa.text(rendered).bindparams(*[sa.bindparam(t, type_=schema.UtcDateTime) for t in used])


def _naive(moment: datetime) -> datetime:
    return moment.replace(microsecond=0, tzinfo=None)


def watermark(conn: Connection, *, lock: bool = False) -> datetime | None:
    """The overdue watermark (None: no roll-ups). ``lock`` (PostgreSQL): FOR UPDATE SKIP LOCKED,
    None as well when a writer holds the row."""
    w = schema.rollup_watermarks
    query = sa.select(w.c.rolled_until).where(w.c.rollup == WATERMARK)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return conn.execute(query).scalar_one_or_none()


def _set_watermark(conn: Connection, until: datetime) -> None:
    w = schema.rollup_watermarks
    if not conn.execute(w.update().where(w.c.rollup == WATERMARK).values(rolled_until=until)).rowcount:
        conn.execute(w.insert().values(rollup=WATERMARK, rolled_until=until))


def invalidate(conn: Connection) -> None:
    """Say the roll-ups are incomplete (before a load that bypasses the triggers): the views count
    the incidents themselves until ``rebuild``."""
    w = schema.rollup_watermarks
    conn.execute(w.delete().where(w.c.rollup == WATERMARK))


def rebuild(engine_or_conn: Engine | Connection, *, now: datetime) -> RollupStep:
    """Count every roll-up afresh from ``incidents`` and write the watermark (``now``, naive UTC);
    one transaction. PostgreSQL: the incidents are locked against writes meanwhile."""
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            return rebuild(conn, now=now)
    conn = engine_or_conn
    started = _time.perf_counter()
    now = _naive(now)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE incidents IN SHARE MODE")
    invalidate(conn)
    params = {"w": now, "cutoff": now - timedelta(seconds=KEEP_S)}
    for sql in _REBUILD:
        conn.execute(_text(conn, sql, "w", "cutoff"), params)
    _set_watermark(conn, now)
    return RollupStep(True, now, round(_time.perf_counter() - started, 4))


def ensure(conn: Connection, *, now: datetime) -> bool:
    """Rebuild the roll-ups when they are not complete (no watermark); True when it rebuilt."""
    if watermark(conn) is not None:
        return False
    rebuild(conn, now=now)
    return True


def advance(engine_or_conn: Engine | Connection, *, now: datetime) -> RollupStep:
    """Move the overdue watermark to ``now`` (naive UTC), counting the open incidents that fell due
    since; one transaction. Nothing without roll-ups, when ``now`` is not past the watermark, or
    (PostgreSQL) while a writer holds the watermark row (the next tick catches up)."""
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            return advance(conn, now=now)
    conn = engine_or_conn
    started = _time.perf_counter()
    now = _naive(now)
    w = watermark(conn, lock=True)
    if w is None:
        return RollupStep(False)
    if now <= w:
        return RollupStep(True, w, round(_time.perf_counter() - started, 4))
    for sql in _ADVANCE:
        conn.execute(_text(conn, sql, "w", "until"), {"w": w, "until": now})
    _set_watermark(conn, now)
    return RollupStep(True, now, round(_time.perf_counter() - started, 4))


def prune(engine_or_conn: Engine | Connection, *, now: datetime) -> int:
    """Drop hour rows older than KEEP_S and open rows that came down to zero; rows deleted."""
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            return prune(conn, now=now)
    conn = engine_or_conn
    h, o, c = schema.incident_hour_counts, schema.incident_open_counts, schema.incident_open_cells
    d = schema.incident_day_counts
    cutoff = _naive(now) - timedelta(seconds=KEEP_S)
    deleted = conn.execute(h.delete().where(h.c.hour < cutoff)).rowcount or 0
    deleted += conn.execute(d.delete().where(d.c.day < cutoff - timedelta(days=1))).rowcount or 0
    deleted += conn.execute(o.delete().where(o.c.n_open == 0, o.c.n_overdue == 0)).rowcount or 0
    deleted += conn.execute(c.delete().where(c.c.n_open == 0, c.c.n_overdue == 0)).rowcount or 0
    return max(0, deleted)
