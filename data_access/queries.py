"""Every read CityWall makes, as named, typed, keyword-only functions over the ``v_*`` views.

No SQL lives anywhere else in the app. Values are bound parameters, never formatted into
the text. Times come back as naive UTC ``datetime``/``Timestamp`` on both dialects.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

STATUS_ORDER = {"alarm": 0, "warn": 1, "normal": 2}
# A reading is stale when older than this many reporting periods (DESIGN.md: 2 x period_s).
STALE_PERIODS = 2


@dataclass(frozen=True)
class Area:
    area_code: str
    level: str
    parent_code: str | None
    name: str
    name_en: str | None
    center_lat: float | None
    center_lon: float | None

    def label(self, lang: str) -> str:
        return (self.name_en or self.name) if lang == "en" else self.name


@dataclass(frozen=True)
class IncidentCounts:
    area_code: str
    open: int
    overdue: int
    reported_today: int
    closed_today: int
    closed_on_time_today: int
    on_time_rate_30d: float | None  # None: nothing closed in the last 30 days


def _frame(engine: Engine, sql: str, params: dict[str, object] | None = None,
           times: tuple[str, ...] = ()) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql(sa.text(sql), conn, params=params or {})
    for column in times:
        # SQLite hands back text, PostgreSQL datetimes; both become naive UTC Timestamps.
        frame[column] = pd.to_datetime(frame[column], format="ISO8601", errors="coerce")
    return frame


def utc_text(moment: datetime) -> str:
    """A naive-UTC bound value both dialects compare correctly with their timestamp columns."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


_AREA_COLUMNS = "area_code, level, parent_code, name, name_en, center_lat, center_lon"


def _area(row: sa.Row) -> Area:
    return Area(**{key: row._mapping[key] for key in Area.__dataclass_fields__})


def city_area(*, engine: Engine) -> Area | None:
    """The city itself (the one area of level 'city'), or None on an empty database."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            f"SELECT {_AREA_COLUMNS} FROM v_areas WHERE level = 'city' ORDER BY area_code LIMIT 1"
        )).first()
    return _area(row) if row else None


def area_by_code(*, engine: Engine, area_code: str) -> Area | None:
    """The area with this code, or None when there is no such area."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(f"SELECT {_AREA_COLUMNS} FROM v_areas WHERE area_code = :code"), {"code": area_code}
        ).first()
    return _area(row) if row else None


def indicator_catalogue(*, engine: Engine) -> pd.DataFrame:
    """Every indicator with its unit, period and thresholds, in display order."""
    return _frame(engine, "SELECT * FROM v_indicators ORDER BY dimension, sort_order, indicator_id")


def mark_staleness(frame: pd.DataFrame, *, now: datetime) -> pd.DataFrame:
    """Add ``age_s`` and ``stale``: THE place where staleness is decided (age > 2 x period)."""
    out = frame.copy()
    age = (pd.Timestamp(now) - out["ts"]).dt.total_seconds()
    out["age_s"] = age
    out["stale"] = age.isna() | (age > STALE_PERIODS * out["period_s"].astype(float))
    return out


def vitals_latest(*, engine: Engine, area_code: str, now: datetime, on_wall_only: bool = False) -> pd.DataFrame:
    """The newest value of every indicator reported for ``area_code``, with its status,
    yesterday's value, age and staleness at ``now`` (naive UTC)."""
    frame = _frame(
        engine,
        """
        SELECT i.indicator_id, i.dimension, i.name, i.name_en, i.unit, i.level, i.period_s,
               i.warn_low, i.warn_high, i.alarm_low, i.alarm_high, i.higher_is_better, i.on_wall,
               i.sort_order, i.decimals, v.area_code, v.ts, v.value, v.status, v.prev_day_value
        FROM v_vitals_latest v
        JOIN v_indicators i ON i.indicator_id = v.indicator_id
        WHERE v.area_code = :area_code
        ORDER BY i.dimension, i.sort_order, i.indicator_id
        """,
        {"area_code": area_code},
        times=("ts",),
    )
    if on_wall_only:
        frame = frame[frame["on_wall"].astype(bool)].reset_index(drop=True)
    return mark_staleness(frame, now=now)


def vitals_recent(*, engine: Engine, indicator_id: str, area_code: str, since: datetime) -> pd.DataFrame:
    """Minute averages of one indicator for one area since ``since`` (within the last 24 h)."""
    return _frame(
        engine,
        """
        SELECT minute, value FROM v_vitals_recent
        WHERE indicator_id = :indicator_id AND area_code = :area_code AND minute >= :since
        ORDER BY minute
        """,
        {"indicator_id": indicator_id, "area_code": area_code, "since": utc_text(since)},
        times=("minute",),
    )


def incident_counts(*, engine: Engine, area_code: str) -> IncidentCounts | None:
    """Open, overdue, today's and the 30-day on-time figures of one area, or None if unknown."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT area_code, open, overdue, reported_today, closed_today, closed_on_time_today,"
            " on_time_rate_30d FROM v_incident_counts WHERE area_code = :area_code"
        ), {"area_code": area_code}).first()
    if row is None:
        return None
    m = row._mapping
    rate = m["on_time_rate_30d"]
    return IncidentCounts(
        area_code=m["area_code"], open=int(m["open"]), overdue=int(m["overdue"]),
        reported_today=int(m["reported_today"]), closed_today=int(m["closed_today"]),
        closed_on_time_today=int(m["closed_on_time_today"]),
        on_time_rate_30d=None if rate is None else float(rate),
    )


def incident_counts_by_level(*, engine: Engine, level: str) -> pd.DataFrame:
    """v_incident_counts for every area of one level ('city', 'district' or 'street')."""
    return _frame(engine, "SELECT * FROM v_incident_counts WHERE level = :level ORDER BY area_code",
                  {"level": level})


def open_incidents_by_cell(*, engine: Engine, area: Area | None = None) -> pd.DataFrame:
    """Grid cells with open incidents (open, overdue, max_priority) in an area (None: the city)."""
    where, params = _area_filter(area)
    return _frame(
        engine,
        f"SELECT cell_id, street_code, district_code, open, overdue, max_priority FROM v_incident_cells"
        f" {where} ORDER BY cell_id",
        params,
    )


def open_incidents_by_category(*, engine: Engine, area_code: str) -> pd.DataFrame:
    """Open and overdue incidents per major category in one area, most open first."""
    return _frame(
        engine,
        """
        SELECT category, category_name, category_name_en, open, overdue FROM v_incident_categories
        WHERE area_code = :area_code ORDER BY open DESC, sort_order, category
        """,
        {"area_code": area_code},
    )


def open_incidents(*, engine: Engine, area: Area | None = None, limit: int = 500) -> pd.DataFrame:
    """Open incidents in an area (None: the whole city), most urgent and oldest first."""
    where, params = _area_filter(area)
    return _frame(
        engine,
        f"SELECT * FROM v_open_incidents {where}"
        " ORDER BY priority DESC, overdue DESC, reported_at, incident_id LIMIT :limit",
        {**params, "limit": int(limit)},
        times=("reported_at", "due_at"),
    )


def _area_filter(area: Area | None) -> tuple[str, dict[str, object]]:
    """A WHERE clause (fixed text, bound code) restricting district/street-coded rows to an area."""
    if area is None or area.level == "city":
        return "", {}
    column = "district_code" if area.level == "district" else "street_code"
    return f"WHERE {column} = :area_code", {"area_code": area.area_code}
