"""The city as the simulator sees it: its areas and grid cells, read from the base tables.

The simulator places incidents in grid cells (more in the dense core, fewer in the suburbs) and
splits city totals over the districts; both come from what the database holds, not from the pack,
so a city loaded any other way is simulated the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import schema
from feeder.episodes import storm_area


@dataclass
class City:
    city_code: str
    district_codes: list[str]
    area_names: dict[str, str]  # area code -> name (every level)
    street_counts: dict[str, int]  # district code -> its number of streets
    cells: pd.DataFrame  # cell_id, street_code, district_code, geojson, center_lat, center_lon (cell_id order)
    cell_geoms: np.ndarray  # shapely polygons (None: a cell without geometry)
    cell_half_w: np.ndarray  # half the width / height of each cell's box, degrees
    cell_half_h: np.ndarray
    cell_weights: np.ndarray  # each cell's share of the city's incidents (sums to 1)
    cell_records: list[dict[str, Any]]  # the cells as plain dicts (pandas row access is slow per incident)

    @property
    def storm_district(self) -> str:
        return storm_area(self.district_codes, self.city_code)


def load_city(conn: Connection) -> City:
    """Read the areas and grid cells; RuntimeError when the database holds no city yet."""
    a = schema.areas
    areas = pd.DataFrame(conn.execute(sa.select(
        a.c.area_code, a.c.level, a.c.parent_code, a.c.name, a.c.center_lat, a.c.center_lon, a.c.sort_order,
    ).order_by(a.c.sort_order, a.c.area_code)).mappings().all())
    if areas.empty or not (areas["level"] == "city").any():
        raise RuntimeError("no city area in the database: load a city pack first")
    city = areas[areas["level"] == "city"].iloc[0]
    districts = areas[areas["level"] == "district"].reset_index(drop=True)
    streets = areas[areas["level"] == "street"]
    cells = _read_cells(conn)
    geoms = np.array([shapely.from_geojson(g) if g else None for g in cells["geojson"]], dtype=object) \
        if len(cells) else np.empty(0, dtype=object)
    bounds = np.array([g.bounds if g is not None else (np.nan,) * 4 for g in geoms]).reshape(-1, 4)
    return City(
        city_code=str(city["area_code"]),
        district_codes=[str(c) for c in districts["area_code"]],
        area_names=dict(zip(areas["area_code"], areas["name"], strict=True)),
        street_counts=streets.groupby("parent_code").size().to_dict(),
        cells=cells,
        cell_geoms=geoms,
        cell_half_w=np.nan_to_num((bounds[:, 2] - bounds[:, 0]) / 2, nan=0.002),
        cell_half_h=np.nan_to_num((bounds[:, 3] - bounds[:, 1]) / 2, nan=0.002),
        cell_weights=_cell_weights(cells, geoms, streets) if len(cells) else np.empty(0),
        cell_records=cells.drop(columns=["geojson"]).to_dict("records"),
    )


def _read_cells(conn: Connection) -> pd.DataFrame:
    g, a = schema.grid_cells, schema.areas
    cells = pd.DataFrame(conn.execute(sa.select(
        g.c.cell_id, g.c.street_code, a.c.parent_code, g.c.geojson, g.c.center_lat, g.c.center_lon,
    ).join(a, a.c.area_code == g.c.street_code).order_by(g.c.cell_id)).mappings().all())
    return cells.rename(columns={"parent_code": "district_code"})


def _cell_weights(cells: pd.DataFrame, geoms: np.ndarray, streets: pd.DataFrame) -> np.ndarray:
    """Central districts get more incidents per cell; the outskirts still get some.

    The core is the district with the smallest area per street (old, dense districts), not the
    city's centroid, which may well sit in the suburbs.
    """
    area = pd.Series([g.area if g is not None else 0.0 for g in geoms])
    per_street = (area.groupby(cells["district_code"]).sum() / streets.groupby("parent_code").size()).dropna()
    per_street = per_street[per_street > 0]
    core = cells if per_street.empty else cells[cells["district_code"] == per_street.idxmin()]
    lat0, lon0 = float(core["center_lat"].mean()), float(core["center_lon"].mean())
    dy = (cells["center_lat"].to_numpy(float) - lat0) * 111.0
    dx = (cells["center_lon"].to_numpy(float) - lon0) * 111.0 * math.cos(math.radians(lat0))
    weights = 0.15 + np.exp(-np.hypot(dx, dy) / 10.0)
    return weights / weights.sum()
