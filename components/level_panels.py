"""The level pages' builders (city, district, street): the page of one area around its map (KPI
strip, child ranking, categories, the closed-loop funnel, vital signs, the incident list's slot),
and the friendly not-found block. Pure: data in, components out; pages/_level.py reads and routes.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import dash_ag_grid as dag
import pandas as pd
from dash import dcc, html

from components import ids
from components.breadcrumb import create_breadcrumb
from components.formatting import format_duration
from components.i18n import LevelWords, level_label, t
from components.incident_table import GRID_THEME
from components.kpi_tile import create_kpi_strip
from components.links import area_href, level_href, page_href
from components.static_html import static_panel
from components.vital_panel import create_vital_tile
from data_access.models import EMPTY_PANELS, Area, IncidentCounts, PanelData, child_level

mid = ids.mid


def loading() -> html.Div:
    """What a deferred panel shows until the panels' first callback fills it."""
    return html.Div("…", className="cw-panel__empty cw-loading")


LIST_QUERY_KEYS = ("category", "status", "priority", "overdue", "q")  # what a shared link may preset in the list


# --- builders ----------------------------------------------------------------------------------

def _missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))


def _int_or_none(value: object) -> int | None:
    return None if _missing(value) else int(value)


def ranking_rows(children: pd.DataFrame, *, lang: str, lang_param: str | None) -> list[dict[str, Any]]:
    rows = []
    for r in children.itertuples(index=False):
        name = (r.name_en or r.name) if lang == "en" else r.name
        # The name stays text, the link its own field: assets/grid_renderers.js makes the <a> with
        # React (no Markdown: a name never becomes markup, docs/security.md).
        href = area_href(r.level, r.area_code, lang_param) if r.level in ("district", "street") else None
        rows.append({"code": r.area_code, "name": name, "href": href, "open": int(r.open), "overdue": int(r.overdue),
                     "reported_today": _int_or_none(r.reported_today), "closed_today": _int_or_none(r.closed_today),
                     "on_time": None if _missing(r.on_time_rate_30d) else float(r.on_time_rate_30d)})
    return rows


def create_ranking(*, key: str, rows: list[dict[str, Any]], lang: str) -> dag.AgGrid:
    number = {"type": "numericColumn", "flex": 0.82, "minWidth": 60, "sortingOrder": ["desc", "asc", None]}
    return dag.AgGrid(
        id=mid(ids.LVL_RANK, key),
        rowData=rows,
        columnDefs=[
            {"field": "name", "headerName": t("lvl_name", lang), "cellRenderer": "CwAreaLink", "flex": 2.4,
             "minWidth": 120, "comparator": {"function": "(a, b) => String(a).localeCompare(String(b))"}},
            {"field": "open", "headerName": t("open", lang), **number},
            {"field": "overdue", "headerName": t("overdue", lang), **number,
             "cellClassRules": {"cw-cell-alarm": "params.value > 0"}},
            {"field": "reported_today", "headerName": t("reported_today", lang), **number, "flex": 0.96},
            {"field": "closed_today", "headerName": t("closed_today", lang), **number, "flex": 0.96},
            {"field": "on_time", "headerName": t("on_time_rate_30d", lang), **number, "flex": 1.1,
             "valueFormatter": {"function": "params.value == null ? '—' : d3.format('.0%')(params.value)"}},
        ],
        defaultColDef={"sortable": True, "resizable": True, "suppressHeaderMenuButton": True},
        getRowId="params.data.code",
        dashGridOptions={"theme": GRID_THEME, "animateRows": False, "suppressCellFocus": True},
        style={"height": "100%", "width": "100%"},
        className="cw-rank",
    )


def _bar(value: int, top: int, css: str) -> html.Div:
    width = 0 if top <= 0 else max(2.0, 100.0 * value / top) if value else 0
    return html.Div(html.Div(className=f"cw-bar__fill {css}", style={"width": f"{width:.1f}%"}), className="cw-bar")


def create_categories(frame: pd.DataFrame, lang: str) -> list[html.Div]:
    if frame.empty:
        return [html.Div(t("lvl_none", lang), className="cw-panel__empty")]
    top = int(frame["open"].max())
    out = []
    for r in frame.itertuples(index=False):
        name = r.category_name_en if lang == "en" else r.category_name
        out.append(html.Div(className="cw-barrow", **{"data-category": r.category}, children=[
            html.Span(name, className="cw-barrow__label", title=name),
            _bar(int(r.open), top, "cw-bar__fill--open"),
            html.Span(f"{int(r.open):,}", className="cw-barrow__n"),
            html.Span(f"{int(r.overdue):,}" if r.overdue else "", className="cw-barrow__od"),
        ]))
    return out


def create_funnel(funnel: pd.DataFrame, counts: IncidentCounts | None, lang: str, *, now: datetime) -> list[html.Div]:
    """One row per lifecycle stage: open incidents in it, overdue among them, the oldest one's age
    at ``now`` (naive UTC); the last row is today's closures (the loop's end)."""
    now = pd.Timestamp(now)
    closed = counts.closed_today if counts else 0
    top = max([int(v) for v in funnel["open"]] + [closed, 1])
    out = []
    for r in funnel.itertuples(index=False):
        age = None if pd.isna(r.oldest_reported_at) else (now - r.oldest_reported_at).total_seconds()
        out.append(html.Div(className="cw-barrow cw-funnel__row", **{"data-status": r.status}, children=[
            html.Span(t(f"ist_{r.status}", lang), className="cw-barrow__label"),
            _bar(int(r.open), top, f"cw-bar__fill--stage cw-stage-{r.status}"),
            html.Span(f"{int(r.open):,}", className="cw-barrow__n"),
            html.Span(f"{int(r.overdue):,}" if r.overdue else "", className="cw-barrow__od"),
            html.Span(t("lvl_oldest", lang, age=format_duration(age, lang)) if age is not None else "",
                      className="cw-barrow__age"),
        ]))
    out.append(html.Div(className="cw-barrow cw-funnel__row", **{"data-status": "closed_today"}, children=[
        html.Span(t("ist_closed_today", lang), className="cw-barrow__label"),
        _bar(closed, top, "cw-bar__fill--closed"),
        html.Span(f"{closed:,}", className="cw-barrow__n"), html.Span("", className="cw-barrow__od"),
        html.Span("", className="cw-barrow__age"),
    ]))
    return out


def create_vitals(vitals: pd.DataFrame, lang: str) -> list[html.Div]:
    return [create_vital_tile(row, lang) for _, row in vitals.iterrows()]


def _panel(title: str, body: Any, css: str = "", **kwargs: Any) -> html.Section:
    return html.Section(className=f"cw-panel {css}".strip(), **kwargs, children=[
        html.H2(title, className="cw-panel__title"), body])


def create_level_page(*, key: str, area: Area, lineage: list[Area], lang: str, lang_param: str | None,
                      incident_map: html.Div, panels: PanelData | None, now: datetime,
                      query: dict[str, Any] | None = None, words: LevelWords | None = None) -> html.Div:
    """The whole page of one area around its map. ``panels``: the panels when another screen read
    them lately, else None: they are laid out empty and the panels' callback fills them right
    after the page is drawn (its initial call), so a drill-down draws the map at once. ``words``: what
    the city calls its levels (v_level_names), for the title and the ranking."""
    data = panels or EMPTY_PANELS
    filled = panels is not None
    child = child_level(area)
    title_level = level_label("lvl", area.level, lang, words)
    links = [dcc.Link(t("lvl_to_list", lang), href=page_href("incidents", lang=lang_param), className="cw-navlink")]
    header = html.Header(className="cw-head", children=[
        html.Div(className="cw-head__left", children=[
            create_breadcrumb(lineage, lang, lang_param=lang_param),
            html.H1([area.label(lang), html.Span(f" · {title_level} · {t('lvl_supervisor', lang)}",
                                                 className="cw-head__sub")], className="cw-head__title"),
        ]),
        html.Div(links, className="cw-head__links"),
    ])
    side: list[Any] = [_panel(level_label("children", child or "cell", lang, words),
                              html.Div(loading(), id=mid(ids.LVL_RANK_BOX, key), className="cw-panel__grid"),
                              "cw-panel--rank")]
    categories = static_panel(create_categories(data.categories, lang)) if filled else loading()
    funnel = static_panel(create_funnel(data.funnel, data.counts, lang, now=now)) if filled else loading()
    side.append(html.Div(className="cw-side__pair", children=[
        _panel(t("lvl_categories", lang), html.Div(categories, id=mid(ids.LVL_CATS, key), className="cw-bars"),
               "cw-panel--cats"),
        _panel(t("lvl_funnel", lang), html.Div(funnel, id=mid(ids.LVL_FUNNEL, key), className="cw-bars cw-funnel"),
               "cw-panel--funnel"),
    ]))
    vitals_style = {} if not data.vitals.empty else {"display": "none"}
    preset = {k: v for k, v in (query or {}).items() if k in LIST_QUERY_KEYS}
    return html.Div(className=f"cw-page cw-page--{area.level}", **{"data-area": area.area_code}, children=[
        header,
        html.Div(static_panel(create_kpi_strip(data.counts, lang)) if filled else loading(),
                 id=mid(ids.LVL_KPIS, key), className="cw-kpis"),
        html.Div(id=mid(ids.LVL_ERROR, key), className="cw-page__error"),
        html.Main(className="cw-main", children=[
            incident_map,
            html.Div(side, className="cw-side"),
        ]),
        html.Div(className="cw-bottom", children=[
            _panel(t("list_title", lang), html.Div(loading(), id=mid(ids.LVL_LIST_BOX, key),
                                                   className="cw-list__box"), "cw-panel--list"),
            _panel(t("lvl_vitals", lang), html.Div(static_panel(create_vitals(data.vitals, lang)),
                                                   id=mid(ids.LVL_VITALS, key), className="cw-vitals"),
                   "cw-panel--vitals", id=mid(ids.LVL_VITALS_BOX, key), style=vitals_style),
        ]),
        # The two grids (the ranking and the incident list) are mounted by ``mount_grids`` right
        # after the map is drawn: building them cost Chromium ~180 ms before the map showed.
        dcc.Store(id=mid(ids.LVL_MOUNT, key), data=preset),
    ])


def create_not_found(*, message: str, up: Area | None, lang: str, lang_param: str | None,
                     suggestion: Area | None = None) -> html.Div:
    """The friendly block for an unknown or malformed code: what is wrong and the way one level up."""
    links: list[Any] = []
    if suggestion is not None:
        links.append(dcc.Link(t("nf_open_instead", lang, name=suggestion.label(lang)),
                              href=level_href(suggestion, lang_param), className="cw-nf__link", id=ids.NF_INSTEAD))
    target = up.label(lang) if up else t("lvl_city", lang)
    href = level_href(up, lang_param) if up else page_href("city")
    links.append(dcc.Link(t("nf_up_to", lang, name=target), href=href, className="cw-nf__link", id=ids.NF_UP))
    return html.Div(className="not-found cw-nf", children=[
        html.H1(t("not_found_title", lang)), html.P(message, id=ids.NF_MESSAGE),
        html.Div(links, className="cw-nf__links"),
    ])
