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
import shapely
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.upsert import upsert
from importers.common import CODE_PATTERN, ImportFailure, StoredArea, read_polygons, stored_areas, text_value
from importers.geometry import Geom, geometry_text, hexagons, inner_point, polygonal, snapped

WHOLE_DISTRICT_SUFFIX = "00"


@dataclass
class GridSummary:
    cells: int
    streets: int
    created_streets: list[str] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # features outside every street (import-grid)

    def __str__(self) -> str:
        text = f"{self.cells} grid cells in {self.streets} streets"
        if self.created_streets:
            text += (f"; {len(self.created_streets)} district(s) had no streets: one street per district created"
                     f" ({', '.join(self.created_streets[:5])}{' …' if len(self.created_streets) > 5 else ''})")
        if self.skipped:
            shown = ", ".join(str(n) for n in self.skipped[:10]) + (" …" if len(self.skipped) > 10 else "")
            text += f"; {len(self.skipped)} feature(s) outside every street not imported: {shown}"
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
        lat, lon = inner_point(d.geometry)
        new_rows.append({"area_code": code, "level": "street", "parent_code": d.area_code, "name": d.name,
                         "name_en": d.name_en, "geojson": geometry_text(d.geometry), "center_lat": lat,
                         "center_lon": lon, "sort_order": 0, "approximate": False})
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
    _replace_grid(engine, new_streets, rows)
    return GridSummary(cells=len(rows), streets=len({r["street_code"] for r in rows}),
                       created_streets=[r["area_code"] for r in new_streets])


def import_grid(engine: Engine, *, path: Path, cell_property: str, street_property: str | None = None) -> GridSummary:
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
        else:
            hits = tree.query(shapely.point_on_surface(f.geometry), predicate="intersects")
            if len(hits) == 0:
                skipped.append(f.number)
                continue
            street_code = streets[int(min(hits))].area_code
        geom = snapped(f.geometry)
        lat, lon = inner_point(geom)
        rows.append({"cell_id": cell_id, "street_code": street_code, "geojson": geometry_text(geom),
                     "center_lat": lat, "center_lon": lon})
    if not rows:
        raise ImportFailure(f"{path}: no feature lies inside a street of the city")
    _replace_grid(engine, new_streets, rows)
    return GridSummary(cells=len(rows), streets=len({r["street_code"] for r in rows}),
                       created_streets=[r["area_code"] for r in new_streets], skipped=skipped)


def _replace_grid(engine: Engine, new_streets: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    # One transaction: the wall never sees half a grid. Incidents keep their cell ids as text (no
    # foreign key); re-run import-incidents to place them in the new cells.
    with engine.begin() as conn:
        upsert(conn, schema.areas, new_streets)
        conn.execute(schema.grid_cells.delete())
        upsert(conn, schema.grid_cells, rows)
