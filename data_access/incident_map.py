"""The incident map's reads: the cells' and the street's points, the city-wide counts of one tick
(every map of every level takes its rows from them), cells fetched by id."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access.areas import valid_code
from data_access.models import Area, MapCounts
from data_access.sql import SQL_CHUNK, read_frame


def _scope_where(area: Area | None, alias: str) -> tuple[str, dict[str, object]]:
    if area is None or area.level == "city":
        return "1 = 1", {}
    column = "district_code" if area.level == "district" else "street_code"
    return f"{alias}.{column} = :scope_code", {"scope_code": area.area_code}


def open_cell_shapes(*, engine: Engine, area: Area | None) -> pd.DataFrame:
    """Geometry of the grid cells in ``area`` (None: the city) that hold open incidents now."""
    where, params = _scope_where(area, "c")
    return read_frame(
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
    frames = [read_frame(engine, statement, {"ids": ids[i:i + SQL_CHUNK]}) for i in range(0, len(ids), SQL_CHUNK)]
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


_POINT_COLUMNS = """o.incident_id, o.category, COALESCE(n.category_name, o.category) AS category_name,
       COALESCE(n.category_name_en, o.category) AS category_name_en, o.priority, o.status,
       o.reported_at, o.due_at, o.overdue, o.lat, o.lon, o.cell_id, o.street_code, o.district_code,
       o.title, o.address"""


_NAMES_JOIN = """LEFT JOIN (SELECT category, MIN(category_name) AS category_name,
                          MIN(category_name_en) AS category_name_en
                   FROM v_incident_categories GROUP BY category) n ON n.category = o.category"""


def open_incident_points(*, engine: Engine, street_code: str, limit: int = 5000) -> pd.DataFrame:
    """Every located open incident of one street (the street-level map's points)."""
    return read_frame(
        engine,
        f"SELECT {_POINT_COLUMNS} FROM v_open_incidents o {_NAMES_JOIN}"
        " WHERE o.street_code = :street_code AND o.lat IS NOT NULL AND o.lon IS NOT NULL"
        " ORDER BY o.priority DESC, o.reported_at, o.incident_id LIMIT :limit",
        {"street_code": street_code, "limit": int(limit)},
        times_in=("reported_at", "due_at"),
    )


def load_map_counts(*, engine: Engine) -> MapCounts:
    return MapCounts.of(*map_count_rows(engine=engine))
