"""The city level for supervisors (/city): the city map with its districts, the city's panels and list."""
from __future__ import annotations

import logging

import dash
from dash import html
from sqlalchemy.exc import SQLAlchemyError

from components import ids
from components.i18n import pick_language, t
from data_access.errors import first_line
from data_access.models import LANGUAGES
from data_access.readers.areas import read_city
from pages._level import level_page
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
        return html.Div(level_page(key="city", area=city, lineage=[city], lang=lang, lang_param=lang_param,
                                   query=query, runtime=runtime), id=ids.PAGE_CITY, className="cw-root")
    except SQLAlchemyError as exc:
        log.warning("city page failed: %s", first_line(exc))
        return html.Div(t("map_error", lang), className="cw-page cw-page--error")
