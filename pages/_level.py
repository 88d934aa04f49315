"""The level pages' shared composition (city, district, street; the incident-only wall reuses the
panels): routing a code to its page or its not-found block, the reads, and the panels' MATCH
callbacks (registered once per app by pages/_callbacks.py)."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import dash
import pandas as pd
from dash import html, no_update
from sqlalchemy.exc import SQLAlchemyError

from components import ids
from components.i18n import level_label, pick_language, t
from components.incident_table import create_incident_table, filter_from_query
from components.kpi_tile import create_kpi_strip
from components.level_panels import (
    LIST_QUERY_KEYS,
    create_categories,
    create_funnel,
    create_level_page,
    create_not_found,
    create_ranking,
    create_vitals,
    ranking_rows,
)
from components.links import level_href, wall_href
from components.replay import REPLAY_CLASS, ReplayMoment, at_param, create_replay_banner, with_query
from components.static_html import static_panel
from data_access.areas import valid_code
from data_access.db import utc_now
from data_access.errors import first_line
from data_access.models import LANGUAGES, Area, PanelData
from data_access.readers.areas import read_lineage
from data_access.readers.panels import read_panels, recent_panels
from data_access.readers.replay import read_panels_as_of
from data_access.replay import ReplayError
from data_access.runtime import CityWallRuntime
from pages._fleet import beat, screen_stores
from pages._map import build_map, lang_param_of, level_words_in, scope_area
from pages._push_map import map_push
from pages._replay import replay_error_page, replay_moment, scope_moment, wants_replay
from pages._resources import resource_layers
from pages._runtime import current_runtime
from security import current_principal

log = logging.getLogger(__name__)
MAX_SHOWN_CODE = 40


def panels(runtime: CityWallRuntime, area: Area, *, at: datetime | None = None) -> PanelData:
    """This tick's panels of ``area`` (scope-checked) for the current principal; ``at``: as they
    were at that moment (a replay, issue 15: read once for every screen replaying that minute)."""
    if at is not None:
        return read_panels_as_of(runtime=runtime, scope=current_principal().scope, area=area, at=at)
    return read_panels(runtime=runtime, scope=current_principal().scope, area=area)


def level_page(*, key: str, area: Area, lineage: list[Area], lang: str, lang_param: str | None,
               query: dict[str, Any] | None, runtime: CityWallRuntime, moment: ReplayMoment | None = None) -> html.Div:
    """The page of one area (raises SQLAlchemyError when the database is down): the map at once,
    the panels from the tick cache when another screen read them lately (else their callback fills them).
    ``moment`` (a replay, issue 15): the page as of it, under the replay banner, without the live
    field resources."""
    at = moment.at if moment is not None else None
    cached = recent_panels(runtime=runtime, scope=current_principal().scope, area=area) if at is None else \
        panels(runtime, area, at=at)
    extra = resource_layers(runtime, key=key, area=area, lang=lang) if area.level == "street" and at is None \
        else None
    incident_map = build_map(key=key, area=area, lang=lang, lang_param=lang_param, runtime=runtime,
                             class_name="cw-main__map", extra_layers=extra, at=at,
                             push=map_push(runtime, area.area_code, lang, lang_param))
    page = create_level_page(key=key, area=area, lineage=lineage, lang=lang, lang_param=lang_param,
                             incident_map=incident_map, panels=cached, now=at or utc_now(), query=query,
                             words=level_words_in(runtime, lang))
    # --- the wall fleet (issue 15, item 4): this screen's fleet stores (refresh_panels beats with them) ---
    fleet_page = level_href(area) if moment is None else f"{level_href(area)}?at={str((query or {}).get('at'))[:25]}"
    page.children = [*page.children, *screen_stores(runtime, key=key, page=fleet_page, scope_code=area.area_code,
                                                    kiosk=False, screen=(query or {}).get("screen"))]
    if moment is None:
        return page
    tz = runtime.settings.tz
    live = level_href(area, lang_param)
    banner = create_replay_banner(moment=moment, lang=lang, tz=tz, live_href=live, control=False,
                                  wall_href=with_query(wall_href(None if area.level == "city" else area.area_code,
                                                                 lang=lang_param), at=at_param(moment.at, tz)))
    return html.Div([banner, page], className="cw-replay-page")


def level_replay(runtime: CityWallRuntime, *, query: dict[str, Any], lang: str,
                 live_href: str) -> tuple[ReplayMoment | None, html.Div | None]:
    """The replay a level page's query asks for (``at``, ``speed``): (moment, None), (None, None)
    for live, or (None, the message) for a moment or speed it cannot show."""
    at, speed = query.get("at"), query.get("speed")
    if not wants_replay(at, speed):
        return None, None
    try:
        return replay_moment(runtime, at=at, speed=speed), None
    except ReplayError as exc:
        return None, replay_error_page(runtime, exc, at=at, speed=speed, lang=lang, live_href=live_href)


def render_level(level: str, code: object, lang: object, query: dict) -> html.Div:
    """The page of the area ``code`` at ``level``, or the not-found block (district and street)."""
    runtime = current_runtime()
    lang_param = lang if lang in LANGUAGES else None
    lang = pick_language(lang, runtime.settings.lang)
    shown = str(code)[:MAX_SHOWN_CODE] if code is not None else ""
    try:
        lineage = list(reversed(read_lineage(runtime=runtime, scope=current_principal().scope, code=code)))
        city = lineage[0] if lineage and lineage[0].level == "city" else None
        if not valid_code(code):
            block = create_not_found(message=t("nf_bad_code", lang, code=shown), up=None, lang=lang,
                                     lang_param=lang_param)
        elif not lineage:
            block = create_not_found(message=t(f"nf_no_{level}", lang, code=shown), up=None, lang=lang,
                                     lang_param=lang_param)
        elif lineage[-1].level != level:
            area = lineage[-1]
            block = create_not_found(
                message=t("nf_wrong_level", lang, code=shown,
                          level=level_label("lvl", area.level, lang, words := level_words_in(runtime, lang)),
                          wanted=level_label("lvl", level, lang, words)),
                up=lineage[-2] if level == "street" and len(lineage) >= 2 and area.level == "district" else city,
                lang=lang, lang_param=lang_param, suggestion=area)
        else:
            area = lineage[-1]
            moment, refused = level_replay(runtime, query=query, lang=lang, live_href=level_href(area, lang_param))
            if refused is not None:
                return html.Div(refused, id=ids.level_page(level, area.area_code), className="cw-root")
            page = level_page(key=level, area=area, lineage=lineage, lang=lang, lang_param=lang_param, query=query,
                              runtime=runtime, moment=moment)
            return html.Div(page, id=ids.level_page(level, area.area_code),
                            className="cw-root" + (" " + REPLAY_CLASS if moment is not None else ""))
    except SQLAlchemyError as exc:
        log.warning("%s page failed: %s", level, first_line(exc))
        return html.Div(t("map_error", lang), className="cw-page cw-page--error")
    return html.Div(block, id=ids.level_page(level, None), className="cw-root cw-root--nf")


# --- callbacks ---------------------------------------------------------------------------------

def refresh_panels(_n: int | None, scope: dict | None, screen: dict | None = None) -> tuple:
    # The wall fleet (issue 15, item 4): a level page's screen beats with its panels' tick; the
    # incident-only wall's panels (key "wall") do not: the wall's own tick beats for it.
    screen = screen if dash.ctx.outputs_list and dash.ctx.outputs_list[0]["id"].get("id") != "wall" else None
    try:
        area, lang = scope_area(scope)
        if area is None:
            return (no_update,) * 6
        at = scope_moment(scope)
        data = panels(current_runtime(), area, at=at)
    except SQLAlchemyError as exc:
        log.warning("panels refresh failed: %s", first_line(exc))
        code = (scope or {}).get("area_code")
        beat(current_runtime(), screen, scope_code=code if valid_code(code) else None, tick=None, ok=False)
        return (no_update,) * 5 + (t("map_error", (scope or {}).get("lang") or "zh"),)
    except ReplayError:  # a moment no URL could name: nothing is shown as of it
        return (no_update,) * 5 + (t("rpl_failed", (scope or {}).get("lang") or "zh"),)
    beat(current_runtime(), screen, scope_code=area.area_code, tick=None, ok=True)
    # Display-only panels as one component each (components/static_html.py: Dash's cost per component).
    return (static_panel(create_kpi_strip(data.counts, lang)), static_panel(create_categories(data.categories, lang)),
            static_panel(create_funnel(data.funnel, data.counts, lang, now=at or utc_now())),
            static_panel(create_vitals(data.vitals, lang)),
            {} if not data.vitals.empty else {"display": "none"}, "")


def refresh_ranking(_n: int | None, scope: dict | None) -> Any:
    try:
        area, lang = scope_area(scope)
        if area is None:
            return no_update
        data = panels(current_runtime(), area, at=scope_moment(scope))
    except (SQLAlchemyError, ReplayError):
        return no_update  # refresh_panels reports it
    return ranking_rows(data.children, lang=lang, lang_param=lang_param_of(scope))


def mount_grids(preset: dict | None, scope: dict | None) -> tuple:
    """The ranking and the incident list of a level page, once its map is drawn (their rows and the
    list's category choices come from the panels' read of this tick: one read for both)."""
    try:
        area, lang = scope_area(scope)
    except SQLAlchemyError:  # refresh_panels says the database is away; the next page load mounts them
        return no_update, no_update
    if area is None:
        return no_update, no_update
    key = dash.ctx.outputs_list[0]["id"]["id"]  # the page's key (MATCH): its grids carry it too
    try:
        data = panels(current_runtime(), area, at=scope_moment(scope))
        children, categories = data.children, data.categories
    except (SQLAlchemyError, ReplayError) as exc:  # the grids still come (empty); refresh_panels shows the error
        log.warning("level grids failed: %s", first_line(exc))
        children = pd.DataFrame(columns=["area_code", "level", "name", "name_en", "open", "overdue",
                                         "reported_today", "closed_today", "on_time_rate_30d"])
        categories = pd.DataFrame(columns=["category", "category_name", "category_name_en", "open", "overdue"])
    preset = preset if isinstance(preset, dict) else {}
    ranking = create_ranking(key=key, rows=ranking_rows(children, lang=lang, lang_param=lang_param_of(scope)),
                             lang=lang)
    table = create_incident_table(key=key, area=area, lang=lang, categories=categories,
                                  initial=filter_from_query({k: preset.get(k) for k in LIST_QUERY_KEYS}),
                                  words=level_words_in(current_runtime(), lang),
                                  at=scope.get("at") if isinstance(scope, dict) else None)
    return ranking, table
