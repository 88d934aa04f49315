"""Geometry helpers of the own-city tools (importers/) and of the demo pack builder (feeder/build_pack.py):
polygon parts and repair, snapping to a grid, simplification for display, label points, H3 hexagons.

Shapes are shapely geometries in lon/lat degrees (WGS-84). Nothing here reads a file or a database.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence

import h3
import numpy as np
import shapely
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

Geom = Polygon | MultiPolygon
M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude on the equator)
GRID_DEG = 1e-6  # the importers' storage grid: ~0.1 m, enough for a wall, a third less text than full floats


# --- parts and repair --------------------------------------------------------------------------------

def _polygons(geom: BaseGeometry, repair: bool) -> Iterator[Polygon]:
    for part in shapely.get_parts(shapely.make_valid(geom) if repair else geom):
        if isinstance(part, Polygon):
            yield part
        elif isinstance(part, MultiPolygon | GeometryCollection):
            yield from _polygons(part, repair)


def polygonal(geom: BaseGeometry, *, min_area: float = 0.0, repair: bool = False,
              ordered: bool = False) -> Geom | None:
    """The polygon parts of a geometry (make_valid can return collections with lines), or None.

    ``repair``: make_valid first. ``min_area`` (square degrees): parts smaller than this are
    slivers and go, holes smaller than this are filled. ``ordered``: largest part first (ties by
    bounds), so the output's bytes do not depend on how the parts came out of an operation.
    """
    parts = []
    for part in _polygons(geom, repair):
        if part.is_empty or part.area <= 0 or part.area < min_area:
            continue
        if min_area > 0:
            holes = [h for h in part.interiors if Polygon(h).area >= min_area]
            part = Polygon(part.exterior, holes)
        parts.append(part)
    if ordered:
        parts.sort(key=lambda p: (-p.area, p.bounds))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


# --- on a grid ---------------------------------------------------------------------------------------

def snapped(geom: BaseGeometry, grid: float = GRID_DEG) -> Geom:
    """Snap to ``grid`` with shapely's precision model (valid output; a vanishing sliver keeps its
    unsnapped form)."""
    result = polygonal(shapely.set_precision(geom, grid))
    return result if result is not None else geom


def rounded(geom: BaseGeometry, decimals: int, *, min_area: float = 0.0) -> Geom | None:
    """Round every vertex to ``decimals``, then repair (parts ordered, slivers under ``min_area``
    dropped). Rounding is per vertex, so an edge two neighbours share stays identical in both."""
    return polygonal(shapely.transform(geom, lambda xy: np.round(xy, decimals)), min_area=min_area, repair=True,
                     ordered=True)


def inner_point(geom: BaseGeometry, *, decimals: int = 6, largest_part: bool = True,
                fallback: BaseGeometry | None = None) -> tuple[float, float]:
    """(lat, lon) on the ``decimals`` grid inside the shape: a label anchor (a centroid can fall in the sea).

    ``largest_part``: on the largest part (a borough's label belongs on its mainland, not an islet).
    The point on the surface, rounded; where rounding takes it out of a thin shape, a neighbouring
    grid point, or one of the shape shrunk by a few grid steps. A shape too thin for any grid point
    gets ``fallback``'s point (e.g. the area enclosing a sub-metre sliver), or its own rounded one.
    """
    target = geom
    if largest_part:
        parts = shapely.get_parts(geom)
        target = max(parts, key=lambda p: p.area) if len(parts) else geom
    grid = 10.0**-decimals
    shapely.prepare(target)
    first = shapely.point_on_surface(target)
    shrunk = (shapely.point_on_surface(target.buffer(-k * grid)) for k in (1, 2, 4, 8))
    for point in itertools.chain([first], shrunk):
        if point.is_empty:
            continue
        x0, y0 = round(point.x, decimals), round(point.y, decimals)
        for dx, dy in itertools.product((0, -1, 1), repeat=2):
            x, y = round(x0 + dx * grid, decimals), round(y0 + dy * grid, decimals)
            if shapely.contains_xy(target, x, y):
                return y, x
    if fallback is not None:
        return inner_point(fallback, decimals=decimals, largest_part=largest_part)
    return round(first.y, decimals), round(first.x, decimals)


def geometry_text(geom: BaseGeometry) -> str:
    return shapely.to_geojson(geom)


# --- for display -------------------------------------------------------------------------------------

def simplify_coverage(geoms: Sequence[BaseGeometry], tolerance: float, *,
                      fallback_tolerance: float | None = None) -> list[BaseGeometry]:
    """Simplify for display (``tolerance`` in degrees): when the shapes are a clean coverage,
    coverage_simplify keeps the borders neighbours share identical; otherwise each shape on its own
    (topology-preserving Douglas-Peucker, at ``fallback_tolerance`` when given)."""
    array = np.asarray(geoms, dtype=object)
    if shapely.coverage_is_valid(array):
        return list(shapely.coverage_simplify(array, tolerance))
    return list(shapely.simplify(array, fallback_tolerance or tolerance, preserve_topology=True))


def coverage_simplified(geoms: Sequence[Geom], metres: float) -> list[Geom]:
    """``simplify_coverage`` at a tolerance in metres, snapped to the storage grid (0: unchanged)."""
    if metres <= 0:
        return list(geoms)
    return [snapped(g) for g in simplify_coverage(geoms, metres / M_PER_DEG)]


# --- H3 ------------------------------------------------------------------------------------------------

def hexagons(region: BaseGeometry, resolution: int) -> tuple[list[str], np.ndarray]:
    """The H3 cells whose hexagon touches ``region``: their ids (sorted) and hexagons in lon/lat.

    The cells are taken from the region's box padded by 1.5 hexagon edges (a border hexagon's
    centre may lie outside the region), in degrees of longitude at the box's widest latitude.
    """
    minx, miny, maxx, maxy = region.bounds
    widest = math.cos(math.radians(min(89.0, max(abs(miny), abs(maxy)))))
    pad = 1.5 * h3.average_hexagon_edge_length(resolution, unit="m") / (M_PER_DEG * widest)
    ids = sorted(h3.geo_to_cells(region.envelope.buffer(pad, join_style="mitre"), resolution))
    polys = np.array([Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(i)]) for i in ids], dtype=object)
    keep = shapely.intersects(polys, region)
    return [i for i, k in zip(ids, keep, strict=True) if k], polys[keep]
