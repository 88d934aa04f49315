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
import logging
import math
import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_leaflet as dl
import pandas as pd
from dash import MATCH, ClientsideFunction, Input, Output, Patch, State, dcc, html, no_update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

import security
from components.i18n import t
from components.static_html import static_panel
from data_access import incident_queries as iq
from data_access import queries
from data_access.queries import Area
from data_access.runtime import CityWallRuntime, current_runtime
from data_access.settings import LANGUAGES
from security import require_scope

log = logging.getLogger(__name__)

MAP, AREAS, CELLS, POINTS, HIGHLIGHT = "cw-map", "cw-map-areas", "cw-map-cells", "cw-map-points", "cw-map-highlight"
LEGEND, MISSING, SCOPE, SIG, ERROR, TICK = ("cw-map-legend", "cw-map-missing", "cw-map-scope", "cw-map-sig",
                                            "cw-map-error", "cw-tick")
COORD_DIGITS = 4  # ~10 m: plenty for a wall, and it halves the geometry's bytes
AREA_CLASSES = 4  # colour classes of areas with incidents (plus one for none)
CELL_BREAKS = (1, 3, 9)  # open incidents per cell: 1 | 2-3 | 4-9 | 10+
LEGEND_PX = 240  # the legend sits top left: the fitted area keeps clear of it
SHORT_LABEL_SHARE = 0.03  # areas whose box is below this share of the map's get a short label
EMPTY_FC: dict[str, Any] = {"type": "FeatureCollection", "features": []}
MAP_COUNTS_KEY = "mapcounts"  # the tick cache's key of the city-wide counts (MapCounts)
GEOMETRY_TICKS = 720  # how many refresh windows a map's shapes are kept (~1 hour at 5 s)
PREFETCH_PER_TICK = 2  # children's shapes read ahead per tick and process, for every watched map (~40-70 ms each)


def mid(kind: str, key: str) -> dict[str, str]:
    """The pattern-matching id of one part of the map ``key``."""
    return {"type": kind, "id": key}


def tick_id(key: str) -> dict[str, str]:
    """The id of the map's refresh interval: other panels of the page may listen to it too."""
    return mid(TICK, key)


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


def area_href(level: str, code: str, lang_param: str | None) -> str:
    return f"/{level}/{code}" + (f"?lang={lang_param}" if lang_param else "")


def areas_collection(shapes: pd.DataFrame, *, lang: str, link_level: str | None,
                     lang_param: str | None) -> dict[str, Any]:
    """Area polygons with code, display name and drill-down link (None: not clickable)."""
    features = []
    for row in shapes.itertuples(index=False):
        geometry = _geometry(row.geojson)
        if geometry is None:
            continue
        name = (row.name_en or row.name) if lang == "en" else row.name
        features.append({"type": "Feature", "geometry": geometry, "properties": {
            "code": row.area_code, "name": name,
            "href": area_href(link_level, row.area_code, lang_param) if link_level else None,
        }})
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


def _local(value: object, tz: ZoneInfo) -> str:
    if value is None or pd.isna(value):
        return ""
    return pd.Timestamp(value).tz_localize("UTC").tz_convert(tz).strftime("%m-%d %H:%M")


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
                             "due": _local(row.due_at, tz),
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


def map_labels(lang: str) -> dict[str, str]:
    keys = ("open", "overdue", "map_cell", "map_urgent", "map_overdue_flag", "map_age", "map_deadline",
            "map_no_deadline", "list_address", "list_category", "list_status", "dur_min", "dur_h", "dur_d")
    return {key: t(key, lang) for key in keys}


@dataclass(frozen=True)
class MapUpdate:
    """What one tick sends to a map: counts and styles only."""

    areas_hideout: dict[str, Any]
    cells_hideout: dict[str, Any]
    points: dict[str, Any] | None  # street level only
    breaks: list[int]
    signature: str
    totals: dict[str, int] = field(default_factory=dict)
    points_signature: str = ""  # street level: the points' own hash (they are sent only when it changes)


@dataclass(frozen=True)
class MapGeometry:
    areas: dict[str, Any]
    cells: dict[str, Any]
    bounds: list[list[float]] | None


def _child_level(area: Area) -> str | None:
    return iq.LEVEL_CHILD.get(area.level)


def load_geometry(*, engine: Engine, area: Area, lang: str, lang_param: str | None) -> MapGeometry:
    """The shapes a map of ``area`` draws (sent once per page load)."""
    child = _child_level(area)
    if child:
        shapes = iq.area_shapes(engine=engine, parent_code=area.area_code)
    else:
        shapes = iq.area_shapes(engine=engine, area_code=area.area_code)
    areas = areas_collection(shapes, lang=lang, link_level=child, lang_param=lang_param)
    cells = cells_collection(iq.open_cell_shapes(engine=engine, area=area), link_level=child,
                             lang_param=lang_param)
    own = areas_collection(iq.area_shapes(engine=engine, area_code=area.area_code), lang=lang, link_level=None,
                           lang_param=None)
    return MapGeometry(areas=areas, cells=cells, bounds=bounds_of(own) or bounds_of(areas))


def _digest(value: object) -> str:
    """A short, process-independent hash of plain data (pickle of str/int tuples is deterministic)."""
    return hashlib.blake2b(pickle.dumps(value, protocol=5), digest_size=8).hexdigest()


def _int(value: object) -> int:
    """A count or priority from a view (NULL, a Decimal or a float from another database: an int)."""
    try:
        return 0 if value is None else int(value)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class MapCounts:
    """One tick's counts of every map of the city (``iq.map_count_rows``), grouped so that a map
    of any area takes its rows without another read: the children of each area, each area's own
    row, and the cells with open incidents per district and per street (cell id order kept)."""

    children: dict[str, list[tuple[str, int, int]]]
    own: dict[str, tuple[str, int, int]]
    cells: list[tuple[str, int, int, int]]
    cells_in: dict[str, list[tuple[str, int, int, int]]]

    @classmethod
    def of(cls, area_rows: list[tuple], cell_rows: list[tuple]) -> MapCounts:
        children: dict[str, list[tuple[str, int, int]]] = {}
        own: dict[str, tuple[str, int, int]] = {}
        for code, parent, n_open, n_overdue in area_rows:
            row = (str(code), _int(n_open), _int(n_overdue))
            own[row[0]] = row
            if parent is not None:
                children.setdefault(str(parent), []).append(row)
        cells: list[tuple[str, int, int, int]] = []
        cells_in: dict[str, list[tuple[str, int, int, int]]] = {}
        for cell, district, street, n_open, n_overdue, prio in cell_rows:
            row = (str(cell), _int(n_open), _int(n_overdue), _int(prio))
            cells.append(row)
            for code in {district, street} - {None}:
                cells_in.setdefault(str(code), []).append(row)
        return cls(children=children, own=own, cells=cells, cells_in=cells_in)

    def rows(self, area: Area) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int, int]]]:
        """(area rows, cell rows) of a map of ``area``: its children (a street: itself), its cells."""
        if _child_level(area):
            area_rows = self.children.get(area.area_code, [])
        else:
            area_rows = [self.own.get(area.area_code, (area.area_code, 0, 0))]
        return area_rows, self.cells if area.level == "city" else self.cells_in.get(area.area_code, [])


def load_map_counts(*, engine: Engine) -> MapCounts:
    return MapCounts.of(*iq.map_count_rows(engine=engine))


def cached_map_counts(runtime: CityWallRuntime) -> MapCounts:
    """This tick's city-wide counts, read once per tick for the maps of every area and level."""
    return runtime.cache.get_or_compute(MAP_COUNTS_KEY, lambda: load_map_counts(engine=runtime.engine),
                                        immutable=True)


def load_update(*, engine: Engine, area: Area, lang: str, tz: ZoneInfo, counts: MapCounts | None = None) -> MapUpdate:
    """This tick's counts for a map of ``area``, taken from the city-wide ``counts`` (read now
    when not given); a street's map reads its points too."""
    child = _child_level(area)
    area_rows, cell_rows = (counts or load_map_counts(engine=engine)).rows(area)
    counts_by_code = {code: [n_open, n_overdue] for code, n_open, n_overdue in area_rows}
    breaks = area_breaks(v[0] for v in counts_by_code.values()) if child else []
    cell_counts = {cell: [n_open, n_overdue, prio] for cell, n_open, n_overdue, prio in cell_rows}
    points = None
    points_signature = ""
    if area.level == "street":
        points = points_collection(iq.open_incident_points(engine=engine, street_code=area.area_code),
                                   lang=lang, tz=tz)
        points_signature = _digest(json.dumps(points, sort_keys=True, default=str))
    labels = map_labels(lang)
    areas_hideout = {"counts": counts_by_code, "breaks": breaks, "labels": labels, "permanent": area.level != "street",
                     "self": area.level == "street"}
    cells_hideout = {"counts": cell_counts, "breaks": list(CELL_BREAKS), "labels": labels,
                     "fill": 0.55 if area.level == "city" else 0.8, "hotWeight": 1.2 if area.level == "city" else 2.2}
    return MapUpdate(areas_hideout=areas_hideout, cells_hideout=cells_hideout, points=points, breaks=breaks,
                     signature=_digest((area_rows, cell_rows, points_signature)),
                     totals={"cells": len(cell_counts), "open": sum(v[0] for v in cell_counts.values())},
                     points_signature=points_signature)


def _update_key(area: Area, lang: str) -> str:
    return f"map:{area.level}:{area.area_code}:{lang}"


def _sent_key(area: Area, lang: str, signature: str) -> str:
    return f"mapsent:{area.level}:{area.area_code}:{lang}:{signature}"


def cached_update(runtime: CityWallRuntime, area: Area, lang: str) -> MapUpdate:
    """``load_update`` through the tick cache: N screens showing the same map cost one read per tick.
    Each computed tick is also remembered under its signature for a few ticks: what a screen
    that says it holds that signature has, so the next tick can send it only the difference."""
    require_scope(area.area_code)

    def compute() -> MapUpdate:
        counts = cached_map_counts(runtime)
        update = load_update(engine=runtime.engine, area=area, lang=lang, tz=runtime.settings.tz, counts=counts)
        runtime.cache.remember(_sent_key(area, lang, update.signature), MapState.of(update))
        return update

    # Read in every window while maps show it, after the walls' polls (maps show the previous
    # tick's counts meanwhile): the wall's data comes first in each window.
    return runtime.cache.latest(_update_key(area, lang), compute, immutable=True)


@dataclass(frozen=True)
class MapState:
    """What a screen holding one signature has: the hideouts' counts and breaks, the points."""

    areas: dict[str, list[int]]
    cells: dict[str, list[int]]
    breaks: list[int]
    points_signature: str
    points: dict[str, Any] | None

    @classmethod
    def of(cls, update: MapUpdate) -> MapState:
        return cls(areas=update.areas_hideout["counts"], cells=update.cells_hideout["counts"],
                   breaks=update.breaks, points_signature=update.points_signature, points=update.points)


@dataclass(frozen=True)
class MapDelta:
    """From one signature to the next: counts to set and codes to drop, per layer; new breaks
    (None: unchanged); points to remove (whole features: Dash's Patch removes by value) and add."""

    areas_set: dict[str, list[int]]
    areas_del: list[str]
    cells_set: dict[str, list[int]]
    cells_del: list[str]
    breaks: list[int] | None
    points_remove: list[dict[str, Any]]
    points_add: list[dict[str, Any]]
    points_changed: bool


def _count_diff(old: dict[str, list[int]], new: dict[str, list[int]]) -> tuple[dict[str, list[int]], list[str]]:
    changed = {code: value for code, value in new.items() if old.get(code) != value}
    return changed, [code for code in old if code not in new]


def map_delta(old: MapState, update: MapUpdate) -> MapDelta:
    """What changed between what a screen holds (``old``) and this tick's ``update``."""
    areas_set, areas_del = _count_diff(old.areas, update.areas_hideout["counts"])
    cells_set, cells_del = _count_diff(old.cells, update.cells_hideout["counts"])
    remove: list[dict[str, Any]] = []
    add: list[dict[str, Any]] = []
    points_changed = update.points_signature != old.points_signature
    if points_changed:
        before = {f["properties"]["iid"]: f for f in (old.points or EMPTY_FC)["features"]}
        after = {f["properties"]["iid"]: f for f in (update.points or EMPTY_FC)["features"]}
        remove = [f for iid, f in before.items() if after.get(iid) != f]
        add = [f for iid, f in after.items() if before.get(iid) != f]
    return MapDelta(areas_set=areas_set, areas_del=areas_del, cells_set=cells_set, cells_del=cells_del,
                    breaks=None if old.breaks == update.breaks else update.breaks, points_remove=remove,
                    points_add=add, points_changed=points_changed)


def cached_delta(runtime: CityWallRuntime, area: Area, lang: str, signature: object,
                 update: MapUpdate) -> MapDelta | None:
    """The delta from the screen's ``signature`` to ``update``, computed once per tick for every
    screen coming from the same signature; None when that signature is not remembered (expired,
    another worker without Redis, naive mode, a forged value): the caller sends everything."""
    if not isinstance(signature, str) or not signature or len(signature) > 64 or runtime.settings.naive:
        return None

    def compute() -> MapDelta | None:
        old = runtime.cache.recall(_sent_key(area, lang, signature))
        return map_delta(old, update) if isinstance(old, MapState) else None

    return runtime.cache.get_or_compute(f"mapdelta:{area.level}:{area.area_code}:{lang}:{signature}>"
                                        f"{update.signature}", compute, immutable=True)


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


def create_legend(*, level: str, breaks: list[int], lang: str) -> list[html.Div]:
    """Swatches that say what the colours mean (the classes follow the siblings' counts)."""
    def swatch(css: str, text: str, row: str = "") -> html.Div:
        return html.Div(className=f"cw-legend__row {row}".strip(), children=[
            html.Span(className=f"cw-swatch {css}"), html.Span(text)])

    rows: list[html.Div] = []
    if level in ("city", "district"):
        child = "district" if level == "city" else "street"
        rows.append(html.Div(t(f"map_legend_{child}", lang), className="cw-legend__title"))
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
        rows.append(html.Div(t(f"map_legend_click_{'district' if level == 'city' else 'street'}", lang),
                             className="cw-legend__hint"))
    return rows


def _fn(name: str) -> dict[str, str]:
    return {"variable": f"citywallMap.{name}"}


def create_incident_map(*, key: str, area: Area, geometry: MapGeometry, update: MapUpdate, lang: str,
                        lang_param: str | None, refresh_s: float, tile_url: str = "",
                        tile_attribution: str = "", with_tick: bool = True, class_name: str = "") -> html.Div:
    """The map of ``area``: its children (or itself at street level), grid cells, and points at street level."""
    labels = map_labels(lang)
    layers: list[Any] = []
    if tile_url:
        layers.append(dl.TileLayer(url=tile_url, attribution=tile_attribution or None))
    layers += [
        dl.GeoJSON(id=mid(AREAS, key), data=geometry.areas, hideout=update.areas_hideout,
                   style=_fn("styleArea"), onEachFeature=_fn("areaEach"), hoverStyle=_fn("hoverArea"),
                   zoomToBoundsOnClick=False),
        dl.GeoJSON(id=mid(CELLS, key), data=geometry.cells, hideout=update.cells_hideout,
                   style=_fn("styleCell"), filter=_fn("cellFilter"), onEachFeature=_fn("cellEach"),
                   hoverStyle=_fn("hoverArea"), zoomToBoundsOnClick=False),
        dl.GeoJSON(id=mid(POINTS, key), data=update.points or EMPTY_FC, hideout={"labels": labels},
                   cluster=True, superClusterOptions={"radius": 48, "maxZoom": 17},
                   pointToLayer=_fn("pointToLayer"), clusterToLayer=_fn("clusterToLayer"),
                   onEachFeature=_fn("pointEach"), zoomToBoundsOnClick=True),
        dl.GeoJSON(id=mid(HIGHLIGHT, key), data=EMPTY_FC, pointToLayer=_fn("highlightToLayer"),
                   interactive=False),
    ]
    bounds = geometry.bounds or [[30.7, 120.9], [31.9, 122.0]]
    children: list[Any] = [
        dl.Map(id=mid(MAP, key), bounds=bounds, children=layers,
               boundsOptions={"paddingTopLeft": [12 if "cw-map--wall" in class_name else LEGEND_PX, 12],
                              "paddingBottomRight": [12, 12]},
               trackViewport=False,
               zoomSnap=0.25, zoomDelta=0.5, minZoom=6, maxZoom=19, attributionControl=bool(tile_url),
               scrollWheelZoom=True, className="cw-map__leaflet", style={"height": "100%", "width": "100%"}),
        html.Div(static_panel(create_legend(level=area.level, breaks=update.breaks, lang=lang)), id=mid(LEGEND, key),
                 className="cw-legend"),
        html.Div(id=mid(ERROR, key), className="cw-map__error"),
        dcc.Store(id=mid(MISSING, key)),
        dcc.Store(id=mid(SIG, key), data=update.signature),
        dcc.Store(id=mid(SCOPE, key), data={"level": area.level, "area_code": area.area_code, "lang": lang,
                                             "lang_param": lang_param}),
    ]
    if area.level == "street":
        children.append(html.Div(t("map_approximate", lang), className="cw-map__note"))
    if with_tick:
        children.append(dcc.Interval(id=tick_id(key), interval=int(refresh_s * 1000)))
    return html.Div(children, className=f"cw-map {class_name}".strip(), **{"data-level": area.level,
                                                                           "data-code": area.area_code})


def _geometry_key(code: str, lang: str, lang_param: str | None) -> str:
    return f"mapgeo:{code}:{lang}:{lang_param}"


def cached_geometry(runtime: CityWallRuntime, area: Area, lang: str, lang_param: str | None) -> MapGeometry:
    """The shapes of a map of ``area``, kept for GEOMETRY_TICKS ticks (~1 hour at 5 s), not one:
    boundaries change only with an import, and the cells that got their first open incident since
    are fetched by the browser anyway (``append_cells``); cells without incidents are filtered out
    by their counts. A drill-down then costs the counts and the panels, not ~150 ms of GeoJSON.
    (Naive mode: recall/remember are off, so every page load reads the shapes again.)"""
    key = _geometry_key(area.area_code, lang, lang_param)
    geometry = runtime.cache.recall(key)
    if isinstance(geometry, MapGeometry):
        return geometry
    geometry = runtime.cache.get_or_compute(  # one computation for screens arriving together
        key, lambda: load_geometry(engine=runtime.engine, area=area, lang=lang, lang_param=lang_param))
    runtime.cache.remember(key, geometry, ticks=GEOMETRY_TICKS)
    return geometry


def prefetch_child_geometry(runtime: CityWallRuntime, area: Area, lang: str, lang_param: str | None) -> int:
    """The shapes of the children of a map being watched, read ahead by the tick warmer so that a
    click on one of them finds its map's geometry ready: with the counts of every map in one
    city-wide read, a drill-down then reads nothing but its lineage. At most PREFETCH_PER_TICK
    per tick in this process, whatever the number of watched maps (a wall's 16 districts are
    ready in 8 ticks, then kept an hour). Returns how many it read this time."""
    if not _child_level(area):
        return 0
    counts = cached_map_counts(runtime)
    done = 0
    for code, _open, _overdue in counts.children.get(area.area_code, []):
        if runtime.cache.has(_geometry_key(code, lang, lang_param)):
            continue
        if not runtime.cache.take_budget("prefetch", PREFETCH_PER_TICK):
            break
        child = runtime.cache.get_or_compute(f"area:{code}", lambda c=code: queries.area_by_code(
            engine=runtime.engine, area_code=c))
        if child is not None:
            cached_geometry(runtime, child, lang, lang_param)
            done += 1
    return done


def keep_children_ready(runtime: CityWallRuntime, area: Area, lang: str, lang_param: object) -> None:
    """While a map of ``area`` stays on a screen (its tick asks), keep its children's shapes read
    ahead. Not on a page load: a leader passing through a district on the way to a street would
    start a read-ahead of every street of it."""
    lang_param = lang_param if lang_param in LANGUAGES else None
    runtime.cache.keep_warm(f"mapprefetch:{area.area_code}:{lang}:{lang_param}",
                            lambda: prefetch_child_geometry(runtime, area, lang, lang_param), last=True)


def build_map(*, key: str, area: Area, lang: str, lang_param: str | None, runtime: CityWallRuntime | None = None,
              with_tick: bool = True, class_name: str = "") -> html.Div:
    """Read what the map needs and build it (raises SQLAlchemyError when the database is down)."""
    runtime = runtime or current_runtime()
    settings = runtime.settings
    require_scope(area.area_code)
    geometry = cached_geometry(runtime, area, lang, lang_param)
    return create_incident_map(key=key, area=area, geometry=geometry, update=cached_update(runtime, area, lang),
                               lang=lang, lang_param=lang_param, refresh_s=settings.refresh_s,
                               tile_url=settings.tile_url, tile_attribution=settings.tile_attribution,
                               with_tick=with_tick, class_name=class_name)


# --- callbacks (MATCH: one definition serves every map on every page) ---------------------------

def scope_area(scope: object) -> tuple[Area | None, str]:
    runtime = current_runtime()
    scope = scope if isinstance(scope, dict) else {}
    lang = scope.get("lang") if scope.get("lang") in ("zh", "en") else runtime.settings.lang
    code = scope.get("area_code")
    if not iq.valid_code(code):
        return None, lang
    require_scope(code)
    area = runtime.cache.get_or_compute(f"area:{code}", lambda: queries.area_by_code(engine=runtime.engine,
                                                                                    area_code=code))
    return area, lang


def refresh_map(_n: int | None, scope: dict | None, signature: str | None) -> tuple:
    """Each tick: what changed since the screen's signature, as Patches of the hideouts (the
    changed cells' and areas' counts set, the ones gone deleted) and of the street's points;
    everything when the server does not remember that signature (or in naive mode)."""
    try:
        runtime = current_runtime()
        area, lang = scope_area(scope)
        if area is None:
            return (no_update,) * 6
        update = cached_update(runtime, area, lang)
        keep_children_ready(runtime, area, lang, (scope or {}).get("lang_param"))
        naive = runtime.settings.naive
        if update.signature == signature and not naive:  # naive baseline: always resend
            return (no_update,) * 4 + ("", no_update)
        delta = None if naive else cached_delta(runtime, area, lang, signature, update)
    except SQLAlchemyError as exc:
        log.warning("map refresh failed: %s", str(exc).splitlines()[0])
        lang = (scope or {}).get("lang") or "zh"
        return (no_update,) * 4 + (t("map_error", lang), no_update)
    if delta is not None:
        areas, cells, points = delta_patches(delta)
        legend = no_update if delta.breaks is None else static_panel(create_legend(level=area.level,
                                                                                   breaks=update.breaks, lang=lang))
        return areas, cells, points, legend, "", update.signature
    points = update.points if update.points is not None else no_update
    return (update.areas_hideout, update.cells_hideout, points,
            static_panel(create_legend(level=area.level, breaks=update.breaks, lang=lang)), "", update.signature)


def append_cells(missing: list | None, scope: dict | None) -> Any:
    """Cells that got their first open incident after the page loaded: their geometry, once."""
    if not missing or not isinstance(missing, list):
        return no_update
    try:
        area, _lang = scope_area(scope)
        if area is None:
            return no_update
        shapes = iq.cell_shapes_by_id(engine=current_runtime().engine, cell_ids=missing[:5000])
    except SQLAlchemyError as exc:
        log.warning("map cells failed: %s", str(exc).splitlines()[0])
        return no_update
    if area.level != "city":
        column = "district_code" if area.level == "district" else "street_code"
        shapes = shapes[shapes[column] == area.area_code]
    collection = cells_collection(shapes, link_level=_child_level(area), lang_param=(scope or {}).get("lang_param"))
    if not collection["features"]:
        return no_update
    patch = Patch()
    patch["features"].extend(collection["features"])
    return patch


def callbacks_pending(marker: str) -> bool:
    """Whether callbacks whose ids contain ``marker`` already wait in Dash's global callback list.

    Dash hands ``dash.callback`` registrations to the next app that starts and then clears the
    list; page modules are re-executed for every app but component modules are imported once.
    So components register from a function that page modules call, and this keeps two pages of
    the same app from registering twice (a duplicate-output error in the browser).
    """
    from dash._callback import GLOBAL_CALLBACK_MAP  # no public API tells this

    return any(marker in key for key in GLOBAL_CALLBACK_MAP)


def register_map_callbacks() -> None:
    """Register the map's MATCH callbacks once per app; call it from every page module that shows a map."""
    if callbacks_pending(f'"{SIG}"'):
        return
    security.callback(
        Output(mid(AREAS, MATCH), "hideout"),
        Output(mid(CELLS, MATCH), "hideout"),
        Output(mid(POINTS, MATCH), "data"),
        Output(mid(LEGEND, MATCH), "children"),
        Output(mid(ERROR, MATCH), "children"),
        Output(mid(SIG, MATCH), "data"),
        Input(mid(TICK, MATCH), "n_intervals"),
        State(mid(SCOPE, MATCH), "data"),
        State(mid(SIG, MATCH), "data"),
        prevent_initial_call=True,
        access="wall",
    )(refresh_map)
    security.callback(
        Output(mid(CELLS, MATCH), "data"),
        Input(mid(MISSING, MATCH), "data"),
        State(mid(SCOPE, MATCH), "data"),
        prevent_initial_call=True,
        access="wall",
    )(append_cells)
    dash.clientside_callback(
        ClientsideFunction(namespace="citywallMap", function_name="missingCells"),
        Output(mid(MISSING, MATCH), "data"),
        Input(mid(CELLS, MATCH), "hideout"),
        State(mid(CELLS, MATCH), "data"),
        prevent_initial_call=True,
    )
