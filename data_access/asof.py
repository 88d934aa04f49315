"""As-of reads: the city as it was at a past minute ``at`` (naive UTC, from ``replay.parse_at``),
the twins of the live reads the wall, the level pages and the map make, returning the same types,
so the same components draw them.

Incidents open at ``at`` come from ``v_incident_history``'s lifecycle times, always as two index
ranges (``_open_at``): still open and reported by ``at``, ``UNION ALL`` closed after ``at`` and
reported by ``at``. Their status is the stage reached by ``at`` (``_STATUS_AT``), overdue means
``due_at < at``, "today" is the city's local day holding ``at`` up to ``at``, the 30-day rate the
30 days up to ``at``.

Vital signs come from ``v_vitals_recent``: a series' value at ``at`` is the average of its newest
minute at or before ``at`` within ``VITALS_LOOKBACK`` (its ``ts`` is that minute's start: the age and
staleness count from there), its status that minute's; "the same time yesterday" is the hourly
average (``v_vitals_hourly``) of the hour holding ``at`` − 24 h. Sparklines and the health trend are
the 60 finished minutes before ``at``; an alarm's "since" the minute after its last normal minute
before ``at``."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access.areas import area_by_code, area_chain
from data_access.incident_list import EXPORT_MAX_ROWS, LIST_TIMES, _order_by
from data_access.incident_map import _NAMES_JOIN, _POINT_COLUMNS
from data_access.incidents import cells_ranked
from data_access.models import (
    OPEN_STATUSES,
    Area,
    IncidentCounts,
    IncidentFilter,
    MapCounts,
    PanelData,
    WallIncidents,
    WallSnapshot,
    child_level,
)
from data_access.sql import read_frame, statement, times, utc_text
from data_access.vitals import indicator_catalogue, mark_staleness, with_optional_columns
from data_access.wall import TREND_MINUTES, _panel_reader, wall_snapshot

VITALS_LOOKBACK = timedelta(hours=3)  # a series silent longer before ``at`` shows no value (> 2 x an hourly period)
DAY = timedelta(days=1)
THIRTY_DAYS = timedelta(days=30)

# The stage an incident had reached at :at (docs/views.md, v_incident_history).
_STATUS_AT = """CASE WHEN h.resolved_at <= :at THEN 'resolved'
            WHEN h.started_at <= :at THEN 'in_progress'
            WHEN h.dispatched_at <= :at THEN 'dispatched'
            WHEN h.dispatched_at IS NULL AND h.started_at IS NULL AND h.resolved_at IS NULL
                 AND h.closed_at IS NULL THEN h.status
            ELSE 'reported' END"""
_OVERDUE_AT = "CASE WHEN h.due_at IS NOT NULL AND h.due_at < :at THEN 1 ELSE 0 END"
# v_open_incidents' columns, as they were at :at
_OPEN_COLUMNS = (f"h.incident_id, h.category, h.subcategory, h.source, h.priority, {_STATUS_AT} AS status,"
                 f" h.reported_at, h.due_at, {_OVERDUE_AT} AS overdue, h.lat, h.lon, h.cell_id, h.street_code,"
                 " h.district_code, h.title, h.address")
_OPEN_TIMES = ("reported_at", "due_at")


# --- the rules of a past moment --------------------------------------------------------------------

def _city_tz(tz: ZoneInfo | None) -> ZoneInfo:
    if tz is not None:
        return tz
    from data_access.settings import load_settings  # the configured zone, as the views were built with

    return load_settings().tz


def day_start_utc(at: datetime, tz: ZoneInfo) -> datetime:
    """Naive UTC of the local midnight that began the city's day holding ``at`` (naive UTC)."""
    local = at.replace(tzinfo=UTC).astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def _scope_sql(area: Area | None) -> tuple[str, dict[str, object]]:
    """`` AND h.<column> = :scope_code`` for a district or street (nothing for the city or None)."""
    if area is None or area.level == "city":
        return "", {}
    column = "district_code" if area.level == "district" else "street_code"
    return f" AND h.{column} = :scope_code", {"scope_code": area.area_code}


def _open_at(engine: Engine, columns: str, where: str = "") -> str:
    """The incidents open at :at as two index ranges (the open ones; the ones closed since), each
    restricted by ``where`` (`` AND ...`` on alias ``h``): never one OR over the whole table. On
    SQLite the report time is written ``+h.reported_at``: it keeps the planner off the report-time
    index (a scan of nearly every incident ever reported before T) for the close-time ranges."""
    reported = "+h.reported_at" if engine.dialect.name == "sqlite" else "h.reported_at"
    return (f"SELECT {columns} FROM v_incident_history h WHERE h.closed_at IS NULL AND {reported} <= :at{where}"
            f" UNION ALL SELECT {columns} FROM v_incident_history h"
            f" WHERE h.closed_at > :at AND {reported} <= :at{where}")


def open_at_sql(engine: Engine, where: str = "") -> str:
    """A subquery (use it as ``(...) o``) with v_open_incidents' columns as they were at :at."""
    return _open_at(engine, _OPEN_COLUMNS, where)


def _as_text(at: datetime) -> str:
    return utc_text(at)


# --- incident figures ------------------------------------------------------------------------------

_FIGURES = ("open", "overdue", "reported_today", "closed_today", "closed_on_time_today", "closed_30d", "on_time_30d")
_ON_TIME = "(h.due_at IS NULL OR COALESCE(h.resolved_at, h.closed_at) <= h.due_at)"


def _figures(engine: Engine, *, at: datetime, tz: ZoneInfo, group: str | None, where: str = "",
             params: dict[str, object] | None = None) -> pd.DataFrame:
    """v_incident_counts' figures at ``at`` (plus the 30-day numerator and denominator), one row per
    value of ``group`` (a column of v_incident_history; None: one row, key '*'), indexed by it.
    Three reads on one connection: open at ``at`` (two index ranges), reported in the day up to
    ``at``, closed in the 30 days up to ``at`` (both one index range)."""
    key = f"h.{group}" if group else "'*'"
    group_by = f" GROUP BY {key}" if group else ""
    bound = {**(params or {}), "at": _as_text(at), "day": _as_text(day_start_utc(at, tz)),
             "since30": _as_text(at - THIRTY_DAYS)}
    inner = f"{key} AS k, {_OVERDUE_AT} AS od" if group else f"{_OVERDUE_AT} AS od"
    open_sql = (f"SELECT {'o.k' if group else key} AS k, COUNT(*) AS open, SUM(o.od) AS overdue"
                f" FROM ({_open_at(engine, inner, where)}) o" + (" GROUP BY o.k" if group else ""))
    reported_sql = (f"SELECT {key} AS k, COUNT(*) AS reported_today FROM v_incident_history h"
                    f" WHERE h.reported_at >= :day AND h.reported_at <= :at{where}{group_by}")
    closed_sql = (f"SELECT {key} AS k,"
                  " SUM(CASE WHEN h.closed_at >= :day THEN 1 ELSE 0 END) AS closed_today,"
                  f" SUM(CASE WHEN h.closed_at >= :day AND {_ON_TIME} THEN 1 ELSE 0 END) AS closed_on_time_today,"
                  f" COUNT(*) AS closed_30d, SUM(CASE WHEN {_ON_TIME} THEN 1 ELSE 0 END) AS on_time_30d"
                  f" FROM v_incident_history h WHERE h.closed_at >= :since30 AND h.closed_at <= :at{where}{group_by}")
    frames = []
    with engine.connect() as conn:
        for sql in (open_sql, reported_sql, closed_sql):
            result = conn.execute(sa.text(sql), bound)
            frame = pd.DataFrame(result.all(), columns=list(result.keys()))
            frames.append(frame[frame["k"].notna()].set_index("k") if not frame.empty else frame.set_index("k"))
    out = pd.concat(frames, axis=1)
    out = out.reindex(columns=list(_FIGURES)).fillna(0).astype(int)
    out.index = out.index.astype(str)
    return out


def _rate(row: pd.Series) -> float | None:
    return None if int(row["closed_30d"]) == 0 else float(row["on_time_30d"]) / float(row["closed_30d"])


def _counts_of(code: str, figures: pd.DataFrame, key: str) -> IncidentCounts:
    row = figures.loc[key] if key in figures.index else pd.Series(dict.fromkeys(_FIGURES, 0))
    return IncidentCounts(area_code=code, open=int(row["open"]), overdue=int(row["overdue"]),
                          reported_today=int(row["reported_today"]), closed_today=int(row["closed_today"]),
                          closed_on_time_today=int(row["closed_on_time_today"]), on_time_rate_30d=_rate(row))


def incident_counts_as_of(*, engine: Engine, area_code: str, at: datetime,
                          tz: ZoneInfo | None = None) -> IncidentCounts | None:
    """``incident_counts`` at ``at``: open and overdue then, reported and closed in the city's day up
    to ``at``, the on-time rate of the 30 days up to ``at``; None for an unknown area. ``tz``: the
    city's zone (None: the configured CITYWALL_TIMEZONE)."""
    area = area_by_code(engine=engine, area_code=area_code)
    if area is None:
        return None
    where, params = _scope_sql(area)
    figures = _figures(engine, at=at, tz=_city_tz(tz), group=None, where=where, params=params)
    return _counts_of(area.area_code, figures, "*")


def incident_channel_as_of(*, engine: Engine, area: Area, source: str, at: datetime,
                           tz: ZoneInfo | None = None) -> dict[str, float | int | None]:
    """``incident_channel`` at ``at``: one channel's figures in an area (zeros when it had nothing)."""
    where, params = _scope_sql(area)
    figures = _figures(engine, at=at, tz=_city_tz(tz), group=None, where=f"{where} AND h.source = :source",
                       params={**params, "source": source})
    c = _counts_of(area.area_code, figures, "*")
    return {"open": c.open, "overdue": c.overdue, "reported_today": c.reported_today,
            "closed_today": c.closed_today, "on_time_rate_30d": c.on_time_rate_30d}


def newest_incident_change_as_of(*, engine: Engine, at: datetime) -> datetime | None:
    """The newest report or closure at or before ``at`` (naive UTC), or None."""
    with engine.connect() as conn:
        value = conn.execute(sa.text(
            "SELECT MAX(t) FROM (SELECT MAX(reported_at) AS t FROM v_incident_history WHERE reported_at <= :at"
            " UNION ALL SELECT MAX(closed_at) FROM v_incident_history WHERE closed_at <= :at) changes"),
            {"at": _as_text(at)}).scalar()
    if value is None or (not isinstance(value, datetime) and pd.isna(value)):
        return None
    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=None)


def child_areas_ranked_as_of(*, engine: Engine, parent_code: str, at: datetime,
                             tz: ZoneInfo | None = None) -> pd.DataFrame:
    """``child_areas_ranked`` at ``at``: the children of an area with their figures then, worst first."""
    parent = area_by_code(engine=engine, area_code=parent_code)
    children = read_frame(engine, "SELECT area_code, level, name, name_en, sort_order FROM v_areas"
                                  " WHERE parent_code = :parent_code", {"parent_code": parent_code})
    columns = ["area_code", "level", "name", "name_en", "open", "overdue", "reported_today", "closed_today",
               "on_time_rate_30d"]
    if parent is None or children.empty:
        return pd.DataFrame(columns=columns)
    group = "district_code" if parent.level == "city" else "street_code"
    where, params = _scope_sql(parent)
    figures = _figures(engine, at=at, tz=_city_tz(tz), group=group, where=where, params=params)
    figures = figures.reindex(children["area_code"].astype(str)).fillna(0).astype(int)
    out = children.assign(
        open=figures["open"].to_numpy(), overdue=figures["overdue"].to_numpy(),
        reported_today=figures["reported_today"].to_numpy(), closed_today=figures["closed_today"].to_numpy(),
        on_time_rate_30d=[_rate(r) for _, r in figures.iterrows()])
    out = out.sort_values(["overdue", "open", "sort_order", "area_code"], ascending=[False, False, True, True])
    return out[columns].reset_index(drop=True)


def cell_counts_as_of(*, engine: Engine, street_code: str, at: datetime, tz: ZoneInfo | None = None) -> pd.DataFrame:
    """``cell_counts`` at ``at``: every grid cell of one street with its figures then, zeros included."""
    cells = read_frame(engine, "SELECT cell_id, name, name_en FROM v_grid_cells WHERE street_code = :street_code"
                               " ORDER BY cell_id", {"street_code": street_code})
    columns = ["cell_id", "name", "name_en", "open", "overdue", "reported_today", "closed_today"]
    if cells.empty:
        return pd.DataFrame(columns=columns)
    where = " AND h.cell_id IN (SELECT g.cell_id FROM v_grid_cells g WHERE g.street_code = :street_code)"
    figures = _figures(engine, at=at, tz=_city_tz(tz), group="cell_id", where=where,
                       params={"street_code": street_code})
    figures = figures.reindex(cells["cell_id"].astype(str)).fillna(0).astype(int)
    for column in ("open", "overdue", "reported_today", "closed_today"):
        cells[column] = figures[column].to_numpy()
    return cells[columns]


def open_incidents_by_category_as_of(*, engine: Engine, area_code: str, at: datetime) -> pd.DataFrame:
    """``open_incidents_by_category`` at ``at``: open and overdue per major category, most open first
    (names from v_incident_categories; a category with nothing open now is named by its id)."""
    area = area_by_code(engine=engine, area_code=area_code)
    where, params = _scope_sql(area)
    return read_frame(
        engine,
        f"""
        SELECT o.category, COALESCE(n.category_name, o.category) AS category_name,
               COALESCE(n.category_name_en, o.category) AS category_name_en,
               COUNT(*) AS open, SUM(o.overdue) AS overdue
        FROM ({_open_at(engine, f"h.category, {_OVERDUE_AT} AS overdue", where)}) o
        LEFT JOIN (SELECT category, MIN(category_name) AS category_name, MIN(category_name_en) AS category_name_en,
                          MIN(sort_order) AS sort_order
                   FROM v_incident_categories GROUP BY category) n ON n.category = o.category
        GROUP BY o.category, n.category_name, n.category_name_en, n.sort_order
        ORDER BY COUNT(*) DESC, COALESCE(n.sort_order, 0), o.category
        """,
        {**params, "at": _as_text(at)},
    ) if area is not None else pd.DataFrame(columns=["category", "category_name", "category_name_en", "open",
                                                       "overdue"])


def incident_funnel_as_of(*, engine: Engine, area_code: str, at: datetime) -> pd.DataFrame:
    """``incident_funnel`` at ``at``: open incidents per stage reached by then (every open status,
    zeros included), with the overdue and the oldest report among them."""
    area = area_by_code(engine=engine, area_code=area_code)
    where, params = _scope_sql(area)
    frame = pd.DataFrame(columns=["status", "open", "overdue", "oldest_reported_at"])
    if area is not None:
        frame = read_frame(
            engine,
            f"SELECT o.status, COUNT(*) AS open, SUM(o.overdue) AS overdue, MIN(o.reported_at) AS oldest_reported_at"
            f" FROM ({_open_at(engine, f'{_STATUS_AT} AS status, {_OVERDUE_AT} AS overdue, h.reported_at', where)}) o"
            " GROUP BY o.status",
            {**params, "at": _as_text(at)}, times_in=("oldest_reported_at",))
    merged = pd.DataFrame({"status": list(OPEN_STATUSES)}).merge(frame, on="status", how="left")
    for column in ("open", "overdue"):
        merged[column] = merged[column].fillna(0).astype(int)
    merged["oldest_reported_at"] = pd.to_datetime(merged["oldest_reported_at"])
    return merged


def open_incidents_as_of(*, engine: Engine, area: Area | None, at: datetime, limit: int = 500) -> pd.DataFrame:
    """``open_incidents`` at ``at``: v_open_incidents' columns as they were then (status reached,
    overdue at ``at``), most urgent and oldest first."""
    where, params = _scope_sql(area)
    # The first ``limit`` of each half, then of both: each half is one top-N sort (the whole open
    # set, 100,000 rows with every column, is never materialised and sorted at once).
    order = " ORDER BY priority DESC, overdue DESC, reported_at, incident_id LIMIT :limit"
    halves = open_at_sql(engine, where).split(" UNION ALL ")
    sql = " UNION ALL ".join(f"SELECT * FROM ({half}{order}) x{n}" for n, half in enumerate(halves))
    return read_frame(engine, f"SELECT * FROM ({sql}) o{order}",
                      {**params, "at": _as_text(at), "limit": int(limit)}, times_in=_OPEN_TIMES)


# --- the map ---------------------------------------------------------------------------------------

def map_count_rows_as_of(*, engine: Engine, at: datetime) -> tuple[list[tuple], list[tuple]]:
    """``map_count_rows`` at ``at``: ``(area_code, parent_code, open, overdue)`` of every area in map
    order, zeros included, and ``(cell_id, district_code, street_code, open, overdue, max_priority)``
    of every cell holding incidents open then, by cell id. One aggregate over the open set (by
    district, street and cell: a few thousand rows), rolled up here."""
    with engine.connect() as conn:
        areas = conn.execute(sa.text("SELECT area_code, parent_code, level FROM v_areas"
                                     " ORDER BY sort_order, area_code")).all()
        columns = f"h.district_code, h.street_code, h.cell_id, h.priority, {_OVERDUE_AT} AS od"
        groups = conn.execute(sa.text(
            "SELECT o.district_code, o.street_code, o.cell_id, COUNT(*) AS n, SUM(o.od) AS od, MAX(o.priority) AS mp"
            f" FROM ({_open_at(engine, columns)}) o"
            " GROUP BY o.district_code, o.street_code, o.cell_id"), {"at": _as_text(at)}).all()
        grid = dict(conn.execute(sa.text("SELECT cell_id, street_code FROM v_grid_cells")).all()) if any(
            g.cell_id is not None for g in groups) else {}
        districts = {str(a.area_code): a.parent_code for a in areas if a.level == "street"}
    total = [0, 0]
    by_code: dict[str, list[int]] = {}
    by_cell: dict[str, list[int]] = {}
    for district, street, cell, n, od, mp in groups:
        n, od = int(n or 0), int(od or 0)
        total[0] += n
        total[1] += od
        for code in (district, street):
            if code is not None:
                slot = by_code.setdefault(str(code), [0, 0])
                slot[0] += n
                slot[1] += od
        if cell is not None and str(cell) in grid:
            slot = by_cell.setdefault(str(cell), [0, 0, 0])
            slot[0] += n
            slot[1] += od
            slot[2] = max(slot[2], int(mp or 0))
    area_rows = []
    for a in areas:
        n, od = total if a.level == "city" else by_code.get(str(a.area_code), [0, 0])
        area_rows.append((a.area_code, a.parent_code, n, od))
    cell_rows = []
    for cell in sorted(by_cell):
        street = grid[cell]
        n, od, mp = by_cell[cell]
        cell_rows.append((cell, districts.get(str(street)), street, n, od, mp))
    return area_rows, cell_rows


def load_map_counts_as_of(*, engine: Engine, at: datetime) -> MapCounts:
    """``load_map_counts`` at ``at``: every map's counts of the city as they were then."""
    return MapCounts.of(*map_count_rows_as_of(engine=engine, at=at))


def open_incident_points_as_of(*, engine: Engine, street_code: str, at: datetime, limit: int = 5000) -> pd.DataFrame:
    """``open_incident_points`` at ``at``: every located incident of one street open then."""
    where = " AND h.street_code = :street_code AND h.lat IS NOT NULL AND h.lon IS NOT NULL"
    return read_frame(
        engine,
        f"SELECT {_POINT_COLUMNS} FROM ({open_at_sql(engine, where)}) o {_NAMES_JOIN}"
        " ORDER BY o.priority DESC, o.reported_at, o.incident_id LIMIT :limit",
        {"street_code": street_code, "at": _as_text(at), "limit": int(limit)}, times_in=_OPEN_TIMES)


def open_cell_shapes_as_of(*, engine: Engine, area: Area | None, at: datetime) -> pd.DataFrame:
    """``open_cell_shapes`` at ``at``: the geometry of the cells in ``area`` holding incidents open then."""
    if area is None or area.level == "city":
        where, params = "", {}
    else:
        column = "district_code" if area.level == "district" else "street_code"
        where, params = f" AND g.{column} = :scope_code", {"scope_code": area.area_code}
    return read_frame(
        engine,
        "SELECT g.cell_id, g.street_code, g.district_code, g.geojson FROM v_grid_cells g"
        f" WHERE g.cell_id IN (SELECT o.cell_id FROM ({_open_at(engine, 'h.cell_id')}) o WHERE o.cell_id IS NOT NULL)"
        f"{where} ORDER BY g.cell_id",
        {**params, "at": _as_text(at)})


# --- the incident list -----------------------------------------------------------------------------

def _list_filter_sql(filt: IncidentFilter) -> tuple[str, str, dict[str, object], dict[str, bool]]:
    """(where inside the open set, where outside on ``o``, params, expanding) of a list filter at :at:
    the area goes inside (an index range), the rest on the rebuilt columns (status, overdue at :at)."""
    from data_access.incident_list import _filter_sql

    scoped = filt.scoped(area_level=None, area_code=None)
    outer, params, expanding = _filter_sql(scoped)
    inner = ""
    if filt.area_code and filt.area_level in ("district", "street"):
        inner = f" AND h.{filt.area_level}_code = :area_code"
        params["area_code"] = filt.area_code
    return inner, outer, params, expanding


def list_incidents_as_of(*, engine: Engine, filt: IncidentFilter, at: datetime, sort: Sequence[tuple[str, str]] = (),
                         offset: int = 0, limit: int = 100) -> pd.DataFrame:
    """``list_incidents`` at ``at``: one page of the filtered incidents open then."""
    inner, outer, params, expanding = _list_filter_sql(filt)
    sql = (f"SELECT {_POINT_COLUMNS}, s.name AS street_name, s.name_en AS street_name_en"
           f" FROM ({open_at_sql(engine, inner)}) o {_NAMES_JOIN} LEFT JOIN v_areas s ON s.area_code = o.street_code"
           f" WHERE {outer} ORDER BY {_order_by(sort)} LIMIT :limit OFFSET :offset")
    return read_frame(engine, statement(sql, expanding),
                      {**params, "at": _as_text(at), "limit": max(0, int(limit)), "offset": max(0, int(offset))},
                      times_in=LIST_TIMES)


def iter_incidents_as_of(*, engine: Engine, filt: IncidentFilter, at: datetime, sort: Sequence[tuple[str, str]] = (),
                         chunk_rows: int = 10_000, max_rows: int = EXPORT_MAX_ROWS) -> Iterator[pd.DataFrame]:
    """``iter_incidents`` at ``at``: the filtered list of incidents open then in chunks (the CSV export)."""
    inner, outer, params, expanding = _list_filter_sql(filt)
    sql = (f"SELECT {_POINT_COLUMNS}, s.name AS street_name, s.name_en AS street_name_en"
           f" FROM ({open_at_sql(engine, inner)}) o {_NAMES_JOIN} LEFT JOIN v_areas s ON s.area_code = o.street_code"
           f" WHERE {outer} ORDER BY {_order_by(sort)} LIMIT :limit")
    with engine.connect().execution_options(stream_results=True) as conn:
        result = conn.execute(statement(sql, expanding), {**params, "at": _as_text(at), "limit": int(max_rows)})
        columns = list(result.keys())
        while rows := result.fetchmany(chunk_rows):
            yield times(pd.DataFrame(rows, columns=columns), LIST_TIMES)


def count_incidents_as_of(*, engine: Engine, filt: IncidentFilter, at: datetime) -> int:
    """``count_incidents`` at ``at``: how many incidents open then the filter matches."""
    inner, outer, params, expanding = _list_filter_sql(filt)
    with engine.connect() as conn:
        sql = f"SELECT COUNT(*) FROM ({open_at_sql(engine, inner)}) o WHERE {outer}"
        return int(conn.execute(statement(sql, expanding), {**params, "at": _as_text(at)}).scalar_one())


# --- vital signs -----------------------------------------------------------------------------------

_NEWEST_MINUTE_SQL = """
    SELECT indicator_id, area_code, minute AS ts, value, status FROM (
        SELECT v.indicator_id, v.area_code, v.minute, v.value, v.status,
               ROW_NUMBER() OVER (PARTITION BY v.indicator_id, v.area_code ORDER BY v.minute DESC) AS n
        FROM v_vitals_recent v
        WHERE v.area_code IN :codes AND v.minute > :since AND v.minute <= :at
    ) r WHERE n = 1"""
_CATALOGUE_COLUMNS = ["indicator_id", "dimension", "name", "name_en", "unit", "level", "period_s", "warn_low",
                      "warn_high", "alarm_low", "alarm_high", "higher_is_better", "on_wall", "sort_order", "decimals"]


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _vitals_at(engine: Engine, *, codes: list[str], at: datetime) -> pd.DataFrame:
    """Each series of ``codes`` at ``at``: its newest minute within the lookback, with the catalogue's
    columns and yesterday's hour (``prev_day_value``); unaged."""
    frame = read_frame(engine, _NEWEST_MINUTE_SQL,
                       {"codes": codes, "since": _as_text(at - VITALS_LOOKBACK), "at": _as_text(at)},
                       times_in=("ts",), expanding=("codes",))
    catalogue = indicator_catalogue(engine=engine)
    frame = frame.merge(catalogue[[c for c in _CATALOGUE_COLUMNS if c in catalogue]], on="indicator_id", how="inner")
    if frame.empty:
        return frame.assign(prev_day_value=pd.Series(dtype=float))
    yesterday = read_frame(
        engine,
        "SELECT indicator_id, area_code, value AS prev_day_value FROM v_vitals_hourly"
        " WHERE indicator_id IN :ids AND area_code IN :codes AND hour = :hour",
        {"ids": sorted(set(frame["indicator_id"])), "codes": codes, "hour": _as_text(_hour(at - DAY))},
        expanding=("ids", "codes"))
    return frame.merge(yesterday, on=["indicator_id", "area_code"], how="left")


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["dimension", "sort_order", "indicator_id"]).reset_index(drop=True)


def vitals_for_scope_as_of(*, engine: Engine, chain: list[Area], at: datetime) -> pd.DataFrame:
    """``vitals_for_scope`` at ``at``: each indicator from the nearest area of ``chain`` that reported
    it within the lookback before ``at``, ``source_area`` saying which; age and staleness at ``at``."""
    if not chain:
        return pd.DataFrame()
    codes = [area.area_code for area in chain]
    frame = _vitals_at(engine, codes=codes, at=at)
    if frame.empty:
        return mark_staleness(frame.rename(columns={"area_code": "source_area"}), now=at)
    rank = {code: position for position, code in enumerate(codes)}
    frame["_rank"] = frame["area_code"].map(rank)
    frame = (frame.sort_values(["indicator_id", "_rank"]).drop_duplicates("indicator_id")
             .drop(columns="_rank").rename(columns={"area_code": "source_area"}))
    return mark_staleness(_ordered(frame), now=at)


def vitals_latest_as_of(*, engine: Engine, area_code: str, at: datetime, on_wall_only: bool = False) -> pd.DataFrame:
    """``vitals_latest`` at ``at``: every indicator of ``area_code`` as it stood then (the level pages)."""
    frame = _vitals_at(engine, codes=[area_code], at=at)
    if on_wall_only and not frame.empty:
        frame = frame[frame["on_wall"].astype(bool)]
    frame = _ordered(frame) if not frame.empty else frame
    return mark_staleness(with_optional_columns(engine=engine, frame=frame), now=at)


def vitals_trends_as_of(*, engine: Engine, series: list[tuple[str, str]], at: datetime,
                        minutes: int = TREND_MINUTES) -> pd.DataFrame:
    """``vitals_trends`` of the ``minutes`` finished minutes before ``at``."""
    empty = pd.DataFrame(columns=["indicator_id", "area_code", "minute", "value", "status"])
    if not series:
        return empty
    frame = read_frame(
        engine,
        "SELECT indicator_id, area_code, minute, value, status FROM v_vitals_recent"
        " WHERE indicator_id IN :ids AND area_code IN :codes AND minute >= :since AND minute < :at"
        " ORDER BY indicator_id, area_code, minute",
        {"ids": sorted({i for i, _ in series}), "codes": sorted({a for _, a in series}),
         "since": _as_text(at - timedelta(minutes=minutes)), "at": _as_text(at)},
        times_in=("minute",), expanding=("ids", "codes"))
    wanted = set(series)
    keep = [(i, a) in wanted for i, a in zip(frame["indicator_id"], frame["area_code"], strict=True)]
    return frame[keep].reset_index(drop=True)


def last_normal_minute_as_of(*, engine: Engine, series: list[tuple[str, str]], at: datetime
                             ) -> dict[tuple[str, str], datetime]:
    """``last_normal_minute`` at ``at``: each series' last normal minute at or before ``at`` (kept history)."""
    if not series:
        return {}
    frame = read_frame(
        engine,
        "SELECT indicator_id, area_code, MAX(minute) AS last_normal FROM v_vitals_recent"
        " WHERE indicator_id IN :ids AND area_code IN :codes AND status = 'normal' AND minute <= :at"
        " GROUP BY indicator_id, area_code",
        {"ids": sorted({i for i, _ in series}), "codes": sorted({a for _, a in series}), "at": _as_text(at)},
        times_in=("last_normal",), expanding=("ids", "codes"))
    wanted = set(series)
    return {(r.indicator_id, r.area_code): r.last_normal.to_pydatetime()
            for r in frame.itertuples() if (r.indicator_id, r.area_code) in wanted and not pd.isna(r.last_normal)}


# --- the wall and the level pages ------------------------------------------------------------------

def load_wall_incidents_as_of(*, engine: Engine, area: Area, at: datetime, hotline_source: str = "hotline_12345",
                              tz: ZoneInfo | None = None) -> WallIncidents:
    """``load_wall_incidents`` at ``at``: the incident strip as it was then."""
    failed: set[str] = set()
    panel = _panel_reader(area, failed)
    zone = _city_tz(tz)
    counts = panel("strip", lambda: incident_counts_as_of(engine=engine, area_code=area.area_code, at=at, tz=zone),
                   None)
    hotline = panel("strip", lambda: incident_channel_as_of(engine=engine, area=area, source=hotline_source, at=at,
                                                            tz=zone), {})
    newest = panel("strip", lambda: newest_incident_change_as_of(engine=engine, at=at), None)
    return WallIncidents(counts=counts, hotline=hotline, failed=bool(failed), newest_change=newest)


def load_wall_as_of(*, engine: Engine, area: Area, at: datetime, hotline_source: str = "hotline_12345",
                    level_words: dict[str, str] | None = None, tz: ZoneInfo | None = None,
                    incidents: Callable[[], WallIncidents] | None = None) -> WallSnapshot:
    """``load_wall`` at ``at``: the same WallSnapshot (``read_at=at``; ages and staleness at ``at``), so
    components.wall renders it unchanged. ``incidents``: where the strip comes from instead."""
    chain = area_chain(engine=engine, area_code=area.area_code)
    return wall_snapshot(
        area=area, chain=chain, moment=at, vitals=vitals_for_scope_as_of(engine=engine, chain=chain, at=at),
        trends=lambda series: vitals_trends_as_of(engine=engine, series=series, at=at),
        normal_since=lambda series: last_normal_minute_as_of(engine=engine, series=series, at=at),
        strip=incidents or (lambda: load_wall_incidents_as_of(engine=engine, area=area, at=at,
                                                              hotline_source=hotline_source, tz=tz)),
        level_words=level_words)


def load_panels_as_of(*, engine: Engine, area: Area, at: datetime, tz: ZoneInfo | None = None) -> PanelData:
    """``readers.panels.load_panels`` at ``at``: the level page's KPIs, ranking, categories, funnel and
    vital signs as they were then."""
    zone = _city_tz(tz)
    if child_level(area):
        children = child_areas_ranked_as_of(engine=engine, parent_code=area.area_code, at=at, tz=zone)
    else:
        children = cells_ranked(cell_counts_as_of(engine=engine, street_code=area.area_code, at=at, tz=zone))
    return PanelData(
        counts=incident_counts_as_of(engine=engine, area_code=area.area_code, at=at, tz=zone),
        children=children,
        categories=open_incidents_by_category_as_of(engine=engine, area_code=area.area_code, at=at),
        funnel=incident_funnel_as_of(engine=engine, area_code=area.area_code, at=at),
        vitals=vitals_latest_as_of(engine=engine, area_code=area.area_code, at=at),
    )
