"""Geometry helpers of the own-city tools (importers/) and of the demo pack builder (feeder/build_pack.py):
polygon parts and repair, snapping to a grid, simplification for display, label points, an area's bulk
(what a map fits to) and its far-away fragments, coordinate ranges, H3 hexagons.

Shapes are shapely geometries in lon/lat degrees (WGS-84). Nothing here reads a file or a database.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

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


# --- bulk and fragments ------------------------------------------------------------------------------

BULK_SHARE = 0.99  # an area's bulk: its largest parts, together this share of its area
FRAGMENT_MIN_DISTANCE_M = 1_000.0  # a part outside the bulk this far from it (or farther than the bulk is wide)


def _largest_first(geom: BaseGeometry) -> list[Polygon]:
    return sorted((p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and p.area > 0),
                  key=lambda p: (-p.area, p.bounds))


def bulk(geom: BaseGeometry, share: float = BULK_SHARE) -> Geom:
    """The largest parts of a (Multi)Polygon whose areas add up to ``share`` of its area (at least one)."""
    parts = _largest_first(geom)
    if not parts:
        return geom
    total, kept, running = sum(p.area for p in parts), [], 0.0
    for part in parts:
        kept.append(part)
        running += part.area
        if running >= share * total:
            break
    return kept[0] if len(kept) == 1 else MultiPolygon(kept)


def bulk_bounds(geom: BaseGeometry, share: float = BULK_SHARE) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the area's bulk: the box a map fits to, so a sliver 100 km away
    does not make the city a small shape in one corner of the wall."""
    return tuple(float(v) for v in bulk(geom, share).bounds)


def _metres(geom: BaseGeometry, lat0: float) -> BaseGeometry:
    """Lon/lat degrees to metres on a plane touching latitude ``lat0`` (good to a few % over a city)."""
    kx = M_PER_DEG * math.cos(math.radians(lat0))
    return shapely.transform(geom, lambda xy: xy * np.array([kx, M_PER_DEG]))


@dataclass(frozen=True)
class Fragment:
    part: Polygon
    share: float  # of the whole area's area
    distance_m: float  # from the bulk


def fragments(geom: BaseGeometry, *, share: float = BULK_SHARE,
              min_distance_m: float = FRAGMENT_MIN_DISTANCE_M) -> list[Fragment]:
    """Parts outside the bulk lying far from it: farther than ``min_distance_m`` and than the bulk's
    own diagonal (an islet off the coast is not a fragment; a 0.3 m sliver 100 km away is)."""
    main = bulk(geom, share)
    rest = [p for p in _largest_first(geom) if not main.contains(p) and not p.within(main)]
    if not rest:
        return []
    lat0 = main.centroid.y
    main_m = _metres(main, lat0)
    west, south, east, north = main_m.bounds
    far = max(min_distance_m, math.hypot(east - west, north - south))
    total = sum(p.area for p in _largest_first(geom))
    out = []
    for part in rest:
        distance = float(shapely.distance(main_m, _metres(part, lat0)))
        if distance > far:
            out.append(Fragment(part, part.area / total, distance))
    return out


def without(geom: Geom, parts: Sequence[Polygon]) -> Geom:
    """``geom`` without the given parts (e.g. its fragments)."""
    drop = {p.wkb for p in parts}
    kept = [p for p in shapely.get_parts(geom) if p.wkb not in drop]
    return kept[0] if len(kept) == 1 else MultiPolygon(kept)


def out_of_range(geom: BaseGeometry) -> tuple[float, float] | None:
    """A (lon, lat) vertex outside [-180, 180] x [-90, 90] (longitude and latitude swapped?), else None."""
    xy = shapely.get_coordinates(geom)
    bad = (np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90)
    if not bad.any():
        return None
    x, y = xy[np.argmax(bad)]
    return float(x), float(y)


FAR_OUTSIDE_SHARE = 0.5  # a child with less than half its area in its parent (widened by the margin) is refused
FAR_OUTSIDE_MARGIN_M = 1_000.0


def share_inside(child: BaseGeometry, parent: BaseGeometry, *, margin_m: float = 0.0) -> float:
    """The share of ``child``'s area inside ``parent`` widened by ``margin_m`` metres."""
    if child.area <= 0:
        return 1.0
    lat0 = parent.centroid.y
    child_m, parent_m = _metres(child, lat0), _metres(parent, lat0)
    if margin_m:
        parent_m = parent_m.buffer(margin_m)
    return float(shapely.area(shapely.intersection(child_m, parent_m)) / child_m.area)


def distance_m(a: BaseGeometry, b: BaseGeometry) -> float:
    return float(shapely.distance(_metres(a, b.centroid.y), _metres(b, b.centroid.y)))


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
