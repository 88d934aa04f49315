"""The incident map on a page: what it reads (through data_access/readers/map.py, with the
builders of components/incident_map.py) and its MATCH callbacks (registered once per app by
pages/_callbacks.py). One definition serves every map on every page, keyed by the page."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dash import Patch, html, no_update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from components import incident_map as im
from components.i18n import LevelWords, t
from components.static_html import static_panel
from data_access.areas import area_shapes
from data_access.errors import first_line
from data_access.incident_map import load_map_counts, open_cell_shapes, open_incident_points
from data_access.models import LANGUAGES, Area, MapCounts, MapGeometry, MapUpdate, child_level
from data_access.readers.areas import read_area, read_level_names
from data_access.readers.map import (
    LoadGeometry,
    holds_current,
    keep_children_ready,
    read_cells,
    read_geometry,
    read_map_delta,
    read_map_update,
)
from data_access.readers.replay import read_map_update_as_of, read_points_as_of
from data_access.replay import ReplayError
from data_access.runtime import CityWallRuntime
from pages._replay import scope_at, scope_moment
from pages._runtime import current_runtime
from security import current_principal

log = logging.getLogger(__name__)
_PRINCIPAL = object()  # map_update's default scope: the request's principal's


def load_geometry(*, engine: Engine, area: Area, lang: str, lang_param: str | None) -> MapGeometry:
    """The shapes a map of ``area`` draws, read now (uncached)."""
    if child_level(area):
        shapes = area_shapes(engine=engine, parent_code=area.area_code)
    else:
        shapes = area_shapes(engine=engine, area_code=area.area_code)
    return im.build_geometry(area=area, shapes=shapes, own=area_shapes(engine=engine, area_code=area.area_code),
                             cells=open_cell_shapes(engine=engine, area=area), lang=lang, lang_param=lang_param)


def load_update(*, engine: Engine, area: Area, lang: str, tz: ZoneInfo, counts: MapCounts | None = None) -> MapUpdate:
    """This tick's update of a map of ``area`` from the city-wide ``counts`` (read now when not
    given); a street's map reads its points too."""
    area_rows, cell_rows = (counts or load_map_counts(engine=engine)).rows(area)
    points = open_incident_points(engine=engine, street_code=area.area_code) if area.level == "street" else None
    return im.build_update(area=area, area_rows=area_rows, cell_rows=cell_rows, points=points, lang=lang, tz=tz)


def geometry_loader(runtime: CityWallRuntime, lang: str, lang_param: str | None) -> LoadGeometry:
    """How the readers load the shapes of a map of any area (its children's, read ahead, too)."""
    return lambda a: load_geometry(engine=runtime.engine, area=a, lang=lang, lang_param=lang_param)


def map_update(runtime: CityWallRuntime, area: Area, lang: str, *, scope: object = _PRINCIPAL) -> MapUpdate:
    """This tick's update of a map of ``area`` through the tick cache, read as the request's principal
    (``scope``: as that scope instead, e.g. None for the push hub, which checked each stream's scope)."""
    return read_map_update(runtime=runtime, scope=current_principal().scope if scope is _PRINCIPAL else scope,
                           area=area, lang=lang,
                           build=lambda counts: load_update(engine=runtime.engine, area=area, lang=lang,
                                                            tz=runtime.settings.tz, counts=counts))


def map_legend(runtime: CityWallRuntime, area: Area, lang: str, breaks: list[int]) -> Any:
    """The legend of a map of ``area`` for these colour ``breaks`` (one display-only component)."""
    return static_panel(im.create_legend(level=area.level, breaks=breaks, lang=lang,
                                         words=level_words_in(runtime, lang)))


def map_geometry(runtime: CityWallRuntime, area: Area, lang: str, lang_param: str | None) -> MapGeometry:
    return read_geometry(runtime=runtime, scope=current_principal().scope, area=area, lang=lang,
                         lang_param=lang_param, load=geometry_loader(runtime, lang, lang_param))


def level_words_in(runtime: CityWallRuntime, lang: str) -> LevelWords:
    """What the city calls its levels in ``lang`` (v_level_names): {level: (singular, plural)}."""
    return {level: (name.label(lang), name.label(lang, plural=True))
            for level, name in read_level_names(runtime=runtime).items()}


# --- the replay (issue 15): a map as of a moment, from the as-of readers ------------------------

def map_update_as_of(runtime: CityWallRuntime, area: Area, lang: str, at: datetime) -> MapUpdate:
    """The update of a map of ``area`` as it was at ``at`` (the city-wide counts of that minute,
    read once for every screen replaying it; a street's points of that moment)."""
    scope = current_principal().scope

    def build(counts: MapCounts) -> MapUpdate:
        area_rows, cell_rows = counts.rows(area)
        points = read_points_as_of(runtime=runtime, scope=scope, street_code=area.area_code,
                                   at=at) if area.level == "street" else None
        return im.build_update(area=area, area_rows=area_rows, cell_rows=cell_rows, points=points, lang=lang,
                               tz=runtime.settings.tz)

    return read_map_update_as_of(runtime=runtime, scope=scope, area=area, lang=lang, at=at, build=build)


def build_map(*, key: str, area: Area, lang: str, lang_param: str | None, runtime: CityWallRuntime,
              with_tick: bool = True, class_name: str = "", extra_layers: list[Any] | None = None,
              at: datetime | None = None, push: dict[str, Any] | None = None) -> html.Div:
    """Read what the map needs and build it (raises SQLAlchemyError when the database is down);
    ``at``: the map as of that moment (a replay), its scope store carrying it to its refresh.
    ``push``: where its counts are pushed from (pages/_push_map.py ``map_push``; None: it polls)."""
    settings = runtime.settings
    geometry = map_geometry(runtime, area, lang, lang_param)
    update = map_update(runtime, area, lang) if at is None else map_update_as_of(runtime, area, lang, at)
    return im.create_incident_map(key=key, area=area, geometry=geometry, update=update,
                                  lang=lang, lang_param=lang_param, refresh_s=settings.refresh_s,
                                  tile_url=settings.tile_url, tile_attribution=settings.tile_attribution,
                                  with_tick=with_tick, class_name=class_name, words=level_words_in(runtime, lang),
                                  extra_layers=extra_layers, at=scope_at(at),
                                  push=None if at is not None else push)


def scope_area(scope: object) -> tuple[Area | None, str]:
    """The area and language a map's (or its page's panels') scope store names, after the scope
    check (OutsideScope); (None, lang) for a malformed or unknown code."""
    runtime = current_runtime()
    scope = scope if isinstance(scope, dict) else {}
    lang = scope.get("lang") if scope.get("lang") in LANGUAGES else runtime.settings.lang
    area = read_area(runtime=runtime, scope=current_principal().scope, code=scope.get("area_code"))
    return area, lang


def lang_param_of(scope: object) -> str | None:
    value = scope.get("lang_param") if isinstance(scope, dict) else None
    return value if value in LANGUAGES else None


def refresh_map(_n: int | None, scope: dict | None, signature: str | None) -> tuple:
    """Each tick: what changed since the screen's signature, as Patches of the hideouts (the
    changed cells' and areas' counts set, the ones gone deleted) and of the street's points;
    everything when the server does not remember that signature (or in the naive baseline)."""
    try:
        runtime = current_runtime()
        area, lang = scope_area(scope)
        if area is None:
            return (no_update,) * 6
        principal_scope = current_principal().scope
        at = scope_moment(scope)
        if at is not None:  # a replay: the map as of the screen's moment (what changed since the minute it shows)
            update = map_update_as_of(runtime, area, lang, at)
            if update.signature == signature:
                return (no_update,) * 4 + ("", no_update)
        else:
            update = map_update(runtime, area, lang)
            keep_children_ready(runtime=runtime, scope=principal_scope, area=area, lang=lang,
                                lang_param=(scope or {}).get("lang_param"),
                                load=geometry_loader(runtime, lang, lang_param_of(scope)))
            if holds_current(runtime=runtime, area=area, lang=lang, signature=signature, update=update):
                return (no_update,) * 4 + ("", no_update)
        delta = read_map_delta(runtime=runtime, scope=principal_scope, area=area, lang=lang, signature=signature,
                               update=update)
    except SQLAlchemyError as exc:
        log.warning("map refresh failed: %s", first_line(exc))
        lang = (scope or {}).get("lang") or "zh"
        return (no_update,) * 4 + (t("map_error", lang), no_update)
    except ReplayError:  # a moment no URL could name (the page checked its own): nothing is shown as of it
        lang = (scope or {}).get("lang") or "zh"
        return (no_update,) * 4 + (t("rpl_failed", lang), no_update)
    if delta is not None:
        areas, cells, points = im.delta_patches(delta)
        legend = no_update if delta.breaks is None else map_legend(runtime, area, lang, update.breaks)
        return areas, cells, points, legend, "", update.signature
    points = update.points if update.points is not None else no_update
    return (update.areas_hideout, update.cells_hideout, points, map_legend(runtime, area, lang, update.breaks), "",
            update.signature)


def append_cells(missing: list | None, scope: dict | None) -> Any:
    """Cells that got their first open incident after the page loaded: their geometry, once."""
    if not missing or not isinstance(missing, list):
        return no_update
    try:
        area, _lang = scope_area(scope)
        if area is None:
            return no_update
        shapes = read_cells(runtime=current_runtime(), scope=current_principal().scope, area=area, cell_ids=missing)
    except SQLAlchemyError as exc:
        log.warning("map cells failed: %s", first_line(exc))
        return no_update
    collection = im.cells_for(shapes, area=area, lang_param=(scope or {}).get("lang_param"))
    if not collection["features"]:
        return no_update
    patch = Patch()
    patch["features"].extend(collection["features"])
    return patch
