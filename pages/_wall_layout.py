"""The wall's layout function, shared by ``/`` (``?scope=``) and ``/wall/<code>`` (a module
whose name starts with "_" is not a page itself)."""
from __future__ import annotations

import logging

from dash import html
from sqlalchemy.exc import SQLAlchemyError

from components.i18n import pick_language, t
from components.links import wall_href
from components.wall import create_db_unavailable, create_incident_body, create_unknown_scope, create_wall, parse_kiosk
from data_access.areas import valid_code
from data_access.db import utc_now
from data_access.errors import first_line
from data_access.readers.areas import level_words, read_area, read_city, read_districts, read_level_names
from data_access.readers.wall import read_wall_catalogue
from data_access.runtime import CityWallRuntime
from pages._level import panels
from pages._map import build_map, level_words_in
from pages._push import push_url
from security import current_principal

log = logging.getLogger(__name__)


def wall_layout(runtime: CityWallRuntime, *, scope: object, lang: object, kiosk: object, rotate: object,
                playlist: object) -> html.Div:
    """Shared by this page and /wall/<code>."""
    explicit_lang = isinstance(lang, str) and pick_language(lang, "") == lang
    lang = pick_language(lang, runtime.settings.lang)
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
        catalogue = read_wall_catalogue(runtime=runtime)
        level_word = level_words(read_level_names(runtime=runtime), area.level).get(lang)
        districts = read_districts(runtime=runtime)
        # The wall's map keeps the page's language in its drill-down links only when the URL set one.
        lang_param = lang if explicit_lang else None
        incident_map = build_map(key="wall", area=area, lang=lang, lang_param=lang_param, runtime=runtime,
                                 class_name="cw-map--wall")
        # A city without vital signs (incidents only) gets an incident wall instead of empty panels.
        incident_body = None if not catalogue.empty else create_incident_body(
            key="wall", area=area, panels=panels(runtime, area), lang=lang, lang_param=lang_param,
            incident_map=incident_map, now=utc_now(), words=level_words_in(runtime, lang))
    except SQLAlchemyError as exc:
        log.warning("wall layout: database unavailable: %s", first_line(exc))
        return create_db_unavailable(lang)
    default_playlist = [wall_href()] + [wall_href(d.area_code) for d in districts]
    return create_wall(area=area, catalogue=catalogue, lang=lang, timezone=runtime.settings.timezone,
                       refresh_s=runtime.settings.refresh_s, kiosk=parse_kiosk(kiosk, rotate, playlist),
                       version=runtime.version, default_playlist=default_playlist, incident_map=incident_map,
                       incident_body=incident_body, hotline_name=runtime.settings.hotline_name,
                       poll_spread_s=runtime.settings.poll_spread_s, level_word=level_word,
                       # the acknowledge button: in a supervisor's (or admin's) layout only, never a wall's
                       ack_form={"forms": []} if current_principal().at_least("supervisor") else None,
                       push_url=push_url(runtime, area.area_code, lang))
