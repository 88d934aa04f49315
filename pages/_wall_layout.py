"""The wall's layout function, shared by ``/`` (``?scope=``) and ``/wall/<code>`` (a module
whose name starts with "_" is not a page itself)."""
from __future__ import annotations

import logging

from dash import html
from sqlalchemy.exc import SQLAlchemyError

from components.i18n import pick_language, t
from components.links import wall_href
from components.replay import create_kiosk_drop
from components.wall import create_db_unavailable, create_incident_body, create_unknown_scope, create_wall, parse_kiosk
from data_access.areas import valid_code
from data_access.db import utc_now
from data_access.errors import first_line
from data_access.readers.areas import level_words, read_area, read_city, read_districts, read_level_names
from data_access.readers.wall import read_wall_catalogue
from data_access.replay import ReplayError
from data_access.runtime import CityWallRuntime
from pages._fleet import screen_stores
from pages._level import panels
from pages._map import build_map, level_words_in
from pages._push import push_url
from pages._push_map import map_push
from pages._replay import replay_error_page, replay_moment, wants_replay
from security import current_principal

log = logging.getLogger(__name__)


def wall_layout(runtime: CityWallRuntime, *, scope: object, lang: object, kiosk: object, rotate: object,
                playlist: object, at: object = None, speed: object = None, screen: object = None) -> html.Div:
    """Shared by this page and /wall/<code>; ``at`` / ``speed``: the replay (issue 15, pages/_replay.py),
    refused with a clear message when the moment or speed cannot be shown; a kiosk wall stays live.
    ``screen``: its name in the wall fleet (/walls, issue 15 item 4)."""
    explicit_lang = isinstance(lang, str) and pick_language(lang, "") == lang
    lang = pick_language(lang, runtime.settings.lang)
    kiosk_options = parse_kiosk(kiosk, rotate, playlist)
    replay_asked = wants_replay(at, speed) and not kiosk_options["kiosk"]
    moment = None
    try:
        city = read_city(runtime=runtime)
        if scope in (None, ""):
            area = city
        elif valid_code(scope):
            area = read_area(runtime=runtime, scope=current_principal().scope, code=scope)
        else:
            area = None
        if area is None and scope not in (None, ""):
            return create_unknown_scope(str(scope), lang)
        if area is None:
            return html.Div(t("no_data", lang), className="not-found")
        # The same wall live (the replay's way back, and the message's); the URL's language kept.
        live_href = wall_href(None if area.level == "city" else area.area_code,
                              lang=lang if explicit_lang else None)
        if replay_asked:
            try:
                moment = replay_moment(runtime, at=at, speed=speed)
            except ReplayError as exc:
                return replay_error_page(runtime, exc, at=at, speed=speed, lang=lang, live_href=live_href)
        catalogue = read_wall_catalogue(runtime=runtime)
        level_word = level_words(read_level_names(runtime=runtime), area.level).get(lang)
        districts = read_districts(runtime=runtime)
        # The wall's map keeps the page's language in its drill-down links only when the URL set one.
        lang_param = lang if explicit_lang else None
        at_moment = moment.at if moment is not None else None
        incident_map = build_map(key="wall", area=area, lang=lang, lang_param=lang_param, runtime=runtime,
                                 class_name="cw-map--wall", at=at_moment,
                                 push=map_push(runtime, area.area_code, lang, lang_param, on_wall_stream=True))
        # A city without vital signs (incidents only) gets an incident wall instead of empty panels.
        incident_body = None if not catalogue.empty else create_incident_body(
            key="wall", area=area, panels=panels(runtime, area, at=at_moment), lang=lang, lang_param=lang_param,
            incident_map=incident_map, now=at_moment or utc_now(), words=level_words_in(runtime, lang))
    except SQLAlchemyError as exc:
        log.warning("wall layout: database unavailable: %s", first_line(exc))
        return create_db_unavailable(lang)
    default_playlist = [wall_href()] + [wall_href(d.area_code) for d in districts]
    wall = create_wall(area=area, catalogue=catalogue, lang=lang, timezone=runtime.settings.timezone,
                       refresh_s=runtime.settings.refresh_s, kiosk=kiosk_options,
                       version=runtime.version, default_playlist=default_playlist, incident_map=incident_map,
                       incident_body=incident_body, hotline_name=runtime.settings.hotline_name,
                       poll_spread_s=runtime.settings.poll_spread_s, level_word=level_word,
                       # the acknowledge button: in a supervisor's (or admin's) layout only, never a wall's
                       ack_form={"forms": []} if current_principal().at_least("supervisor") else None,
                       replay=moment, replay_live_href=live_href,
                       push_url=None if moment is not None else push_url(runtime, area.area_code, lang))
    if kiosk_options["kiosk"] and wants_replay(at, speed):  # a kiosk never replays: live, ?at= dropped
        wall.children = [*wall.children, *create_kiosk_drop()]
    # --- the wall fleet (issue 15, item 4): this screen's fleet stores (refresh_wall beats with them) ---
    page = wall_href(None if scope in (None, "") else area.area_code)
    if moment is not None:  # a replaying screen says so on /walls too
        page = f"{page}?at={str(at)[:25]}"
    wall.children = [*wall.children, *screen_stores(runtime, key="wall", kiosk=bool(kiosk_options["kiosk"]),
                                                    screen=screen, scope_code=area.area_code, page=page)]
    return wall
