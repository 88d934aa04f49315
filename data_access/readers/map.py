"""The incident map's cached reads: the city-wide counts of a tick, each map's update (counts and
styles), the delta protocol (what a screen holding one signature lacks), the shapes (kept an hour)
and their read-ahead for the children of a watched map.

What the map draws is built by the caller (pages/_map.py hands in the builders from
components/incident_map.py): this module only decides what is read, when, and for whom.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from data_access.areas import require_within
from data_access.incident_map import cell_shapes_by_id, load_map_counts
from data_access.models import (
    EMPTY_FC,
    LANGUAGES,
    Area,
    MapCounts,
    MapDelta,
    MapGeometry,
    MapState,
    MapUpdate,
    child_level,
)
from data_access.readers import keys
from data_access.readers.areas import read_area
from data_access.runtime import CityWallRuntime

GEOMETRY_TICKS = 720  # how many refresh windows a map's shapes are kept (~1 hour at 5 s)
PREFETCH_PER_TICK = 2  # children's shapes read ahead per tick and process, for every watched map (~40-70 ms each)
MAX_SIGNATURE = 64
MAX_CELLS = 5000  # cells one request may ask for

BuildUpdate = Callable[[MapCounts], MapUpdate]  # this tick's counts -> the map's update (it may read points)
LoadGeometry = Callable[[Area], MapGeometry]  # an area -> the shapes of its map


def read_map_counts(*, runtime: CityWallRuntime) -> MapCounts:
    """This tick's city-wide counts, read once per tick for the maps of every area and level (no
    scope: callers take one area's rows from it, after their own check)."""
    return runtime.cache.read(keys.map_counts_key(), lambda: load_map_counts(engine=runtime.engine), immutable=True)


def read_map_update(*, runtime: CityWallRuntime, scope: str | None, area: Area, lang: str,
                    build: BuildUpdate) -> MapUpdate:
    """This tick's update of a map of ``area``: N screens showing the same map cost one build per
    tick. Each computed tick is also remembered under its signature for a few ticks: what a screen
    that says it holds that signature has, so the next tick can send it only the difference."""
    require_within(runtime.lineage, area.area_code, scope)

    def compute() -> MapUpdate:
        update = build(read_map_counts(runtime=runtime))
        runtime.cache.remember(keys.map_sent_key(area, lang, update.signature), MapState.of(update))
        return update

    # Read in every window while maps show it, after the walls' polls (maps show the previous
    # tick's counts meanwhile): the wall's data comes first in each window.
    return runtime.cache.latest(keys.map_update_key(area, lang), compute, immutable=True)


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


def _valid_signature(signature: object) -> bool:
    return isinstance(signature, str) and 0 < len(signature) <= MAX_SIGNATURE


def holds_current(*, runtime: CityWallRuntime, area: Area, lang: str, signature: object, update: MapUpdate) -> bool:
    """Whether a screen holding ``signature`` already shows ``update`` (nothing to send). Only when
    the server remembers that signature: the naive baseline (NeverCache) remembers nothing, so
    its screens are sent everything every tick."""
    return (_valid_signature(signature) and signature == update.signature
            and runtime.cache.has(keys.map_sent_key(area, lang, update.signature)))


def read_map_delta(*, runtime: CityWallRuntime, scope: str | None, area: Area, lang: str, signature: object,
                   update: MapUpdate) -> MapDelta | None:
    """The delta from the screen's ``signature`` to ``update``, computed once per tick for every
    screen coming from the same signature; None when that signature is not remembered (expired,
    another worker without Redis, the naive baseline, a forged value): the caller sends everything."""
    require_within(runtime.lineage, area.area_code, scope)
    if not _valid_signature(signature):
        return None

    def compute() -> MapDelta | None:
        old = runtime.cache.recall(keys.map_sent_key(area, lang, signature))  # type: ignore[arg-type]
        return map_delta(old, update) if isinstance(old, MapState) else None

    return runtime.cache.read(keys.map_delta_key(area, lang, signature, update.signature),  # type: ignore[arg-type]
                              compute, immutable=True)


def _geometry(runtime: CityWallRuntime, area: Area, lang: str, lang_param: str | None,
              load: LoadGeometry) -> MapGeometry:
    key = keys.geometry_key(area.area_code, lang, lang_param)
    geometry = runtime.cache.recall(key)
    if isinstance(geometry, MapGeometry):
        return geometry
    geometry = runtime.cache.read(key, lambda: load(area))  # one computation for screens arriving together
    runtime.cache.remember(key, geometry, ticks=GEOMETRY_TICKS)
    return geometry


def read_geometry(*, runtime: CityWallRuntime, scope: str | None, area: Area, lang: str, lang_param: str | None,
                  load: LoadGeometry) -> MapGeometry:
    """The shapes of a map of ``area``, kept for GEOMETRY_TICKS ticks (~1 hour at 5 s), not one:
    boundaries change only with an import, and the cells that got their first open incident since
    are fetched by the browser anyway (``append_cells``); cells without incidents are filtered out
    by their counts. A drill-down then costs the counts and the panels, not ~150 ms of GeoJSON.
    (The naive baseline keeps nothing, so every page load reads the shapes again.)"""
    require_within(runtime.lineage, area.area_code, scope)
    return _geometry(runtime, area, lang, lang_param, load)


def prefetch_child_geometry(*, runtime: CityWallRuntime, area: Area, lang: str, lang_param: str | None,
                            load: LoadGeometry) -> int:
    """The shapes of the children of a map being watched, read ahead by the tick warmer so that a
    click on one of them finds its map's geometry ready: with the counts of every map in one
    city-wide read, a drill-down then reads nothing but its lineage. At most PREFETCH_PER_TICK
    per tick in this process, whatever the number of watched maps (a wall's 16 districts are
    ready in 8 ticks, then kept an hour). Returns how many it read this time. (Background work
    of a map whose reader already checked the scope: the children lie inside it.)"""
    if not child_level(area):
        return 0
    counts = read_map_counts(runtime=runtime)
    done = 0
    for code, _open, _overdue in counts.children.get(area.area_code, []):
        if runtime.cache.has(keys.geometry_key(code, lang, lang_param)):
            continue
        if not runtime.cache.budget(keys.PREFETCH_BUDGET, PREFETCH_PER_TICK):
            break
        child = read_area(runtime=runtime, scope=None, code=code)
        if child is not None:
            _geometry(runtime, child, lang, lang_param, load)
            done += 1
    return done


def read_cells(*, runtime: CityWallRuntime, scope: str | None, area: Area, cell_ids: list) -> pd.DataFrame:
    """The shapes of the named cells (a map's cells that got their first open incident after its
    page loaded); the caller keeps those inside ``area``."""
    require_within(runtime.lineage, area.area_code, scope)
    return cell_shapes_by_id(engine=runtime.engine, cell_ids=cell_ids[:MAX_CELLS])


def keep_children_ready(*, runtime: CityWallRuntime, scope: str | None, area: Area, lang: str,
                        lang_param: object, load: LoadGeometry) -> None:
    """While a map of ``area`` stays on a screen (its tick asks), keep its children's shapes read
    ahead. Not on a page load: a leader passing through a district on the way to a street would
    start a read-ahead of every street of it."""
    require_within(runtime.lineage, area.area_code, scope)
    lang_param = lang_param if lang_param in LANGUAGES else None
    runtime.cache.keep_warm(keys.prefetch_key(area.area_code, lang, lang_param),  # type: ignore[arg-type]
                            lambda: prefetch_child_geometry(runtime=runtime, area=area, lang=lang,
                                                            lang_param=lang_param, load=load),  # type: ignore[arg-type]
                            last=True)
