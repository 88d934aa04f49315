"""The incident map (dash-leaflet): areas and grid cells coloured by open incidents, points at street level.

Geometry travels once, in the layout. Every tick sends only counts, through the GeoJSON layers'
``hideout`` (assets/map.js styles, filters and labels the features from it); a grid cell that
gets its first open incident after the page loaded is fetched once and appended with a Patch.

Reusable: every id is pattern-matching ``{"type": ..., "id": key}``, and every callback here
uses MATCH, so the map can sit on several pages (and twice on one page) with different keys.
A page that embeds it either uses the map's own tick (``tick_id(key)``, one ``dcc.Interval``
per map) or passes ``with_tick=False`` and feeds ``map_update`` from its own callback.
"""
from __future__ import annotations

import hashlib
import json
import math
import pickle
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import dash_leaflet as dl
import pandas as pd
from dash import Patch, dcc, html, no_update

from components import ids
from components.formatting import DURATION_LIMITS, local_stamp
from components.i18n import LevelWords, level_label, t
from components.links import area_href
from components.static_html import static_panel
from data_access.models import EMPTY_FC, Area, MapDelta, MapGeometry, MapUpdate, child_level

COORD_DIGITS = 4  # ~10 m: plenty for a wall, and it halves the geometry's bytes
AREA_CLASSES = 4  # colour classes of areas with incidents (plus one for none)
CELL_BREAKS = (1, 3, 9)  # open incidents per cell: 1 | 2-3 | 4-9 | 10+
LEGEND_PX = 240  # the legend sits top left: the fitted area keeps clear of it
SHORT_LABEL_SHARE = 0.03  # areas whose box is below this share of the map's get a short label

# --- pure builders -----------------------------------------------------------------------------

def _geometry(text: object, digits: int = COORD_DIGITS) -> dict[str, Any] | None:
    if not isinstance(text, str) or not text:
        return None
    try:  # rounded while parsed (one pass in the C parser instead of a walk over every ring)
        geometry = json.loads(text, parse_float=lambda number: round(float(number), digits))
    except ValueError:
        return None
    if not isinstance(geometry, dict) or "coordinates" not in geometry:
        return None
    return {"type": geometry.get("type"), "coordinates": geometry["coordinates"]}


def _walk_points(coords: Any) -> Iterable[tuple[float, float]]:
    if isinstance(coords, list) and len(coords) >= 2 and all(isinstance(c, int | float) for c in coords[:2]):
        yield float(coords[0]), float(coords[1])
    elif isinstance(coords, list):
        for item in coords:
            yield from _walk_points(item)


def _box(geometry: dict[str, Any] | None) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of one GeoJSON geometry, or None without coordinates. Polygons
    (nearly every boundary) are flattened by comprehension: a drill-down's prefetch reads a
    district's shapes in the tick warmer, and the generic walk was a third of that."""
    coords = (geometry or {}).get("coordinates")
    kind = (geometry or {}).get("type")
    try:
        if kind == "Polygon":
            points = [p for ring in coords for p in ring]
        elif kind == "MultiPolygon":
            points = [p for polygon in coords for ring in polygon for p in ring]
        else:
            points = list(_walk_points(coords))
        lons = [float(p[0]) for p in points]
        lats = [float(p[1]) for p in points]
    except (TypeError, IndexError, ValueError):  # a malformed geometry from another city's data
        points = list(_walk_points(coords))
        lons = [p[0] for p in points]
        lats = [p[1] for p in points]
    if not lons:
        return None
    return min(lons), min(lats), max(lons), max(lats)


def _merge(boxes: Iterable[tuple[float, float, float, float] | None]) -> list[list[float]] | None:
    found = [b for b in boxes if b is not None]
    if not found:
        return None
    return [[min(b[1] for b in found), min(b[0] for b in found)], [max(b[3] for b in found), max(b[2] for b in found)]]


def bounds_of(collection: dict[str, Any]) -> list[list[float]] | None:
    """[[south, west], [north, east]] of a FeatureCollection, or None when it has no coordinates."""
    return _merge(_box(f.get("geometry")) for f in collection.get("features", []))


def areas_collection(shapes: pd.DataFrame, *, lang: str, link_level: str | None,
                     lang_param: str | None) -> dict[str, Any]:
    """Area polygons with code, display name and drill-down link (None: not clickable)."""
    features = []
    for row in shapes.itertuples(index=False):
        geometry = _geometry(row.geojson)
        if geometry is None:
            continue
        name = (row.name_en or row.name) if lang == "en" else row.name
        properties = {"code": row.area_code, "name": name,
                      "href": area_href(link_level, row.area_code, lang_param) if link_level else None}
        lat, lon = getattr(row, "center_lat", None), getattr(row, "center_lon", None)
        if lat is not None and lon is not None and not (pd.isna(lat) or pd.isna(lon)):
            # v_areas' point inside the area: the label's anchor (Leaflet's own centre of a
            # MultiPolygon is its first part's, which may be a small island next to another area)
            properties["at"] = [round(float(lat), 5), round(float(lon), 5)]
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    # Small areas get a short permanent label (their counts only) so labels do not pile up.
    boxes = [_box(f["geometry"]) for f in features]
    sizes = [(b[2] - b[0]) * (b[3] - b[1]) if b else 0.0 for b in boxes]
    total = _merge(boxes)
    whole = (total[1][0] - total[0][0]) * (total[1][1] - total[0][1]) if total else 0.0
    for feature, size in zip(features, sizes, strict=True):
        feature["properties"]["short"] = bool(whole and len(features) > 6 and size < SHORT_LABEL_SHARE * whole)
    return {"type": "FeatureCollection", "features": features}


def cells_collection(shapes: pd.DataFrame, *, link_level: str | None, lang_param: str | None) -> dict[str, Any]:
    """Grid-cell polygons; clicking one drills into the area it belongs to one level down."""
    features = []
    for row in shapes.itertuples(index=False):
        geometry = _geometry(row.geojson)
        if geometry is None:
            continue
        target = None
        if link_level == "district":
            target = area_href("district", row.district_code, lang_param)
        elif link_level == "street":
            target = area_href("street", row.street_code, lang_param)
        features.append({"type": "Feature", "geometry": geometry,
                         "properties": {"code": row.cell_id, "href": target}})
    return {"type": "FeatureCollection", "features": features}


def _epoch_ms(value: object) -> int | None:
    if value is None or pd.isna(value):
        return None
    return int(pd.Timestamp(value).tz_localize("UTC").timestamp() * 1000)


def points_collection(points: pd.DataFrame, *, lang: str, tz: ZoneInfo) -> dict[str, Any]:
    """Open incidents as GeoJSON points with everything their popup shows (labels already localised)."""
    features = []
    for row in points.itertuples(index=False):
        if row.lat is None or row.lon is None or pd.isna(row.lat) or pd.isna(row.lon):
            continue
        features.append({"type": "Feature",
                         "geometry": {"type": "Point", "coordinates": [round(float(row.lon), 5),
                                                                       round(float(row.lat), 5)]},
                         "properties": {
                             "iid": row.incident_id, "p": int(row.priority), "od": int(row.overdue),
                             "cat": row.category_name_en if lang == "en" else row.category_name,
                             "title": row.title or "", "addr": row.address or "",
                             "st": t(f"ist_{row.status}", lang), "rep": _epoch_ms(row.reported_at),
                             "due": local_stamp(row.due_at, tz),
                         }})
    return {"type": "FeatureCollection", "features": features}


def area_breaks(opens: Iterable[int], classes: int = AREA_CLASSES) -> list[int]:
    """Upper bounds of the colour classes of areas with open incidents (quantiles of the siblings)."""
    values = sorted(int(v) for v in opens if v and v > 0)
    if not values:
        return []
    breaks: list[int] = []
    for i in range(1, classes):
        q = values[min(len(values) - 1, max(0, math.ceil(i / classes * len(values)) - 1))]
        if not breaks or q > breaks[-1]:
            breaks.append(q)
    if breaks and breaks[-1] >= values[-1]:
        breaks.pop()
    return breaks


def map_labels(lang: str) -> dict[str, Any]:
    """The labels assets/map.js writes (tooltips, popups), and the duration rule's limits."""
    keys = ("open", "overdue", "map_cell", "map_urgent", "map_overdue_flag", "map_age", "map_deadline",
            "map_no_deadline", "list_address", "list_category", "list_status", "dur_min", "dur_h", "dur_d")
    return {**{key: t(key, lang) for key in keys}, "dur_limits": list(DURATION_LIMITS)}


def _digest(value: object) -> str:
    """A short, process-independent hash of plain data (pickle of str/int tuples is deterministic)."""
    return hashlib.blake2b(pickle.dumps(value, protocol=5), digest_size=8).hexdigest()


def build_geometry(*, area: Area, shapes: pd.DataFrame, own: pd.DataFrame, cells: pd.DataFrame, lang: str,
                   lang_param: str | None) -> MapGeometry:
    """The shapes a map of ``area`` draws (sent once per page load): ``shapes`` its children's (a
    street: its own), ``own`` its own boundary (the fitted bounds), ``cells`` its cells with open incidents."""
    child = child_level(area)
    areas = areas_collection(shapes, lang=lang, link_level=child, lang_param=lang_param)
    cell_fc = cells_collection(cells, link_level=child, lang_param=lang_param)
    own_fc = areas_collection(own, lang=lang, link_level=None, lang_param=None)
    return MapGeometry(areas=areas, cells=cell_fc, bounds=bounds_of(own_fc) or bounds_of(areas))


def build_update(*, area: Area, area_rows: list[tuple[str, int, int]], cell_rows: list[tuple[str, int, int, int]],
                 points: pd.DataFrame | None, lang: str, tz: ZoneInfo) -> MapUpdate:
    """One tick's update of a map of ``area`` from its rows of the city-wide counts (and, at street
    level, its open incidents as points)."""
    child = child_level(area)
    counts_by_code = {code: [n_open, n_overdue] for code, n_open, n_overdue in area_rows}
    breaks = area_breaks(v[0] for v in counts_by_code.values()) if child else []
    cell_counts = {cell: [n_open, n_overdue, prio] for cell, n_open, n_overdue, prio in cell_rows}
    point_fc = None
    points_signature = ""
    if area.level == "street" and points is not None:
        point_fc = points_collection(points, lang=lang, tz=tz)
        points_signature = _digest(json.dumps(point_fc, sort_keys=True, default=str))
    labels = map_labels(lang)
    areas_hideout = {"counts": counts_by_code, "breaks": breaks, "labels": labels, "permanent": area.level != "street",
                     "self": area.level == "street"}
    cells_hideout = {"counts": cell_counts, "breaks": list(CELL_BREAKS), "labels": labels,
                     "fill": 0.55 if area.level == "city" else 0.8, "hotWeight": 1.2 if area.level == "city" else 2.2}
    return MapUpdate(areas_hideout=areas_hideout, cells_hideout=cells_hideout, points=point_fc, breaks=breaks,
                     signature=_digest((area_rows, cell_rows, points_signature)),
                     totals={"cells": len(cell_counts), "open": sum(v[0] for v in cell_counts.values())},
                     points_signature=points_signature)


def cells_for(shapes: pd.DataFrame, *, area: Area, lang_param: str | None) -> dict[str, Any]:
    """The cells of ``shapes`` that lie in ``area`` (a map's late cells: ``append_cells``)."""
    if area.level != "city":
        column = "district_code" if area.level == "district" else "street_code"
        shapes = shapes[shapes[column] == area.area_code]
    return cells_collection(shapes, link_level=child_level(area), lang_param=lang_param)


def delta_patches(delta: MapDelta) -> tuple[Any, Any, Any]:
    """The delta as Dash Patches of the areas' hideout, the cells' hideout and the points' data
    (no_update for a part that did not change)."""
    out: list[Any] = []
    for changed, dropped, breaks in ((delta.areas_set, delta.areas_del, delta.breaks),
                                     (delta.cells_set, delta.cells_del, None)):
        if not changed and not dropped and breaks is None:
            out.append(no_update)
            continue
        patch = Patch()
        for code, value in changed.items():
            patch["counts"][code] = value
        for code in dropped:
            del patch["counts"][code]
        if breaks is not None:
            patch["breaks"] = breaks
        out.append(patch)
    if delta.points_remove or delta.points_add:
        points = Patch()
        for feature in delta.points_remove:
            points["features"].remove(feature)
        if delta.points_add:
            points["features"].extend(delta.points_add)
        out.append(points)
    else:
        out.append(no_update)
    return out[0], out[1], out[2]


def create_legend(*, level: str, breaks: list[int], lang: str, words: LevelWords | None = None) -> list[html.Div]:
    """Swatches that say what the colours mean (the classes follow the siblings' counts); ``words``:
    what the city calls its levels."""
    def swatch(css: str, text: str, row: str = "") -> html.Div:
        return html.Div(className=f"cw-legend__row {row}".strip(), children=[
            html.Span(className=f"cw-swatch {css}"), html.Span(text)])

    rows: list[html.Div] = []
    if level in ("city", "district"):
        child = "district" if level == "city" else "street"
        rows.append(html.Div(level_label("legend", child, lang, words), className="cw-legend__title"))
        bounds = [0, *breaks]
        rows.append(swatch("cw-area-0", "0"))
        for i, upper in enumerate([*breaks, None]):
            low = bounds[i] + 1
            text = f"≥ {low}" if upper is None else (f"{low}" if upper == low else f"{low}–{upper}")
            rows.append(swatch(f"cw-area-{i + 1 + max(0, AREA_CLASSES - 1 - len(breaks))}", text))
    else:
        rows.append(html.Div(t("map_legend_points", lang), className="cw-legend__title"))
        for p in (3, 2, 1):
            rows.append(swatch(f"cw-dot cw-prio-{p}", t(f"prio_{p}", lang)))
    rows.append(html.Div(t("map_legend_cells", lang), className="cw-legend__title"))
    for i, text in enumerate(("1", "2–3", "4–9", "≥ 10")):
        rows.append(swatch(f"cw-cell-{i + 1}", text))
    rows.append(swatch("cw-cell-2 cw-swatch--outline", t("map_legend_outline", lang), "cw-legend__row--wide"))
    if level in ("city", "district"):
        rows.append(html.Div(level_label("click", "district" if level == "city" else "street", lang, words),
                             className="cw-legend__hint"))
    return rows


def _fn(name: str) -> dict[str, str]:
    return {"variable": f"citywallMap.{name}"}


def create_incident_map(*, key: str, area: Area, geometry: MapGeometry, update: MapUpdate, lang: str,
                        lang_param: str | None, refresh_s: float, tile_url: str = "",
                        tile_attribution: str = "", with_tick: bool = True, class_name: str = "",
                        words: LevelWords | None = None, extra_layers: list[Any] | None = None,
                        at: str | None = None, push: dict[str, Any] | None = None) -> html.Div:
    """The map of ``area``: its children (or itself at street level), grid cells, and points at street
    level; ``extra_layers`` on top of the points (the street page's field resources); ``at`` (a replay,
    issue 15): the moment its scope store carries, which its refresh reads the map as of; ``push``
    (pages/_push_map.py): where its counts are pushed from, carried by its scope store to
    assets/map_push.js (the map then polls only when push does not bring them)."""
    labels = map_labels(lang)
    layers: list[Any] = []
    if tile_url:
        layers.append(dl.TileLayer(url=tile_url, attribution=tile_attribution or None))
    layers += [
        dl.GeoJSON(id=ids.mid(ids.MAP_AREAS, key), data=geometry.areas, hideout=update.areas_hideout,
                   style=_fn("styleArea"), onEachFeature=_fn("areaEach"), hoverStyle=_fn("hoverArea"),
                   zoomToBoundsOnClick=False),
        dl.GeoJSON(id=ids.mid(ids.MAP_CELLS, key), data=geometry.cells, hideout=update.cells_hideout,
                   style=_fn("styleCell"), filter=_fn("cellFilter"), onEachFeature=_fn("cellEach"),
                   hoverStyle=_fn("hoverArea"), zoomToBoundsOnClick=False),
        dl.GeoJSON(id=ids.mid(ids.MAP_POINTS, key), data=update.points or EMPTY_FC, hideout={"labels": labels},
                   cluster=True, superClusterOptions={"radius": 48, "maxZoom": 17},
                   pointToLayer=_fn("pointToLayer"), clusterToLayer=_fn("clusterToLayer"),
                   onEachFeature=_fn("pointEach"), zoomToBoundsOnClick=True),
        *(extra_layers or []),
        dl.GeoJSON(id=ids.mid(ids.MAP_HIGHLIGHT, key), data=EMPTY_FC, pointToLayer=_fn("highlightToLayer"),
                   interactive=False),
    ]
    bounds = geometry.bounds or [[30.7, 120.9], [31.9, 122.0]]
    children: list[Any] = [
        dl.Map(id=ids.mid(ids.MAP, key), bounds=bounds, children=layers,
               boundsOptions={"paddingTopLeft": [12 if "cw-map--wall" in class_name else LEGEND_PX, 12],
                              "paddingBottomRight": [12, 12]},
               trackViewport=False,
               zoomSnap=0.25, zoomDelta=0.5, minZoom=6, maxZoom=19, attributionControl=bool(tile_url),
               scrollWheelZoom=True, className="cw-map__leaflet", style={"height": "100%", "width": "100%"}),
        html.Div(static_panel(create_legend(level=area.level, breaks=update.breaks, lang=lang, words=words)),
                 id=ids.mid(ids.MAP_LEGEND, key), className="cw-legend"),
        html.Div(id=ids.mid(ids.MAP_ERROR, key), className="cw-map__error"),
        dcc.Store(id=ids.mid(ids.MAP_MISSING, key)),
        dcc.Store(id=ids.mid(ids.MAP_SIG, key), data=update.signature),
        dcc.Store(id=ids.mid(ids.MAP_SCOPE, key), data={"level": area.level, "area_code": area.area_code, "lang": lang,
                                             "lang_param": lang_param, **({"at": at} if at else {}),
                                             **({"push": push} if push else {})}),
        dcc.Store(id=ids.mid(ids.MAP_POLL, key)),
        dcc.Store(id=ids.mid(ids.MAP_PUSH, key)),
    ]
    if area.level == "street":
        children.append(html.Div(t("map_approximate", lang), className="cw-map__note"))
    if with_tick:
        children.append(dcc.Interval(id=ids.tick_id(key), interval=int(refresh_s * 1000)))
    return html.Div(children, className=f"cw-map {class_name}".strip(), **{"data-level": area.level,
                                                                           "data-code": area.area_code,
                                                                           "data-key": key})


