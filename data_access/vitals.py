"""Vital signs: the indicator catalogue, the latest readings with their staleness, minute and hour
averages. Named, typed, keyword-only reads over the ``v_*`` views with bound parameters."""
from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from data_access.models import Area
from data_access.sql import read_frame, utc_text

# A reading is stale when older than this many reporting periods (DESIGN.md: 2 x period_s).
STALE_PERIODS = 2
# Each indicator's newest reading per area with the indicator's catalogue columns.
_LATEST_SQL = """
        SELECT i.indicator_id, i.dimension, i.name, i.name_en, i.unit, i.level, i.period_s,
               i.warn_low, i.warn_high, i.alarm_low, i.alarm_high, i.higher_is_better, i.on_wall,
               i.sort_order, i.decimals, v.area_code, v.ts, v.value, v.status, v.prev_day_value
        FROM v_vitals_latest v
        JOIN v_indicators i ON i.indicator_id = v.indicator_id"""


# Columns of v_indicators a city's own view may leave out (docs/views.md): NULL, i.e. the wall shows
# the name, and English screens the unit.
OPTIONAL_INDICATOR_COLUMNS = ("wall_name", "wall_name_en", "unit_en")


def indicator_catalogue(*, engine: Engine) -> pd.DataFrame:
    """Every indicator with its names, units, period and thresholds, in display order."""
    frame = read_frame(engine, "SELECT * FROM v_indicators ORDER BY dimension, sort_order, indicator_id")
    for column in OPTIONAL_INDICATOR_COLUMNS:
        if column not in frame:
            frame[column] = None
    return frame


def mark_staleness(frame: pd.DataFrame, *, now: datetime) -> pd.DataFrame:
    """Add ``age_s`` and ``stale``: THE place where staleness is decided (age > 2 x period)."""
    out = frame.copy()
    age = (pd.Timestamp(now) - out["ts"]).dt.total_seconds()
    out["age_s"] = age
    out["stale"] = age.isna() | (age > STALE_PERIODS * out["period_s"].astype(float))
    return out


def mark_position_staleness(frame: pd.DataFrame, *, now: datetime) -> pd.DataFrame:
    """Field resources (``v_resources`` rows): add ``age_s`` (of ``updated_at``) and ``stale`` by the
    same rule as readings (age > 2 x period_s); ``has_position`` False where lat or lon is NULL
    (such a resource is listed, never dropped, and never called stale: it has no position to age)."""
    out = frame.copy()
    if out.empty:
        return out.assign(age_s=pd.Series(dtype=float), stale=pd.Series(dtype=bool),
                          has_position=pd.Series(dtype=bool))
    updated = pd.to_datetime(out["updated_at"])
    age = (pd.Timestamp(now) - updated).dt.total_seconds()
    has_position = out["lat"].notna() & out["lon"].notna()
    periods = pd.to_numeric(out["period_s"], errors="coerce")
    out["age_s"] = age
    out["has_position"] = has_position
    out["stale"] = has_position & (age.isna() | (age > STALE_PERIODS * periods))
    return out


def vitals_latest(*, engine: Engine, area_code: str, now: datetime, on_wall_only: bool = False) -> pd.DataFrame:
    """The newest value of every indicator reported for ``area_code``, with its status,
    yesterday's value, age and staleness at ``now`` (naive UTC)."""
    frame = read_frame(
        engine,
        f"""{_LATEST_SQL}
        WHERE v.area_code = :area_code
        ORDER BY i.dimension, i.sort_order, i.indicator_id
        """,
        {"area_code": area_code},
        times_in=("ts",),
    )
    if on_wall_only:
        frame = frame[frame["on_wall"].astype(bool)].reset_index(drop=True)
    return mark_staleness(with_optional_columns(engine=engine, frame=frame), now=now)


def with_optional_columns(*, engine: Engine, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (rows by indicator_id) with the catalogue's optional short names and English unit
    (OPTIONAL_INDICATOR_COLUMNS, their own read: a city's view may lack them; None then)."""
    if frame.empty:
        for column in OPTIONAL_INDICATOR_COLUMNS:
            frame[column] = None
        return frame
    optional = indicator_catalogue(engine=engine).set_index("indicator_id")[list(OPTIONAL_INDICATOR_COLUMNS)]
    return frame.drop(columns=[c for c in OPTIONAL_INDICATOR_COLUMNS if c in frame]).join(optional, on="indicator_id")


def vitals_recent(*, engine: Engine, indicator_id: str, area_code: str, since: datetime) -> pd.DataFrame:
    """Minute averages of one indicator for one area since ``since`` (within the last 24 h)."""
    return read_frame(
        engine,
        """
        SELECT minute, value FROM v_vitals_recent
        WHERE indicator_id = :indicator_id AND area_code = :area_code AND minute >= :since
        ORDER BY minute
        """,
        {"indicator_id": indicator_id, "area_code": area_code, "since": utc_text(since)},
        times_in=("minute",),
    )


def vitals_for_scope(*, engine: Engine, chain: list[Area], now: datetime) -> pd.DataFrame:
    """Latest vitals for a wall scoped to ``chain[0]``: each indicator from the nearest area in
    the chain that reports it (a district's own power load, else the city's), with
    ``source_area`` saying which; staleness at ``now``."""
    if not chain:
        return pd.DataFrame()
    codes = [area.area_code for area in chain]
    frame = read_frame(
        engine,
        f"""{_LATEST_SQL}
        WHERE v.area_code IN :codes
        """,
        {"codes": codes},
        times_in=("ts",),
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
    frame = read_frame(
        engine,
        """
        SELECT indicator_id, area_code, minute, value, status FROM v_vitals_recent
        WHERE indicator_id IN :ids AND area_code IN :codes AND minute >= :since
        ORDER BY indicator_id, area_code, minute
        """,
        {"ids": indicator_ids, "codes": area_codes, "since": utc_text(since)},
        times_in=("minute",),
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
    frame = read_frame(
        engine,
        """
        SELECT indicator_id, area_code, MAX(minute) AS last_normal FROM v_vitals_recent
        WHERE indicator_id IN :ids AND area_code IN :codes AND status = 'normal'
        GROUP BY indicator_id, area_code
        """,
        {"ids": sorted({i for i, _ in series}), "codes": sorted({a for _, a in series})},
        times_in=("last_normal",),
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
    return read_frame(
        engine,
        f"SELECT {column} AS time, value FROM {view}"
        " WHERE indicator_id = :indicator_id AND area_code = :area_code AND " + column + " >= :since"
        f" ORDER BY {column}",
        {"indicator_id": indicator_id, "area_code": area_code, "since": utc_text(since)},
        times_in=("time",),
    )
