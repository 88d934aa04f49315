"""The incident list: filtered, sorted, paged, counted and exported reads of ``v_open_incidents``.
Every filter value is a bound parameter; sort columns come from a fixed whitelist."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access.incident_map import _NAMES_JOIN, _POINT_COLUMNS
from data_access.incidents import open_incidents_by_category
from data_access.models import IncidentFilter, IncidentLocation
from data_access.sql import read_frame, statement, times

EXPORT_MAX_ROWS = 100_000


def category_options(*, engine: Engine, area_code: str) -> pd.DataFrame:
    """The major categories with open incidents in an area (the list's filter choices)."""
    return open_incidents_by_category(engine=engine, area_code=area_code)


def known_categories(*, engine: Engine) -> frozenset[str]:
    """Every category an open incident has: what a list filter may name (others match nothing)."""
    with engine.connect() as conn:
        return frozenset(conn.execute(sa.text("SELECT DISTINCT category FROM v_open_incidents")).scalars())


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards escaped (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filter_sql(filt: IncidentFilter) -> tuple[str, dict[str, object], dict[str, bool]]:
    clauses: list[str] = []
    params: dict[str, object] = {}
    expanding: dict[str, bool] = {}
    if filt.nothing:
        clauses.append("1 = 0")
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
        if isinstance(item, dict) and isinstance(item.get("colId"), str) and item["colId"] in SORTABLE \
                and item.get("sort") in ("asc", "desc"):  # a forged dict or list as colId: ignored
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
    return read_frame(engine, statement(sql, expanding),
                  {**params, "limit": max(0, int(limit)), "offset": max(0, int(offset))}, times_in=LIST_TIMES)


def count_incidents(*, engine: Engine, filt: IncidentFilter) -> int:
    """How many open incidents the filter matches."""
    where, params, expanding = _filter_sql(filt)
    with engine.connect() as conn:
        return int(conn.execute(statement(f"SELECT COUNT(*) FROM v_open_incidents o WHERE {where}", expanding),
                                params).scalar_one())


def iter_incidents(*, engine: Engine, filt: IncidentFilter, sort: Sequence[tuple[str, str]] = (),
                   chunk_rows: int = 10_000, max_rows: int = EXPORT_MAX_ROWS) -> Iterator[pd.DataFrame]:
    """The filtered list in chunks of ``chunk_rows`` (one streamed query), at most ``max_rows`` rows."""
    where, params, expanding = _filter_sql(filt)
    sql = f"{_LIST_SQL} WHERE {where} ORDER BY {_order_by(sort)} LIMIT :limit"
    with engine.connect().execution_options(stream_results=True) as conn:
        result = conn.execute(statement(sql, expanding), {**params, "limit": int(max_rows)})
        columns = list(result.keys())
        while rows := result.fetchmany(chunk_rows):
            yield times(pd.DataFrame(rows, columns=columns), LIST_TIMES)


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
