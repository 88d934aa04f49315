"""The incident list (/incidents): every open incident, filtered and sorted on the server, exported
to CSV; the filters live in the address (?category=..&status=..&priority=..&overdue=1&q=..) so a
link shares them. The city map beside it shows the selected incident."""
from __future__ import annotations

import logging

import dash
from dash import dcc, html
from sqlalchemy.exc import SQLAlchemyError

from components import ids
from components.breadcrumb import create_breadcrumb
from components.i18n import pick_language, t
from components.incident_table import create_incident_table, filter_from_query
from components.links import page_href
from data_access.errors import first_line
from data_access.models import LANGUAGES
from data_access.readers.areas import read_city
from data_access.readers.incident_list import read_category_options
from pages._map import build_map, level_words_in
from pages._push_map import map_push
from pages._runtime import current_runtime
from security import current_principal, page_access

KEY = "incidents"
dash.register_page(__name__, path="/incidents", title="CityWall · incidents",
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
        categories = read_category_options(runtime=runtime, scope=current_principal().scope, area_code=city.area_code)
        table = create_incident_table(key=KEY, area=None, lang=lang, categories=categories,
                                      initial=filter_from_query(query), words=level_words_in(runtime, lang))
        city_map = build_map(key=KEY, area=city, lang=lang, lang_param=lang_param, runtime=runtime,
                             class_name="cw-incidents__map", push=map_push(runtime, city.area_code, lang, lang_param))
    except SQLAlchemyError as exc:
        log.warning("incident list failed: %s", first_line(exc))
        return html.Div(t("map_error", lang), className="cw-page cw-page--error")
    city_href = page_href("city", lang=lang_param)
    return html.Div(id=ids.PAGE_INCIDENTS, className="cw-root", children=html.Div(
        className="cw-page cw-page--incidents", children=[
            html.Header(className="cw-head", children=[
                html.Div(className="cw-head__left", children=[
                    create_breadcrumb([city], lang, lang_param=lang_param, tail=t("list_title", lang)),
                    html.H1(t("list_title", lang), className="cw-head__title"),
                ]),
                html.Div(dcc.Link(t("lvl_city", lang), href=city_href, className="cw-navlink"),
                         className="cw-head__links"),
            ]),
            html.Main(className="cw-incidents", children=[
                html.Section(table, className="cw-panel cw-panel--list cw-incidents__list"),
                city_map,
            ]),
        ]))
