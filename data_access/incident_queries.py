"""Reads of the incident map, the level pages and the incident list (issue 4).

Named, typed, keyword-only functions over the ``v_*`` views only; every value is a bound
parameter, and the only text ever spliced into SQL comes from fixed whitelists (sort columns,
area-level columns). Times come back as naive UTC Timestamps on both dialects.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import queries
from data_access.queries import Area

# Area codes are short identifiers (Shanghai: 6 or 9 digits); anything else is never queried.
_CODE = re.compile(r"^[0-9A-Za-z_.-]{1,32}$")
OPEN_STATUSES = ("reported", "dispatched", "in_progress", "resolved")
PRIORITIES = (1, 2, 3)
LEVEL_CHILD = {"city": "district", "district": "street", "street": None}
EXPORT_MAX_ROWS = 100_000
_SQL_CHUNK = 500  # ids per IN (...) list: far below every dialect's bound-parameter limit


def valid_code(code: object) -> bool:
    """Whether ``code`` looks like an area code at all (length and characters), before any query."""
    return isinstance(code, str) and bool(_CODE.match(code))


def _frame(engine: Engine, sql: str | sa.TextClause, params: Mapping[str, object] | None = None,
           times: tuple[str, ...] = ()) -> pd.DataFrame:
    statement = sa.text(sql) if isinstance(sql, str) else sql
    with engine.connect() as conn:
        frame = pd.read_sql(statement, conn, params=dict(params or {}))
    return _times(frame, times)


def _times(frame: pd.DataFrame, times: tuple[str, ...]) -> pd.DataFrame:
    for column in times:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601", errors="coerce")
    return frame


# --- areas -------------------------------------------------------------------------------------

def area_lineage(*, engine: Engine, area_code: str) -> list[Area]:
    """The area and its ancestors, city first; ``[]`` when the code is malformed or unknown."""
    if not valid_code(area_code):
        return []
    chain: list[Area] = []
    code: str | None = area_code
    while code is not None and len(chain) < 4:
        area = queries.area_by_code(engine=engine, area_code=code)
        if area is None:
            break
        chain.append(area)
        code = area.parent_code
    return list(reversed(chain))


def area_shapes(*, engine: Engine, parent_code: str | None = None, area_code: str | None = None) -> pd.DataFrame:
    """Areas with their GeoJSON boundary: the children of ``parent_code`` or the one ``area_code``."""
    if (parent_code is None) == (area_code is None):
        raise ValueError("give exactly one of parent_code and area_code")
    column, value = ("parent_code", parent_code) if parent_code is not None else ("area_code", area_code)
    return _frame(
        engine,
        "SELECT area_code, level, parent_code, name, name_en, geojson, center_lat, center_lon, sort_order"
        f" FROM v_areas WHERE {column} = :value ORDER BY sort_order, area_code",
        {"value": value},
    )


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
    return _frame(
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
    if (parent_code is None) == (area_code is None):
        raise ValueError("give exactly one of parent_code and area_code")
    column, value = ("parent_code", parent_code) if parent_code is not None else ("area_code", area_code)
    return _frame(
        engine,
        "SELECT a.area_code, a.level, COALESCE(x.open, 0) AS open, COALESCE(x.overdue, 0) AS overdue"
        " FROM v_areas a LEFT JOIN v_incident_open_areas x ON x.area_code = a.area_code AND x.level = a.level"
        f" WHERE a.{column} = :value ORDER BY a.sort_order, a.area_code",
        {"value": value},
    )


# --- grid cells and points ---------------------------------------------------------------------

def _scope_where(area: Area | None, alias: str) -> tuple[str, dict[str, object]]:
    if area is None or area.level == "city":
        return "1 = 1", {}
    column = "district_code" if area.level == "district" else "street_code"
    return f"{alias}.{column} = :scope_code", {"scope_code": area.area_code}


def open_cell_shapes(*, engine: Engine, area: Area | None) -> pd.DataFrame:
    """Geometry of the grid cells in ``area`` (None: the city) that hold open incidents now."""
    where, params = _scope_where(area, "c")
    return _frame(
        engine,
        "SELECT g.cell_id, g.street_code, g.district_code, g.geojson FROM v_incident_cells c"
        f" JOIN v_grid_cells g ON g.cell_id = c.cell_id WHERE {where} ORDER BY g.cell_id",
        params,
    )


def cell_shapes_by_id(*, engine: Engine, cell_ids: Sequence[str]) -> pd.DataFrame:
    """Geometry of the named grid cells (unknown ids are skipped)."""
    ids = sorted({c for c in cell_ids if isinstance(c, str) and valid_code(c)})
    statement = sa.text(
        "SELECT cell_id, street_code, district_code, geojson FROM v_grid_cells WHERE cell_id IN :ids"
        " ORDER BY cell_id"
    ).bindparams(sa.bindparam("ids", expanding=True))
    frames = [_frame(engine, statement, {"ids": ids[i:i + _SQL_CHUNK]}) for i in range(0, len(ids), _SQL_CHUNK)]
    if not frames:
        return pd.DataFrame(columns=["cell_id", "street_code", "district_code", "geojson"])
    return pd.concat(frames, ignore_index=True)


def map_count_rows(*, engine: Engine) -> tuple[list[tuple], list[tuple]]:
    """Every map's counts of one tick in two aggregate reads on one connection, as plain tuples
    (no DataFrame for ~3,300 rows): ``(area_code, parent_code, open, overdue)`` of every area,
    zeros included, in map order (sort order, then code); and ``(cell_id, district_code,
    street_code, open, overdue, max_priority)`` of every cell with open incidents, by cell id.
    One city-wide read serves the maps of every level (components.incident_map.MapCounts):
    the views aggregate the whole city anyway, and a drill-down then finds its counts ready."""
    with engine.connect() as conn:
        areas = conn.execute(sa.text(
            "SELECT a.area_code, a.parent_code, COALESCE(x.open, 0) AS open, COALESCE(x.overdue, 0) AS overdue"
            " FROM v_areas a LEFT JOIN v_incident_open_areas x ON x.area_code = a.area_code AND x.level = a.level"
            " ORDER BY a.sort_order, a.area_code")).all()
        cells = conn.execute(sa.text(
            "SELECT c.cell_id, c.district_code, c.street_code, c.open, c.overdue, c.max_priority"
            " FROM v_incident_cells c ORDER BY c.cell_id")).all()
    return [tuple(r) for r in areas], [tuple(r) for r in cells]


def cell_counts(*, engine: Engine, area: Area | None) -> pd.DataFrame:
    """Open, overdue and top priority per grid cell with open incidents in ``area`` (None: the city)."""
    return queries.open_incidents_by_cell(engine=engine, area=area)


_POINT_COLUMNS = """o.incident_id, o.category, COALESCE(n.category_name, o.category) AS category_name,
       COALESCE(n.category_name_en, o.category) AS category_name_en, o.priority, o.status,
       o.reported_at, o.due_at, o.overdue, o.lat, o.lon, o.cell_id, o.street_code, o.district_code,
       o.title, o.address"""
_NAMES_JOIN = """LEFT JOIN (SELECT category, MIN(category_name) AS category_name,
                          MIN(category_name_en) AS category_name_en
                   FROM v_incident_categories GROUP BY category) n ON n.category = o.category"""


def open_incident_points(*, engine: Engine, street_code: str, limit: int = 5000) -> pd.DataFrame:
    """Every located open incident of one street (the street-level map's points)."""
    return _frame(
        engine,
        f"SELECT {_POINT_COLUMNS} FROM v_open_incidents o {_NAMES_JOIN}"
        " WHERE o.street_code = :street_code AND o.lat IS NOT NULL AND o.lon IS NOT NULL"
        " ORDER BY o.priority DESC, o.reported_at, o.incident_id LIMIT :limit",
        {"street_code": street_code, "limit": int(limit)},
        times=("reported_at", "due_at"),
    )


# --- level panels ------------------------------------------------------------------------------

def incident_funnel(*, engine: Engine, area_code: str) -> pd.DataFrame:
    """Open incidents per lifecycle status of one area (every open status, zeros included), in
    lifecycle order: status, open, overdue, oldest_reported_at (NaT when the stage is empty)."""
    frame = _frame(
        engine,
        "SELECT status, open, overdue, oldest_reported_at FROM v_incident_funnel WHERE area_code = :area_code",
        {"area_code": area_code},
        times=("oldest_reported_at",),
    )
    base = pd.DataFrame({"status": list(OPEN_STATUSES)})
    merged = base.merge(frame, on="status", how="left")
    for column in ("open", "overdue"):
        merged[column] = merged[column].fillna(0).astype(int)
    merged["oldest_reported_at"] = pd.to_datetime(merged["oldest_reported_at"])
    return merged


def category_options(*, engine: Engine, area_code: str) -> pd.DataFrame:
    """The major categories with open incidents in an area (the list's filter choices)."""
    return queries.open_incidents_by_category(engine=engine, area_code=area_code)


# --- the incident list -------------------------------------------------------------------------

@dataclass(frozen=True)
class IncidentFilter:
    """What the incident list shows; every field becomes a bound parameter."""

    area_level: str | None = None  # None or 'city': the whole city
    area_code: str | None = None
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    overdue: bool | None = None  # None: both
    search: str = ""

    @classmethod
    def from_values(cls, *, area_level: object = None, area_code: object = None, categories: object = None,
                    statuses: object = None, priorities: object = None, overdue: object = None,
                    search: object = None) -> IncidentFilter:
        """A filter from loose UI values (None, strings, lists); anything unusable is dropped."""
        def strings(value: object) -> tuple[str, ...]:
            if value is None:
                return ()
            items = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else []
            return tuple(sorted({str(v) for v in items if isinstance(v, str | int) and str(v) and len(str(v)) <= 64}))

        level = area_level if area_level in ("city", "district", "street") else None
        code = area_code if level and valid_code(area_code) else None
        prios = tuple(sorted({int(p) for p in strings(priorities) if p.isdigit() and int(p) in PRIORITIES}))
        flag = {"1": True, "true": True, "yes": True, True: True,
                "0": False, "false": False, "no": False, False: False}.get(
            overdue.lower() if isinstance(overdue, str) else overdue if isinstance(overdue, bool) else None)
        text = search.strip()[:100] if isinstance(search, str) else ""
        return cls(area_level=level, area_code=code, categories=strings(categories),
                   statuses=tuple(s for s in strings(statuses) if s in OPEN_STATUSES), priorities=prios,
                   overdue=flag, search=text)

    def scoped(self, *, area_level: str | None, area_code: str | None) -> IncidentFilter:
        return replace(self, area_level=area_level, area_code=area_code)


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards escaped (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filter_sql(filt: IncidentFilter) -> tuple[str, dict[str, object], dict[str, bool]]:
    clauses: list[str] = []
    params: dict[str, object] = {}
    expanding: dict[str, bool] = {}
    if filt.area_code and filt.area_level in ("district", "street"):
        clauses.append(f"o.{filt.area_level}_code = :area_code")
        params["area_code"] = filt.area_code
    for name, column, values in (("categories", "o.category", filt.categories),
                                 ("statuses", "o.status", filt.statuses),
                                 ("priorities", "o.priority", filt.priorities)):
        if values:
            clauses.append(f"{column} IN :{name}")
            params[name] = list(values)
            expanding[name] = True
    if filt.overdue is not None:
        clauses.append("o.overdue = :overdue")
        params["overdue"] = 1 if filt.overdue else 0
    if filt.search:
        clauses.append(
            "(LOWER(o.incident_id) LIKE :q ESCAPE '\\' OR LOWER(COALESCE(o.title, '')) LIKE :q ESCAPE '\\'"
            " OR LOWER(COALESCE(o.address, '')) LIKE :q ESCAPE '\\')"
        )
        params["q"] = f"%{escape_like(filt.search.lower())}%"
    return (" AND ".join(clauses) or "1 = 1"), params, expanding


def _statement(sql: str, expanding: Mapping[str, bool]) -> sa.TextClause:
    statement = sa.text(sql)
    if expanding:
        statement = statement.bindparams(*[sa.bindparam(name, expanding=True) for name in expanding])
    return statement


# Sortable columns of the list: the grid's column id -> the SQL expression (a fixed whitelist).
SORTABLE: dict[str, str] = {
    "incident_id": "o.incident_id", "category_name": "o.category", "category": "o.category",
    "priority": "o.priority", "status": "o.status", "reported_at": "o.reported_at", "due_at": "o.due_at",
    "overdue": "o.overdue", "title": "o.title", "address": "o.address", "street_name": "o.street_code",
}
DEFAULT_SORT: tuple[tuple[str, str], ...] = (("priority", "desc"), ("overdue", "desc"), ("reported_at", "asc"))


def _order_by(sort: Sequence[tuple[str, str]]) -> str:
    chosen = [(col, way) for col, way in (sort or DEFAULT_SORT) if col in SORTABLE] or list(DEFAULT_SORT)
    parts = []
    for col, way in chosen:
        expr = SORTABLE[col]
        # NULLs last in both directions on both dialects (SQLite and PostgreSQL disagree by default).
        parts.append(f"CASE WHEN {expr} IS NULL THEN 1 ELSE 0 END, {expr} {'DESC' if way == 'desc' else 'ASC'}")
    return ", ".join([*parts, "o.incident_id ASC"])


def sort_from_model(sort_model: object) -> tuple[tuple[str, str], ...]:
    """The grid's sortModel ([{colId, sort}, ...]) as whitelisted (column, direction) pairs."""
    if not isinstance(sort_model, list):
        return ()
    out = []
    for item in sort_model:
        if isinstance(item, dict) and item.get("colId") in SORTABLE and item.get("sort") in ("asc", "desc"):
            out.append((item["colId"], item["sort"]))
    return tuple(out)


_LIST_SQL = f"""SELECT {_POINT_COLUMNS}, s.name AS street_name, s.name_en AS street_name_en
FROM v_open_incidents o
{_NAMES_JOIN}
LEFT JOIN v_areas s ON s.area_code = o.street_code"""
LIST_TIMES = ("reported_at", "due_at")


def list_incidents(*, engine: Engine, filt: IncidentFilter, sort: Sequence[tuple[str, str]] = (),
                   offset: int = 0, limit: int = 100) -> pd.DataFrame:
    """One page of the filtered open incidents, in ``sort`` order (ties: incident id)."""
    where, params, expanding = _filter_sql(filt)
    sql = f"{_LIST_SQL} WHERE {where} ORDER BY {_order_by(sort)} LIMIT :limit OFFSET :offset"
    return _frame(engine, _statement(sql, expanding),
                  {**params, "limit": max(0, int(limit)), "offset": max(0, int(offset))}, times=LIST_TIMES)


def count_incidents(*, engine: Engine, filt: IncidentFilter) -> int:
    """How many open incidents the filter matches."""
    where, params, expanding = _filter_sql(filt)
    with engine.connect() as conn:
        return int(conn.execute(_statement(f"SELECT COUNT(*) FROM v_open_incidents o WHERE {where}", expanding),
                                params).scalar_one())


def iter_incidents(*, engine: Engine, filt: IncidentFilter, sort: Sequence[tuple[str, str]] = (),
                   chunk_rows: int = 10_000, max_rows: int = EXPORT_MAX_ROWS) -> Iterator[pd.DataFrame]:
    """The filtered list in chunks of ``chunk_rows`` (one streamed query), at most ``max_rows`` rows."""
    where, params, expanding = _filter_sql(filt)
    sql = f"{_LIST_SQL} WHERE {where} ORDER BY {_order_by(sort)} LIMIT :limit"
    with engine.connect().execution_options(stream_results=True) as conn:
        result = conn.execute(_statement(sql, expanding), {**params, "limit": int(max_rows)})
        columns = list(result.keys())
        while rows := result.fetchmany(chunk_rows):
            yield _times(pd.DataFrame(rows, columns=columns), LIST_TIMES)


@dataclass(frozen=True)
class IncidentLocation:
    incident_id: str
    lat: float | None
    lon: float | None
    street_code: str | None
    district_code: str | None
    reported_at: datetime | None


def incident_location(*, engine: Engine, incident_id: str) -> IncidentLocation | None:
    """Where one open incident is (for highlighting it), or None when it is not open or unknown."""
    if not isinstance(incident_id, str) or not 0 < len(incident_id) <= 64:
        return None
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT incident_id, lat, lon, street_code, district_code, reported_at FROM v_open_incidents"
            " WHERE incident_id = :incident_id"), {"incident_id": incident_id}).first()
    if row is None:
        return None
    m = row._mapping
    reported = pd.to_datetime(m["reported_at"], format="ISO8601", errors="coerce")
    return IncidentLocation(incident_id=m["incident_id"], lat=m["lat"], lon=m["lon"], street_code=m["street_code"],
                            district_code=m["district_code"],
                            reported_at=None if pd.isna(reported) else reported.to_pydatetime())
