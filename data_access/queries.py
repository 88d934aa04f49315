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
           times: tuple[str, ...] = (), expanding: tuple[str, ...] = ()) -> pd.DataFrame:
    statement = sa.text(sql)
    if expanding:  # IN lists: one bound parameter per element, never text
        statement = statement.bindparams(*(sa.bindparam(name, expanding=True) for name in expanding))
    with engine.connect() as conn:
        frame = pd.read_sql(statement, conn, params=params or {})
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


def area_chain(*, engine: Engine, area_code: str) -> list[Area]:
    """The area and its ancestors up to the city, nearest first (a street, its district, the city)."""
    chain: list[Area] = []
    code: str | None = area_code
    while code is not None and len(chain) < 5:  # 3 levels; the bound guards against cycles
        area = area_by_code(engine=engine, area_code=code)
        if area is None:
            break
        chain.append(area)
        code = area.parent_code
    return chain


def vitals_for_scope(*, engine: Engine, chain: list[Area], now: datetime) -> pd.DataFrame:
    """Latest vitals for a wall scoped to ``chain[0]``: each indicator from the nearest area in
    the chain that reports it (a district's own power load, else the city's), with
    ``source_area`` saying which; staleness at ``now``."""
    if not chain:
        return pd.DataFrame()
    codes = [area.area_code for area in chain]
    frame = _frame(
        engine,
        """
        SELECT i.indicator_id, i.dimension, i.name, i.name_en, i.unit, i.level, i.period_s,
               i.warn_low, i.warn_high, i.alarm_low, i.alarm_high, i.higher_is_better, i.on_wall,
               i.sort_order, i.decimals, v.area_code, v.ts, v.value, v.status, v.prev_day_value
        FROM v_vitals_latest v
        JOIN v_indicators i ON i.indicator_id = v.indicator_id
        WHERE v.area_code IN :codes
        """,
        {"codes": codes},
        times=("ts",),
        expanding=("codes",),
    )
    if frame.empty:
        return mark_staleness(frame.assign(source_area=pd.Series(dtype=object)), now=now)
    rank = {code: position for position, code in enumerate(codes)}
    frame["_rank"] = frame["area_code"].map(rank)
    frame = (frame.sort_values(["indicator_id", "_rank"]).drop_duplicates("indicator_id")
             .drop(columns="_rank").rename(columns={"area_code": "source_area"}))
    frame = frame.sort_values(["dimension", "sort_order", "indicator_id"]).reset_index(drop=True)
    return mark_staleness(frame, now=now)


def vitals_trends(*, engine: Engine, series: list[tuple[str, str]], since: datetime) -> pd.DataFrame:
    """Minute averages since ``since`` for several (indicator_id, area_code) series at once."""
    if not series:
        return pd.DataFrame(columns=["indicator_id", "area_code", "minute", "value", "status"])
    indicator_ids = sorted({i for i, _ in series})
    area_codes = sorted({a for _, a in series})
    frame = _frame(
        engine,
        """
        SELECT indicator_id, area_code, minute, value, status FROM v_vitals_recent
        WHERE indicator_id IN :ids AND area_code IN :codes AND minute >= :since
        ORDER BY indicator_id, area_code, minute
        """,
        {"ids": indicator_ids, "codes": area_codes, "since": utc_text(since)},
        times=("minute",),
        expanding=("ids", "codes"),
    )
    wanted = set(series)
    keep = [(i, a) in wanted for i, a in zip(frame["indicator_id"], frame["area_code"], strict=True)]
    return frame[keep].reset_index(drop=True)


def last_normal_minute(*, engine: Engine, series: list[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """For each series, the last minute (within 24 h) whose average was 'normal': how long an
    indicator has been in warning or alarm. A missing key: not normal for the whole 24 h."""
    if not series:
        return {}
    frame = _frame(
        engine,
        """
        SELECT indicator_id, area_code, MAX(minute) AS last_normal FROM v_vitals_recent
        WHERE indicator_id IN :ids AND area_code IN :codes AND status = 'normal'
        GROUP BY indicator_id, area_code
        """,
        {"ids": sorted({i for i, _ in series}), "codes": sorted({a for _, a in series})},
        times=("last_normal",),
        expanding=("ids", "codes"),
    )
    wanted = set(series)
    return {(r.indicator_id, r.area_code): r.last_normal.to_pydatetime()
            for r in frame.itertuples() if (r.indicator_id, r.area_code) in wanted and not pd.isna(r.last_normal)}


def vitals_history(*, engine: Engine, indicator_id: str, area_code: str, since: datetime,
                   resolution: str) -> pd.DataFrame:
    """History of one series as (time, value): ``minute`` averages (last 24 h) or ``hour``
    averages (last 8 days)."""
    view, column = ("v_vitals_hourly", "hour") if resolution == "hour" else ("v_vitals_recent", "minute")
    return _frame(
        engine,
        f"SELECT {column} AS time, value FROM {view}"
        " WHERE indicator_id = :indicator_id AND area_code = :area_code AND " + column + " >= :since"
        f" ORDER BY {column}",
        {"indicator_id": indicator_id, "area_code": area_code, "since": utc_text(since)},
        times=("time",),
    )


def incident_channel(*, engine: Engine, area_code: str, source: str) -> dict[str, float | int | None]:
    """One channel's figures in an area (e.g. the 12345 hotline): open, reported and closed today,
    30-day on-time rate. Zeros/None when the channel had nothing."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT open, overdue, reported_today, closed_today, on_time_rate_30d FROM v_incident_sources"
            " WHERE area_code = :area_code AND source = :source"
        ), {"area_code": area_code, "source": source}).first()
    if row is None:
        return {"open": 0, "overdue": 0, "reported_today": 0, "closed_today": 0, "on_time_rate_30d": None}
    m = row._mapping
    rate = m["on_time_rate_30d"]
    return {"open": int(m["open"]), "overdue": int(m["overdue"]), "reported_today": int(m["reported_today"]),
            "closed_today": int(m["closed_today"]), "on_time_rate_30d": None if rate is None else float(rate)}


def areas_at_level(*, engine: Engine, level: str, parent_code: str | None = None) -> list[Area]:
    """All areas of one level (optionally under one parent), in display order."""
    sql = f"SELECT {_AREA_COLUMNS} FROM v_areas WHERE level = :level"
    params: dict[str, object] = {"level": level}
    if parent_code is not None:
        sql += " AND parent_code = :parent_code"
        params["parent_code"] = parent_code
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql + " ORDER BY sort_order, area_code"), params).all()
    return [_area(row) for row in rows]
