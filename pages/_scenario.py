"""The scenario board's composition, shared by ``/scenario/<scenario_id>`` (the city) and
``/scenario/<scenario_id>/<area_code>``: routing the URL to the board or a clear refusal, the reads
(through the cached readers: one board per scenario, area and tick for every screen) and the tick's
refresh (pages/scenario.py registers it)."""
from __future__ import annotations

import logging
from typing import Any

import dash
import pandas as pd
from dash import html, no_update
from sqlalchemy.exc import SQLAlchemyError

from components.formatting import local_time
from components.i18n import pick_language, t
from components.links import scenario_href, wall_href
from components.refusal import create_refusal
from components.resource_layer import TypeNames
from components.scenario_board import PARTS, BoardParts, board_parts, create_scenario_board
from data_access.areas import valid_code
from data_access.db import utc_now
from data_access.errors import first_line
from data_access.models import LANGUAGES, ScenarioBoard, valid_scenario_id
from data_access.readers.areas import read_area, read_city, read_level_names
from data_access.readers.boards import read_board_render
from data_access.readers.incident_list import read_category_options
from data_access.readers.scenarios import read_scenario_board
from data_access.runtime import CityWallRuntime
from data_access.vitals import mark_position_staleness
from pages._fleet import beat, screen_stores
from pages._map import map_geometry
from pages._runtime import current_runtime
from pages._scenario_actions import activation_key, step_forms
from pages._takeover import board_return
from security import current_principal

log = logging.getLogger(__name__)
MAX_SHOWN = 40


def can_mark_for(role: object) -> bool:
    """May the current principal mark a step of ``role``? Never a wall (a kiosk token), else by rank
    (``role`` is the board's, already through data_access.models.step_marking_role; actions/service.py
    checks again before anything is written)."""
    principal = current_principal()
    return principal.role != "wall" and principal.at_least(str(role))


def markable_steps(board: ScenarioBoard) -> list[str]:
    """The steps of the board the current principal may mark (their forms are issued)."""
    if board.steps.empty:
        return []
    return [str(r.step_id) for r in board.steps.itertuples(index=False) if can_mark_for(r.role)]


def type_names_of(board: ScenarioBoard) -> TypeNames:
    if board.readiness.empty:
        return {}
    return {str(r.resource_type): (str(r.name), None if pd.isna(r.name_en) else str(r.name_en))
            for r in board.readiness.itertuples(index=False)}


def category_names_of(runtime: CityWallRuntime, area_code: str, lang: str) -> dict[str, str]:
    """Category code -> its name in ``lang`` (the categories with open incidents in the area)."""
    frame = read_category_options(runtime=runtime, scope=current_principal().scope, area_code=area_code)
    column = "category_name_en" if lang == "en" else "category_name"
    return {str(r.category): str(getattr(r, column) or r.category_name) for r in frame.itertuples(index=False)}


def area_names_of(runtime: CityWallRuntime, board: ScenarioBoard, lang: str) -> dict[str, str]:
    """The names of the areas below the board's where its scenario is active (cached reads)."""
    out = {}
    for activation in board.active_below:
        area = read_area(runtime=runtime, scope=current_principal().scope, code=activation.area_code)
        if area is not None:
            out[area.area_code] = area.label(lang)
    return out


def parts_of(board: ScenarioBoard, *, runtime: CityWallRuntime, lang: str) -> BoardParts:
    """The board's refreshed parts at this tick, built once per tick, board and language for every
    screen showing it (the caller has read ``board`` through read_scenario_board: the scope check)."""
    def build() -> BoardParts:
        now = utc_now()
        resources = mark_position_staleness(board.resources, now=now)
        return board_parts(board=board, resources=resources, lang=lang, tz=runtime.settings.tz, now=now,
                           type_names=type_names_of(board),
                           category_names=category_names_of(runtime, board.area.area_code, lang),
                           area_names=area_names_of(runtime, board, lang))

    return read_board_render(runtime=runtime, scope=current_principal().scope,
                             scenario_id=str(board.scenario.get("scenario_id")), area_code=board.area.area_code,
                             lang=lang, render=build)


def refusal(lang: str, message: str) -> html.Div:
    return html.Div(create_refusal(title=t("sb_refused_title", lang), body=message, back_label=t("sb_back", lang),
                                   back_href=wall_href(current_principal().scope)), className="cw-root cw-root--nf")


def render_board(scenario_id: object, area_code: object, lang: object, query: dict[str, Any]) -> html.Div:
    """The board of ``scenario_id`` in ``area_code`` (None: the city), or a refusal that says why."""
    runtime = current_runtime()
    lang_param = lang if lang in LANGUAGES else None
    lang = pick_language(lang, runtime.settings.lang)
    shown_id = str(scenario_id)[:MAX_SHOWN] if scenario_id is not None else ""
    if not valid_scenario_id(scenario_id):
        return refusal(lang, t("sb_unknown_scenario", lang, code=shown_id))
    try:
        if area_code is None:
            city = read_city(runtime=runtime)
            if city is None:
                return refusal(lang, t("no_data", lang))
            area_code = city.area_code
        elif not valid_code(area_code):
            return refusal(lang, t("sb_unknown_area", lang, code=str(area_code)[:MAX_SHOWN]))
        principal = current_principal()
        try:
            board = read_scenario_board(runtime=runtime, scope=principal.scope, scenario_id=scenario_id,
                                        area_code=area_code)
        except LookupError as exc:
            which = "area" if str(exc).startswith("no area") else "scenario"
            code = str(area_code)[:MAX_SHOWN] if which == "area" else shown_id
            return refusal(lang, t(f"sb_unknown_{which}", lang, code=code))
        parts = parts_of(board, runtime=runtime, lang=lang)
        level_word = read_level_names(runtime=runtime)[board.area.level].label(lang)
        geometry = map_geometry(runtime, board.area, lang, lang_param)
    except SQLAlchemyError as exc:
        log.warning("scenario board failed: %s", first_line(exc))
        return html.Div(t("map_error", lang), className="cw-page cw-page--error")
    settings = runtime.settings
    kiosk = str(query.get("kiosk", "")).lower() in ("1", "true", "yes", "on")
    scope = {"scenario_id": scenario_id, "area_code": board.area.area_code, "lang": lang, "lang_param": lang_param}
    # A form (request id + token) beside each step this viewer may mark (actions/tokens.py).
    form = step_forms(runtime, scenario_id=scenario_id, area_code=board.area.area_code,
                      steps=markable_steps(board), activation=activation_key(board.activation))
    # A kiosk wall's takeover opened it: back to that wall when the takeover ends (pages/_takeover.py).
    back = board_return(scenario_id=scenario_id, area_code=board.area.area_code, kiosk=query.get("kiosk"),
                        takeover=query.get("takeover"), back=query.get("back"), refresh_s=settings.refresh_s)
    return create_scenario_board(board=board, parts=parts, lang=lang, level_word=level_word, tz=settings.tz,
                                 timezone=settings.timezone, refresh_s=settings.refresh_s, geometry=geometry,
                                 scope=scope, can_mark=can_mark_for, form=form, kiosk=kiosk,
                                 tile_url=settings.tile_url, tile_attribution=settings.tile_attribution,
                                 extra=([] if back is None else [back]) + screen_stores(  # the wall fleet (issue 15)
                                     runtime, key="board", kiosk=kiosk, screen=query.get("screen"),
                                     scope_code=board.area.area_code,
                                     page=scenario_href(scenario_id, None if board.area.level == "city"
                                                        else board.area.area_code)))


# --- the tick ---------------------------------------------------------------------------------------

OUTPUT_PARTS = PARTS  # the order of the refresh's first outputs (pages/scenario.py)


def refresh_board(_n: int | None, scope: dict | None, sigs: dict | None, forms: dict | None,
                  screen: dict | None = None) -> tuple:
    """Each tick: the parts of the board that changed since what the screen shows (its digests),
    no_update for the rest; the step infos and buttons of the checklist; the status bar's store;
    the mark forms, renewed before they go stale (no_update while they are fresh)."""
    runtime = current_runtime()
    scope = scope if isinstance(scope, dict) else {}
    sigs = sigs if isinstance(sigs, dict) else {}
    lang = pick_language(scope.get("lang"), runtime.settings.lang)
    step_outputs = dash.ctx.outputs_list[len(PARTS):len(PARTS) + 3] if dash.ctx.outputs_list else [[], [], []]
    nothing = (no_update,) * len(PARTS) + tuple([no_update] * len(o) for o in step_outputs)
    scenario_id, area_code = scope.get("scenario_id"), scope.get("area_code")
    if not valid_scenario_id(scenario_id) or not valid_code(area_code):
        return (*nothing, no_update, "", {"ok": False, "version": runtime.version}, no_update)
    try:
        board = read_scenario_board(runtime=runtime, scope=current_principal().scope, scenario_id=scenario_id,
                                    area_code=area_code)
    except SQLAlchemyError as exc:
        log.warning("scenario board refresh failed: %s", first_line(exc))
        beat(runtime, screen, scope_code=area_code, tick=None, ok=False)  # the wall fleet
        return (*nothing, no_update, t("sb_error", lang), {"ok": False, "version": runtime.version}, no_update)
    except LookupError:
        return (*nothing, no_update, "", {"ok": False, "version": runtime.version}, no_update)
    beat(runtime, screen, scope_code=area_code, tick=None, ok=True)  # the wall fleet (issue 15)
    parts = parts_of(board, runtime=runtime, lang=lang)
    digests = parts.digests()
    out: list[Any] = [parts.parts[name] if digests[name] != sigs.get(name) else no_update for name in PARTS]
    info_ids, done_ids, skip_ids = (step_outputs + [[], [], []])[:3]
    infos = []
    for item in info_ids:
        step = str(item["id"]["id"])
        key = f"step:{step}"
        infos.append(parts.step_infos[step] if step in parts.step_infos and digests.get(key) != sigs.get(key)
                     else no_update)
    disabled = [not parts.active or parts.step_marked.get(str(item["id"]["id"]), False) for item in done_ids]
    disabled_skip = [not parts.active or parts.step_marked.get(str(item["id"]["id"]), False) for item in skip_ids]
    status = {"ok": True, "as_of": local_time(board.read_at, runtime.settings.tz), "version": runtime.version}
    renewed = step_forms(runtime, scenario_id=scenario_id, area_code=area_code, steps=markable_steps(board),
                         activation=activation_key(board.activation), current=forms)
    return (*out, infos, disabled, disabled_skip, digests, "", status,
            no_update if renewed == (forms if isinstance(forms, dict) else {}) else renewed)
