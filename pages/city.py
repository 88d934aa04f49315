"""The city level for supervisors (/city): the city map with its districts, the city's panels and list."""
from __future__ import annotations

import logging

import dash
from dash import html
from sqlalchemy.exc import SQLAlchemyError

from components import ids
from components.i18n import pick_language, t
from components.links import level_href
from components.replay import REPLAY_CLASS
from data_access.errors import first_line
from data_access.models import LANGUAGES
from data_access.readers.areas import read_city
from pages._level import level_page, level_replay
from pages._runtime import current_runtime
from security import page_access

dash.register_page(__name__, path="/city", title="CityWall · city",
                   **page_access("leader"))  # the whole city

log = logging.getLogger(__name__)


def layout(lang: str | None = None, **query: object) -> html.Div:
    runtime = current_runtime()
    lang_param = lang if lang in LANGUAGES else None
    lang = pick_language(lang, runtime.settings.lang)
    try:
        city = read_city(runtime=runtime)
        if city is None:
            return html.Div(t("no_data", lang), className="cw-page cw-page--empty")
        moment, refused = level_replay(runtime, query=query, lang=lang, live_href=level_href(city, lang_param))
        if refused is not None:  # a moment or speed it cannot replay (issue 15): said, never a traceback
            return html.Div(refused, id=ids.PAGE_CITY, className="cw-root")
        return html.Div(level_page(key="city", area=city, lineage=[city], lang=lang, lang_param=lang_param,
                                   query=query, runtime=runtime, moment=moment), id=ids.PAGE_CITY,
                        className="cw-root" + (" " + REPLAY_CLASS if moment is not None else ""))
    except SQLAlchemyError as exc:
        log.warning("city page failed: %s", first_line(exc))
        return html.Div(t("map_error", lang), className="cw-page cw-page--error")
