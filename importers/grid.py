"""The management grid: ``citywall make-grid`` (H3 hexagons clipped to the streets) and
``citywall import-grid`` (the city's own grid from GeoJSON).

The views need every cell under a street whose parent is a district. A city imported without a
street level therefore gets one street per district (code ``<district>00``, the district's name and
boundary) the first time a grid is made or imported; import real streets later and run
make-grid again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.upsert import upsert
from importers.common import (
    CODE_PATTERN,
    ImportFailure,
    StoredArea,
    read_polygons,
    shape_columns,
    stored_areas,
    text_value,
)
from importers.geometry import (
    FAR_OUTSIDE_MARGIN_M,
    FAR_OUTSIDE_SHARE,
    Geom,
    distance_m,
    geometry_text,
    hexagons,
    inner_point,
    polygonal,
    share_inside,
    snapped,
)

WHOLE_DISTRICT_SUFFIX = "00"


def name_cells(cells: list[dict[str, Any]], streets: dict[str, tuple[str, str | None]]) -> None:
    """Give each cell without a name a readable one: its street's name and a number, numbered within
    the street in reading order (north to south, then west to east) — "Harlem 3", "张江镇 3".
    ``streets``: code -> (name, English name)."""
    by_street: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        by_street.setdefault(cell["street_code"], []).append(cell)
    for code, members in by_street.items():
        name, name_en = streets.get(code, (code, None))
        members.sort(key=lambda c: (-(c.get("center_lat") or 0.0), c.get("center_lon") or 0.0, c["cell_id"]))
        for n, cell in enumerate(members, start=1):
            if not cell.get("name"):
                cell["name"], cell["name_en"] = f"{name} {n}", f"{name_en or name} {n}"


@dataclass
class GridSummary:
    cells: int
    streets: int
    created_streets: list[str] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # features outside every street (import-grid)
    incidents_placed: int = 0  # incidents with a location, placed again on the new grid
    incidents_without_cell: int = 0  # of those, in no cell of their street

    def __str__(self) -> str:
        text = f"{self.cells} grid cells in {self.streets} streets"
        if self.created_streets:
            text += (f"; {len(self.created_streets)} district(s) had no streets: one street per district created"
                     f" ({', '.join(self.created_streets[:5])}{' …' if len(self.created_streets) > 5 else ''})")
        if self.skipped:
            shown = ", ".join(str(n) for n in self.skipped[:10]) + (" …" if len(self.skipped) > 10 else "")
            text += f"; {len(self.skipped)} feature(s) outside every street not imported: {shown}"
        if self.incidents_placed:
            text += (f"\n{self.incidents_placed:,} incidents placed on the new grid"
                     f" ({self.incidents_without_cell:,} of them in no cell of their street)")
        return text


def _streets_with_fallback(areas: list[StoredArea]) -> tuple[list[StoredArea], list[dict[str, Any]]]:
    """The streets cells can belong to, plus rows for one street per street-less district."""
    streets = [a for a in areas if a.level == "street" and a.geometry is not None]
    with_streets = {s.parent_code for s in streets}
    codes = {a.area_code for a in areas}
    new_rows: list[dict[str, Any]] = []
    for d in (a for a in areas if a.level == "district" and a.geometry is not None):
        if d.area_code in with_streets:
            continue
        code = f"{d.area_code}{WHOLE_DISTRICT_SUFFIX}"[:32]
        if code in codes or not CODE_PATTERN.match(code):
            raise ImportFailure(f"grid: district {d.area_code} has no streets and its whole-district street code"
                                f" {code!r} is taken; import its streets first")
        new_rows.append({"area_code": code, "level": "street", "parent_code": d.area_code, "name": d.name,
                         "name_en": d.name_en, "sort_order": 0, **shape_columns(d.geometry, source="district")})
        streets.append(StoredArea(code, "street", d.area_code, d.name, d.name_en, d.geometry))
    if not streets:
        raise ImportFailure("grid: the database has no districts or streets with boundaries: run import-areas first")
    return streets, new_rows


def make_grid(engine: Engine, *, resolution: int) -> GridSummary:
    """Replace the grid with H3 cells at ``resolution`` clipped to the streets: a hexagon split by a
    street border becomes one cell per street (``<h3>``, then ``<h3>.1``, ``<h3>.2`` by size)."""
    if not 0 <= resolution <= 15:
        raise ImportFailure(f"make-grid: --resolution {resolution}: H3 resolutions are 0..15")
    streets, new_streets = _streets_with_fallback(stored_areas(engine))
    pieces: dict[str, list[tuple[float, str, Geom]]] = {}
    for street in streets:
        shapely.prepare(street.geometry)
        ids, polys = hexagons(street.geometry, resolution)
        inside = shapely.contains_properly(street.geometry, polys)
        clipped = polys.copy()  # only border hexagons need the (costly) intersection
        clipped[~inside] = shapely.intersection(polys[~inside], street.geometry)
        for cell, geom in zip(ids, clipped, strict=True):
            part = polygonal(geom)
            if part is not None:
                pieces.setdefault(cell, []).append((part.area, street.area_code, part))
    if len(pieces) > 200_000:
        raise ImportFailure(f"make-grid: --resolution {resolution} gives {len(pieces):,} cells; choose a coarser one")
    rows = []
    for cell in sorted(pieces):
        for n, (_, street_code, geom) in enumerate(sorted(pieces[cell], key=lambda p: (-p[0], p[1]))):
            geom = snapped(geom)
            lat, lon = inner_point(geom)
            rows.append({"cell_id": cell if n == 0 else f"{cell}.{n}", "street_code": street_code,
                         "geojson": geometry_text(geom), "center_lat": lat, "center_lon": lon})
    summary = GridSummary(cells=len(rows), streets=len({r["street_code"] for r in rows}),
                          created_streets=[r["area_code"] for r in new_streets])
    name_cells(rows, {s.area_code: (s.name, s.name_en) for s in streets})
    _replace_grid(engine, new_streets, rows, streets, summary)
    return summary


def import_grid(engine: Engine, *, path: Path, cell_property: str, street_property: str | None = None,
                name_property: str | None = None, name_en_property: str | None = None) -> GridSummary:
    """Replace the grid with the cells of a GeoJSON file; each cell's street from a property or, by
    default, the street holding the cell's inner point (cells outside every street are reported)."""
    path = Path(path)
    features = read_polygons(path)
    streets, new_streets = _streets_with_fallback(stored_areas(engine))
    by_code = {s.area_code: s for s in streets}
    tree = shapely.STRtree(np.asarray([s.geometry for s in streets], dtype=object))
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    skipped: list[int] = []
    for f in features:
        place = f"{path}: feature {f.number}"
        cell_id = text_value(f.properties.get(cell_property))
        if cell_id is None or not CODE_PATTERN.match(cell_id):
            raise ImportFailure(f"{place}: property {cell_property!r} {cell_id!r}: expected 1-32 letters, digits,"
                                " '_', '.' or '-'")
        if cell_id in seen:
            raise ImportFailure(f"{path}: features {seen[cell_id]} and {f.number}: both have the cell id {cell_id!r}")
        seen[cell_id] = f.number
        if street_property:
            street_code = text_value(f.properties.get(street_property))
            if street_code not in by_code:
                raise ImportFailure(f"{place}: {street_property}={street_code!r} is not a street in the database")
            street = by_code[street_code].geometry
            if share_inside(f.geometry, street, margin_m=FAR_OUTSIDE_MARGIN_M) < FAR_OUTSIDE_SHARE:
                raise ImportFailure(f"{place}: cell {cell_id!r} lies outside its street {street_code!r}, "
                                    f"{distance_m(f.geometry, street) / 1000:,.1f} km from it: are longitude and"
                                    " latitude swapped, or is it the wrong street?")
        else:
            hits = tree.query(shapely.point_on_surface(f.geometry), predicate="intersects")
            if len(hits) == 0:
                skipped.append(f.number)
                continue
            street_code = streets[int(min(hits))].area_code
        geom = snapped(f.geometry)
        lat, lon = inner_point(geom)
        rows.append({"cell_id": cell_id, "street_code": street_code, "geojson": geometry_text(geom),
                     "center_lat": lat, "center_lon": lon,
                     "name": text_value(f.properties.get(name_property)) if name_property else None,
                     "name_en": text_value(f.properties.get(name_en_property)) if name_en_property else None})
    if not rows:
        raise ImportFailure(f"{path}: no feature lies inside a street of the city")
    summary = GridSummary(cells=len(rows), streets=len({r["street_code"] for r in rows}),
                          created_streets=[r["area_code"] for r in new_streets], skipped=skipped)
    name_cells(rows, {s.area_code: (s.name, s.name_en) for s in streets})
    _replace_grid(engine, new_streets, rows, streets, summary)
    return summary


def _replace_grid(engine: Engine, new_streets: list[dict[str, Any]], rows: list[dict[str, Any]],
                  streets: list[StoredArea], summary: GridSummary) -> None:
    """One transaction: the new grid, and every located incident placed in it (the wall never sees
    half a grid, nor incidents pointing at cells that are gone)."""
    with engine.begin() as conn:
        upsert(conn, schema.areas, new_streets)
        conn.execute(schema.grid_cells.delete())
        upsert(conn, schema.grid_cells, rows)
        summary.incidents_placed, summary.incidents_without_cell = _place_incidents(conn, rows, streets)


def _place_incidents(conn: sa.Connection, rows: list[dict[str, Any]], streets: list[StoredArea]) -> tuple[int, int]:
    """Give every incident the new cell holding its point: the first in cell-id order among the cells
    of its street (of its district when it has no street yet: it then gets that cell's street too).
    Incidents without a location hold no cell. Returns (incidents located, of them in no cell)."""
    i = schema.incidents.c
    found = conn.execute(sa.select(i.incident_id, i.lat, i.lon, i.cell_id, i.street_code, i.district_code)
                         .where(sa.or_(i.lat.is_not(None), i.cell_id.is_not(None)))).all()
    if not found:
        return 0, 0
    frame = pd.DataFrame(found, columns=["incident_id", "lat", "lon", "cell_id", "street_code", "district_code"])
    cells = sorted(rows, key=lambda c: c["cell_id"])
    cell_ids = np.asarray([c["cell_id"] for c in cells], dtype=object)
    cell_street = np.asarray([c["street_code"] for c in cells], dtype=object)
    district_of = {s.area_code: s.parent_code for s in streets}
    cell_district = np.asarray([district_of.get(code) for code in cell_street], dtype=object)
    new_cell = np.full(len(frame), None, dtype=object)
    new_street = frame["street_code"].to_numpy(dtype=object).copy()
    located = frame["lat"].notna().to_numpy() & frame["lon"].notna().to_numpy()
    if cells and located.any():
        tree = shapely.STRtree(np.asarray([shapely.from_geojson(c["geojson"]) for c in cells], dtype=object))
        idx = np.flatnonzero(located)
        hit, cell = tree.query(shapely.points(frame["lon"].to_numpy()[idx], frame["lat"].to_numpy()[idx]),
                               predicate="intersects")
        order = np.lexsort((cell, hit))  # by incident, then cell-id order
        hit, cell = hit[order], cell[order]
        mine_street = frame["street_code"].to_numpy(dtype=object)[idx[hit]]
        mine_district = frame["district_code"].to_numpy(dtype=object)[idx[hit]]
        fits = (mine_street == cell_street[cell]) | (
            pd.isna(mine_street) & (pd.isna(mine_district) | (mine_district == cell_district[cell])))
        hit, cell = hit[fits], cell[fits]
        first = np.unique(hit, return_index=True)[1]
        hit, cell = hit[first], cell[first]
        new_cell[idx[hit]], new_street[idx[hit]] = cell_ids[cell], cell_street[cell]
    changed = (pd.Series(new_cell, dtype=object).fillna("") != frame["cell_id"].fillna("")).to_numpy() | \
              (pd.Series(new_street, dtype=object).fillna("") != frame["street_code"].fillna("")).to_numpy()
    if changed.any():
        update = (schema.incidents.update().where(i.incident_id == sa.bindparam("b_id"))
                  .values(cell_id=sa.bindparam("b_cell"), street_code=sa.bindparam("b_street")))
        ids = frame["incident_id"].to_numpy(dtype=object)
        conn.execute(update, [{"b_id": ids[k], "b_cell": new_cell[k], "b_street": new_street[k]}
                              for k in np.flatnonzero(changed)])
    return int(located.sum()), int(pd.isna(new_cell[located]).sum())
