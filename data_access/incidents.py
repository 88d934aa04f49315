"""Incident figures: counts per area, per category, per channel, per lifecycle stage, the child
areas ranked worst first. Named, typed, keyword-only reads over the ``v_*`` views."""
from __future__ import annotations

from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access.areas import children_or_one
from data_access.models import OPEN_STATUSES, Area, IncidentCounts
from data_access.sql import read_frame


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


def newest_incident_change(*, engine: Engine) -> datetime | None:
    """The newest report or closure of any incident (naive UTC, v_incident_as_of), or None when
    there is none, or when a city's own database has no such view (it is optional)."""
    try:
        with engine.connect() as conn:
            value = conn.execute(sa.text("SELECT as_of FROM v_incident_as_of")).scalar()
    except (sa.exc.ProgrammingError, sa.exc.OperationalError) as exc:
        if "v_incident_as_of" in str(exc) and ("no such table" in str(exc) or "does not exist" in str(exc)):
            return None  # a city's own database without the view; anything else is a real failure
        raise
    if value is None or (not isinstance(value, datetime) and pd.isna(value)):
        return None
    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=None)


def incident_counts_by_level(*, engine: Engine, level: str) -> pd.DataFrame:
    """v_incident_counts for every area of one level ('city', 'district' or 'street')."""
    return read_frame(engine, "SELECT * FROM v_incident_counts WHERE level = :level ORDER BY area_code",
                  {"level": level})


def open_incidents_by_cell(*, engine: Engine, area: Area | None = None) -> pd.DataFrame:
    """Grid cells with open incidents (open, overdue, max_priority) in an area (None: the city)."""
    where, params = _area_filter(area)
    return read_frame(
        engine,
        f"SELECT cell_id, street_code, district_code, open, overdue, max_priority FROM v_incident_cells"
        f" {where} ORDER BY cell_id",
        params,
    )


def cell_counts(*, engine: Engine, street_code: str) -> pd.DataFrame:
    """Every grid cell of one street with its name and figures, zeros included (v_cell_counts)."""
    return read_frame(
        engine,
        "SELECT cell_id, name, name_en, open, overdue, reported_today, closed_today FROM v_cell_counts"
        " WHERE street_code = :street_code ORDER BY cell_id",
        {"street_code": street_code},
    )


def cells_ranked(cells: pd.DataFrame) -> pd.DataFrame:
    """A street's grid cells (``cell_counts`` or its as-of twin) as the level page's ranked children:
    every cell by its name (its id when it has none), the most overdue first."""
    names = cells["name"].where(cells["name"].notna() & (cells["name"] != ""), cells["cell_id"])
    return pd.DataFrame({
        "area_code": cells["cell_id"], "level": "cell", "name": names,
        "name_en": cells["name_en"].where(cells["name_en"].notna() & (cells["name_en"] != ""), names),
        "open": cells["open"].astype(int), "overdue": cells["overdue"].astype(int),
        "reported_today": cells["reported_today"].astype(int), "closed_today": cells["closed_today"].astype(int),
        "on_time_rate_30d": None,
    }).sort_values(["overdue", "open", "area_code"], ascending=[False, False, True])


def open_incidents_by_category(*, engine: Engine, area_code: str) -> pd.DataFrame:
    """Open and overdue incidents per major category in one area, most open first."""
    return read_frame(
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
    return read_frame(
        engine,
        f"SELECT * FROM v_open_incidents {where}"
        " ORDER BY priority DESC, overdue DESC, reported_at, incident_id LIMIT :limit",
        {**params, "limit": int(limit)},
        times_in=("reported_at", "due_at"),
    )


def _area_filter(area: Area | None) -> tuple[str, dict[str, object]]:
    """A WHERE clause (fixed text, bound code) restricting district/street-coded rows to an area."""
    if area is None or area.level == "city":
        return "", {}
    column = "district_code" if area.level == "district" else "street_code"
    return f"WHERE {column} = :area_code", {"area_code": area.area_code}


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


def child_areas_ranked(*, engine: Engine, parent_code: str) -> pd.DataFrame:
    """The children of an area with their incident figures, worst first (overdue, then open).

    PostgreSQL reads v_incident_counts once per child through LATERAL (``OFFSET 0`` keeps the
    planner from flattening it into a join), so each read gets the child's code pushed down to
    its own index ranges: a district's 15 streets cost ~10 ms instead of aggregating the whole
    city (~250 ms at 150,000 incidents). SQLite has no LATERAL and does not push the code down;
    it keeps the join."""
    if engine.dialect.name == "postgresql":
        source = ("FROM v_areas a CROSS JOIN LATERAL (SELECT x.open, x.overdue, x.reported_today, x.closed_today,"
                  " x.on_time_rate_30d FROM v_incident_counts x WHERE x.area_code = a.area_code OFFSET 0) c")
    else:
        source = "FROM v_areas a JOIN v_incident_counts c ON c.area_code = a.area_code"
    return read_frame(
        engine,
        f"""
        SELECT a.area_code, a.level, a.name, a.name_en, c.open, c.overdue, c.reported_today,
               c.closed_today, c.on_time_rate_30d
        {source}
        WHERE a.parent_code = :parent_code
        ORDER BY c.overdue DESC, c.open DESC, a.sort_order, a.area_code
        """,
        {"parent_code": parent_code},
    )


def open_counts(*, engine: Engine, parent_code: str | None = None, area_code: str | None = None) -> pd.DataFrame:
    """Open and overdue incidents of the children of ``parent_code`` (or of the one ``area_code``),
    zeros included: the map's per-tick area colours (v_incident_open_areas, open incidents only)."""
    column, value = children_or_one(parent_code, area_code)
    return read_frame(
        engine,
        "SELECT a.area_code, a.level, COALESCE(x.open, 0) AS open, COALESCE(x.overdue, 0) AS overdue"
        " FROM v_areas a LEFT JOIN v_incident_open_areas x ON x.area_code = a.area_code AND x.level = a.level"
        f" WHERE a.{column} = :value ORDER BY a.sort_order, a.area_code",
        {"value": value},
    )


def incident_funnel(*, engine: Engine, area_code: str) -> pd.DataFrame:
    """Open incidents per lifecycle status of one area (every open status, zeros included), in
    lifecycle order: status, open, overdue, oldest_reported_at (NaT when the stage is empty)."""
    frame = read_frame(
        engine,
        "SELECT status, open, overdue, oldest_reported_at FROM v_incident_funnel WHERE area_code = :area_code",
        {"area_code": area_code},
        times_in=("oldest_reported_at",),
    )
    base = pd.DataFrame({"status": list(OPEN_STATUSES)})
    merged = base.merge(frame, on="status", how="left")
    for column in ("open", "overdue"):
        merged[column] = merged[column].fillna(0).astype(int)
    merged["oldest_reported_at"] = pd.to_datetime(merged["oldest_reported_at"])
    return merged
