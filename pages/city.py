"""The city level for supervisors (/city): the city map with its districts, the city's panels and list."""
from __future__ import annotations

import logging

import dash
from dash import html
from sqlalchemy.exc import SQLAlchemyError

from components.i18n import pick_language, t
from components.incident_map import register_map_callbacks
from components.incident_table import register_table_callbacks
from components.level_panels import create_level_page, register_panel_callbacks
from data_access import queries
from data_access.runtime import current_runtime
from data_access.settings import LANGUAGES
from security import page_access

dash.register_page(__name__, path="/city", title="CityWall · city",
                   **page_access("leader"))  # the whole city
register_map_callbacks()
register_table_callbacks()
register_panel_callbacks()
log = logging.getLogger(__name__)


def layout(lang: str | None = None, **query: object) -> html.Div:
    runtime = current_runtime()
    lang_param = lang if lang in LANGUAGES else None
    lang = pick_language(lang, runtime.settings.lang)
    try:
        city = queries.city_area(engine=runtime.engine)
        if city is None:
            return html.Div(t("no_data", lang), className="cw-page cw-page--empty")
        return html.Div(create_level_page(key="city", area=city, lineage=[city], lang=lang, lang_param=lang_param,
                                          query=query, runtime=runtime), id="cw-page-city", className="cw-root")
    except SQLAlchemyError as exc:
        log.warning("city page failed: %s", str(exc).splitlines()[0])
        return html.Div(t("map_error", lang), className="cw-page cw-page--error")
