"""The vitals explorer for supervisors: every indicator by dimension, searchable, with its
history (1 h, 24 h, 7 d) against its thresholds. The URL holds the selection, so views can be
shared and the back button works."""
from __future__ import annotations

import logging
from datetime import timedelta

import dash
import pandas as pd
from dash import Input, Output, State, dcc, html
from sqlalchemy.exc import SQLAlchemyError

from components import ids
from components.history_chart import create_history_figure
from components.i18n import DIMENSIONS, pick_language, t
from components.links import page_href
from components.vital_panel import indicator_name, indicator_unit
from components.wall import create_nav
from data_access.db import utc_now
from data_access.readers.areas import read_city, read_districts
from data_access.readers.vitals import read_catalogue, read_vitals_history
from pages._runtime import current_runtime
from security import callback, current_principal, page_access

dash.register_page(__name__, path="/vitals", title="CityWall · vitals",
                   **page_access("leader", area_arg="area", ancestors=True))  # city-wide signs on a district

log = logging.getLogger(__name__)
RANGES = {"1h": (timedelta(hours=1), "minute"), "24h": (timedelta(hours=24), "minute"),
          "7d": (timedelta(days=7), "hour")}


def _href(lang: str, **params: str | None) -> str:
    return page_href("vitals", lang=lang, **params)


def _indicator_links(catalogue: pd.DataFrame, lang: str, *, selected: str | None, search: str,
                     range_key: str) -> list:
    needle = search.strip().lower()
    groups = []
    for dimension in DIMENSIONS:
        rows = catalogue[catalogue["dimension"] == dimension]
        links = [
            dcc.Link(indicator_name(r, lang), href=_href(lang, indicator=r["indicator_id"], range=range_key),
                     className="vx-item" + (" vx-item--selected" if r["indicator_id"] == selected else ""),
                     id=ids.vx_item(r["indicator_id"]))
            for _, r in rows.iterrows()
            if not needle or needle in f"{r['name']} {r['name_en']} {r['indicator_id']}".lower()
        ]
        if links:
            groups.append(html.Div(className="vx-group", children=[html.H3(t(f"dim_{dimension}", lang)), *links]))
    return groups or [html.Div(t("no_data", lang), className="vx-empty")]


def layout(indicator: str | None = None, range: str | None = None, area: str | None = None,  # noqa: A002
           lang: str | None = None, **_query: object) -> html.Div:
    runtime = current_runtime()
    lang = pick_language(lang, runtime.settings.lang)
    range_key = range if range in RANGES else "24h"
    try:
        catalogue = read_catalogue(runtime=runtime)
        city = read_city(runtime=runtime)
        districts = read_districts(runtime=runtime)
    except SQLAlchemyError:
        return html.Div(className="not-found", children=[html.H1(t("db_unavailable", lang)),
                                                         html.P(t("query_failed", lang))])
    ids_known = set(catalogue["indicator_id"])
    selected = indicator if isinstance(indicator, str) and indicator in ids_known else None
    area_codes = {d.area_code for d in districts} | ({city.area_code} if city else set())
    area_code = area if isinstance(area, str) and area in area_codes else (city.area_code if city else None)
    chart: list = [html.Div(t("pick_indicator", lang), className="vx-empty")]
    if selected and area_code:
        row = catalogue.set_index("indicator_id").loc[selected].copy()
        row["indicator_id"] = selected
        span, resolution = RANGES[range_key]
        scope = current_principal().scope  # the city's and the own area's vital signs only
        try:
            history = read_vitals_history(runtime=runtime, scope=scope, indicator_id=selected, area_code=area_code,
                                          since=utc_now() - span, resolution=resolution)
        except SQLAlchemyError:
            history = pd.DataFrame(columns=["time", "value"])
        area_options = [{"label": city.label(lang) if city else "", "value": city.area_code if city else ""}]
        if row["level"] == "district":
            area_options += [{"label": d.label(lang), "value": d.area_code} for d in districts]
        chart = [
            html.Div(className="vx-controls", children=[
                html.H2(indicator_name(row, lang) + (f" ({unit})" if (unit := indicator_unit(row, lang)) else "")),
                html.Div(className="vx-ranges", children=[
                    dcc.Link(t(f"range_{key}", lang), href=_href(lang, indicator=selected, range=key, area=area_code),
                             className="vx-range" + (" vx-range--selected" if key == range_key else ""))
                    for key in RANGES
                ]),
                dcc.Dropdown(id=ids.VX_AREA, options=area_options, value=area_code, clearable=False,
                             className="vx-area") if len(area_options) > 1 else None,
            ]),
            dcc.Graph(id=ids.VX_CHART, figure=create_history_figure(history, row, lang,
                                                                  timezone=runtime.settings.timezone),
                      config={"displaylogo": False}, className="vx-graph"),
        ]
    return html.Div(className="page", children=[
        html.Header(className="page__header", children=[
            html.H1(t("explorer_title", lang)), create_nav(lang, {"lang": lang}),
        ]),
        html.Div(className="vx", children=[
            html.Aside(className="vx-list", children=[
                dcc.Input(id=ids.VX_SEARCH, type="search", placeholder=t("search_placeholder", lang), debounce=0.3,
                          className="vx-search", value=""),
                html.Div(_indicator_links(catalogue, lang, selected=selected, search="", range_key=range_key),
                         id=ids.VX_ITEMS),
            ]),
            html.Section(chart, className="vx-chart"),
        ]),
        dcc.Store(id=ids.VX_STATE, data={"lang": lang, "selected": selected, "range": range_key}),
        dcc.Location(id=ids.VX_LOCATION, refresh=True),
    ])


@callback(
    Output(ids.VX_ITEMS, "children"),
    Input(ids.VX_SEARCH, "value"),
    State(ids.VX_STATE, "data"),
    prevent_initial_call=True,
    access="leader",
)
def filter_indicators(search: str | None, state: dict | None) -> list:
    runtime = current_runtime()
    state = _state(state)
    lang = pick_language(state.get("lang"), runtime.settings.lang)
    try:
        catalogue = read_catalogue(runtime=runtime)
    except SQLAlchemyError:
        return [html.Div(t("query_failed", lang), className="vx-empty")]
    return _indicator_links(catalogue, lang, selected=state.get("selected"),
                            search=search[:100] if isinstance(search, str) else "", range_key=state["range"])


def _state(state: object) -> dict:
    """The page's store as sent back by the browser; odd (forged) values fall back to defaults."""
    state = state if isinstance(state, dict) else {}
    selected = state.get("selected")
    return {"lang": state.get("lang") if isinstance(state.get("lang"), str) else None,
            "selected": selected if isinstance(selected, str) and len(selected) <= 64 else None,
            "range": state.get("range") if state.get("range") in RANGES else "24h"}


@callback(
    Output(ids.VX_LOCATION, "href"),
    Input(ids.VX_AREA, "value"),
    State(ids.VX_STATE, "data"),
    prevent_initial_call=True,
    access="leader",
)
def choose_area(area_code: str | None, state: dict | None) -> str:
    state = _state(state)
    return _href(pick_language(state["lang"], "zh"), indicator=state["selected"], range=state["range"],
                 area=area_code if isinstance(area_code, str) and len(area_code) <= 64 else None)
