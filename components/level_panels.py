"""The level pages (city, district, street): KPI strip, map, child ranking, categories, the
closed-loop funnel, vital signs and the incident list, plus the friendly not-found block.

The panels refresh on the map's tick (one ``dcc.Interval`` per page) through one MATCH callback,
reading through the tick cache, so N screens on the same area cost one read per tick.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import MATCH, Input, Output, State, dcc, html, no_update
from sqlalchemy.exc import SQLAlchemyError

import security
from components.breadcrumb import create_breadcrumb, level_href
from components.i18n import pick_language, t
from components.incident_map import SCOPE, build_map, callbacks_pending, mid, scope_area, tick_id
from components.incident_table import GRID_THEME, create_incident_table, filter_from_query
from components.static_html import static_panel
from components.vital_panel import create_vital_tile
from data_access import incident_queries as iq
from data_access import queries
from data_access.db import utc_now
from data_access.queries import Area, IncidentCounts
from data_access.runtime import CityWallRuntime, current_runtime
from data_access.settings import LANGUAGES
from security import require_scope

log = logging.getLogger(__name__)


def loading() -> html.Div:
    """What a deferred panel shows until the panels' first callback fills it."""
    return html.Div("…", className="cw-panel__empty cw-loading")


KPIS, RANK, CATS, FUNNEL, VITALS, VITALS_BOX, PERROR = ("cw-lvl-kpis", "cw-lvl-rank", "cw-lvl-cats", "cw-lvl-funnel",
                                                        "cw-lvl-vitals", "cw-lvl-vitals-box", "cw-lvl-error")
RANK_BOX, LIST_BOX, MOUNT = "cw-lvl-rank-box", "cw-lvl-list-box", "cw-lvl-mount"
LIST_QUERY_KEYS = ("category", "status", "priority", "overdue", "q")  # what a shared link may preset in the list


@dataclass(frozen=True)
class PanelData:
    counts: IncidentCounts | None
    children: pd.DataFrame
    categories: pd.DataFrame
    funnel: pd.DataFrame
    vitals: pd.DataFrame


def load_panels(*, runtime: CityWallRuntime, area: Area) -> PanelData:
    """Everything the panels of one area show, read once per tick for every screen (after the
    scope check: a user scoped elsewhere gets PermissionError, never the cached panels)."""
    require_scope(area.area_code)

    def compute() -> PanelData:
        engine = runtime.engine
        if iq.LEVEL_CHILD.get(area.level):
            children = iq.child_areas_ranked(engine=engine, parent_code=area.area_code)
        else:  # a street's children are its grid cells
            cells = iq.cell_counts(engine=engine, area=area)
            children = pd.DataFrame({
                "area_code": cells["cell_id"], "level": "cell", "name": cells["cell_id"], "name_en": None,
                "open": cells["open"], "overdue": cells["overdue"], "reported_today": None, "closed_today": None,
                "on_time_rate_30d": None,
            }).sort_values(["overdue", "open", "area_code"], ascending=[False, False, True])
        return PanelData(
            counts=queries.incident_counts(engine=engine, area_code=area.area_code),
            children=children,
            categories=queries.open_incidents_by_category(engine=engine, area_code=area.area_code),
            funnel=iq.incident_funnel(engine=engine, area_code=area.area_code),
            vitals=queries.vitals_latest(engine=engine, area_code=area.area_code, now=utc_now()),
        )

    return runtime.cache.get_or_compute(_panels_key(area), compute)


def _panels_key(area: Area) -> str:
    return f"panels:{area.area_code}"


def cached_panels(*, runtime: CityWallRuntime, area: Area) -> PanelData | None:
    """The panels of ``area`` if a screen read them this tick or the last, else None (never reads)."""
    require_scope(area.area_code)
    found = runtime.cache.peek(_panels_key(area))
    return found if isinstance(found, PanelData) else None


# --- builders ----------------------------------------------------------------------------------

def format_duration(seconds: float | None, lang: str) -> str:
    if seconds is None or pd.isna(seconds):
        return ""
    minutes = max(0, int(seconds // 60))
    if minutes < 120:
        return t("dur_min", lang, n=minutes)
    hours = minutes // 60
    return t("dur_h", lang, n=hours) if hours < 48 else t("dur_d", lang, n=hours // 24)


def create_kpi_strip(counts: IncidentCounts | None, lang: str) -> list[html.Div]:
    """The area's incident figures (the wall's .kpi look; own ids, so it never clashes with the wall's)."""
    if counts is None:
        return [html.Div(t("no_data", lang), className="kpi kpi--none")]
    rate = counts.on_time_rate_30d
    values = [("open", f"{counts.open:,}", "normal"),
              ("overdue", f"{counts.overdue:,}", "alarm" if counts.overdue else "normal"),
              ("reported_today", f"{counts.reported_today:,}", "normal"),
              ("closed_today", f"{counts.closed_today:,}", "normal"),
              ("on_time_rate_30d", "—" if rate is None else f"{rate * 100:.1f}%",
               "none" if rate is None else "normal" if rate >= 0.9 else "warn" if rate >= 0.8 else "alarm")]
    return [html.Div(t("incidents", lang), className="strip__title")] + [
        html.Div(className=f"kpi kpi--{state}", **{"data-kpi": key}, children=[
            html.Div(t(key, lang), className="kpi__label"), html.Div(value, className="kpi__value")])
        for key, value, state in values]


def _missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))


def _int_or_none(value: object) -> int | None:
    return None if _missing(value) else int(value)


def ranking_rows(children: pd.DataFrame, *, lang: str, lang_param: str | None) -> list[dict[str, Any]]:
    rows = []
    for r in children.itertuples(index=False):
        name = (r.name_en or r.name) if lang == "en" else r.name
        if r.level in ("district", "street"):
            name = f"[{name}](/{r.level}/{r.area_code}" + (f"?lang={lang_param}" if lang_param else "") + ")"
        rows.append({"code": r.area_code, "name": name, "open": int(r.open), "overdue": int(r.overdue),
                     "reported_today": _int_or_none(r.reported_today), "closed_today": _int_or_none(r.closed_today),
                     "on_time": None if _missing(r.on_time_rate_30d) else float(r.on_time_rate_30d)})
    return rows


def create_ranking(*, key: str, rows: list[dict[str, Any]], lang: str) -> dag.AgGrid:
    number = {"type": "numericColumn", "flex": 0.82, "minWidth": 60, "sortingOrder": ["desc", "asc", None]}
    return dag.AgGrid(
        id=mid(RANK, key),
        rowData=rows,
        columnDefs=[
            {"field": "name", "headerName": t("lvl_name", lang), "cellRenderer": "markdown", "flex": 2.4,
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


def create_funnel(funnel: pd.DataFrame, counts: IncidentCounts | None, lang: str) -> list[html.Div]:
    """One row per lifecycle stage: open incidents in it, overdue among them, the oldest one's age;
    the last row is today's closures (the loop's end)."""
    now = pd.Timestamp(utc_now())
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
                      query: dict[str, Any] | None = None, runtime: CityWallRuntime | None = None) -> html.Div:
    """The whole page of one area (raises SQLAlchemyError when the database is down).

    A drill-down must draw the map at once: the panels come from the tick cache when another
    screen read them lately, else they are laid out empty and the panels' callback fills them
    right after the page is drawn (its initial call), instead of ~130 ms of reads first."""
    runtime = runtime or current_runtime()
    cached = cached_panels(runtime=runtime, area=area)
    data = cached or PanelData(counts=None, children=pd.DataFrame(), categories=pd.DataFrame(),
                               funnel=pd.DataFrame(), vitals=pd.DataFrame())
    child = iq.LEVEL_CHILD.get(area.level)
    title_level = t(f"lvl_{area.level}", lang)
    links = [dcc.Link(t("lvl_to_list", lang), href="/incidents" + (f"?lang={lang_param}" if lang_param else ""),
                      className="cw-navlink")]
    header = html.Header(className="cw-head", children=[
        html.Div(className="cw-head__left", children=[
            create_breadcrumb(lineage, lang, lang_param=lang_param),
            html.H1([area.label(lang), html.Span(f" · {title_level} · {t('lvl_supervisor', lang)}",
                                                 className="cw-head__sub")], className="cw-head__title"),
        ]),
        html.Div(links, className="cw-head__links"),
    ])
    side: list[Any] = [_panel(t(f"lvl_children_{child or 'cell'}", lang),
                              html.Div(loading(), id=mid(RANK_BOX, key), className="cw-panel__grid"),
                              "cw-panel--rank")]
    categories = static_panel(create_categories(data.categories, lang)) if cached else loading()
    funnel = static_panel(create_funnel(data.funnel, data.counts, lang)) if cached else loading()
    side.append(html.Div(className="cw-side__pair", children=[
        _panel(t("lvl_categories", lang), html.Div(categories, id=mid(CATS, key), className="cw-bars"),
               "cw-panel--cats"),
        _panel(t("lvl_funnel", lang), html.Div(funnel, id=mid(FUNNEL, key), className="cw-bars cw-funnel"),
               "cw-panel--funnel"),
    ]))
    vitals_style = {} if not data.vitals.empty else {"display": "none"}
    preset = {k: v for k, v in (query or {}).items() if k in LIST_QUERY_KEYS}
    return html.Div(className=f"cw-page cw-page--{area.level}", **{"data-area": area.area_code}, children=[
        header,
        html.Div(static_panel(create_kpi_strip(data.counts, lang)) if cached else loading(), id=mid(KPIS, key),
                 className="cw-kpis"),
        html.Div(id=mid(PERROR, key), className="cw-page__error"),
        html.Main(className="cw-main", children=[
            build_map(key=key, area=area, lang=lang, lang_param=lang_param, runtime=runtime,
                      class_name="cw-main__map"),
            html.Div(side, className="cw-side"),
        ]),
        html.Div(className="cw-bottom", children=[
            _panel(t("list_title", lang), html.Div(loading(), id=mid(LIST_BOX, key), className="cw-list__box"),
                   "cw-panel--list"),
            _panel(t("lvl_vitals", lang), html.Div(static_panel(create_vitals(data.vitals, lang)), id=mid(VITALS, key),
                                                   className="cw-vitals"),
                   "cw-panel--vitals", id=mid(VITALS_BOX, key), style=vitals_style),
        ]),
        # The two grids (the ranking and the incident list) are mounted by ``mount_grids`` right
        # after the map is drawn: building them cost Chromium ~180 ms before the map showed.
        dcc.Store(id=mid(MOUNT, key), data=preset),
    ])


def create_not_found(*, message: str, up: Area | None, lang: str, lang_param: str | None,
                     suggestion: Area | None = None) -> html.Div:
    """The friendly block for an unknown or malformed code: what is wrong and the way one level up."""
    links: list[Any] = []
    if suggestion is not None:
        links.append(dcc.Link(t("nf_open_instead", lang, name=suggestion.label(lang)),
                              href=level_href(suggestion, lang_param), className="cw-nf__link", id="cw-nf-instead"))
    target = up.label(lang) if up else t("lvl_city", lang)
    href = level_href(up, lang_param) if up else "/city"
    links.append(dcc.Link(t("nf_up_to", lang, name=target), href=href, className="cw-nf__link", id="cw-nf-up"))
    return html.Div(className="not-found cw-nf", children=[
        html.H1(t("not_found_title", lang)), html.P(message, id="cw-nf-message"),
        html.Div(links, className="cw-nf__links"),
    ])


def render_level(level: str, code: object, lang: object, query: dict) -> html.Div:
    """The page of the area ``code`` at ``level``, or the not-found block (shared by district and street)."""
    runtime = current_runtime()
    lang_param = lang if lang in LANGUAGES else None
    lang = pick_language(lang, runtime.settings.lang)
    shown = str(code)[:40] if code is not None else ""
    try:
        lineage = iq.area_lineage(engine=runtime.engine, area_code=code) if iq.valid_code(code) else []
        city = lineage[0] if lineage and lineage[0].level == "city" else None
        if not iq.valid_code(code):
            block = create_not_found(message=t("nf_bad_code", lang, code=shown), up=None, lang=lang,
                                     lang_param=lang_param)
        elif not lineage:
            block = create_not_found(message=t(f"nf_no_{level}", lang, code=shown), up=None, lang=lang,
                                     lang_param=lang_param)
        elif lineage[-1].level != level:
            area = lineage[-1]
            block = create_not_found(
                message=t("nf_wrong_level", lang, code=shown, level=t(f"lvl_{area.level}", lang),
                          wanted=t(f"lvl_{level}", lang)),
                up=lineage[-2] if level == "street" and len(lineage) >= 2 and area.level == "district" else city,
                lang=lang, lang_param=lang_param, suggestion=area)
        else:
            area = lineage[-1]
            page = create_level_page(key=level, area=area, lineage=lineage, lang=lang, lang_param=lang_param,
                                     query=query, runtime=runtime)
            return html.Div(page, id=f"cw-page-{level}-{area.area_code}", className="cw-root")
    except SQLAlchemyError as exc:
        log.warning("%s page failed: %s", level, str(exc).splitlines()[0])
        return html.Div(t("map_error", lang), className="cw-page cw-page--error")
    return html.Div(block, id=f"cw-page-{level}-notfound", className="cw-root cw-root--nf")



# --- callbacks ---------------------------------------------------------------------------------

def refresh_panels(_n: int | None, scope: dict | None) -> tuple:
    try:
        area, lang = scope_area(scope)
        if area is None:
            return (no_update,) * 6
        data = load_panels(runtime=current_runtime(), area=area)
    except SQLAlchemyError as exc:
        log.warning("panels refresh failed: %s", str(exc).splitlines()[0])
        return (no_update,) * 5 + (t("map_error", (scope or {}).get("lang") or "zh"),)
    # Display-only panels as one component each (components/static_html.py: Dash's cost per component).
    return (static_panel(create_kpi_strip(data.counts, lang)), static_panel(create_categories(data.categories, lang)),
            static_panel(create_funnel(data.funnel, data.counts, lang)), static_panel(create_vitals(data.vitals, lang)),
            {} if not data.vitals.empty else {"display": "none"}, "")


def refresh_ranking(_n: int | None, scope: dict | None) -> Any:
    try:
        area, lang = scope_area(scope)
        if area is None:
            return no_update
        data = load_panels(runtime=current_runtime(), area=area)
    except SQLAlchemyError:
        return no_update  # refresh_panels reports it
    return ranking_rows(data.children, lang=lang, lang_param=_lang_param(scope))


def _lang_param(scope: dict | None) -> str | None:
    value = (scope or {}).get("lang_param") if isinstance(scope, dict) else None
    return value if value in LANGUAGES else None


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
        data = load_panels(runtime=current_runtime(), area=area)
        children, categories = data.children, data.categories
    except SQLAlchemyError as exc:  # the grids still come (empty); refresh_panels shows the error
        log.warning("level grids failed: %s", str(exc).splitlines()[0])
        children = pd.DataFrame(columns=["area_code", "level", "name", "name_en", "open", "overdue",
                                         "reported_today", "closed_today", "on_time_rate_30d"])
        categories = pd.DataFrame(columns=["category", "category_name", "category_name_en", "open", "overdue"])
    preset = preset if isinstance(preset, dict) else {}
    ranking = create_ranking(key=key, rows=ranking_rows(children, lang=lang, lang_param=_lang_param(scope)),
                             lang=lang)
    table = create_incident_table(key=key, area=area, lang=lang, categories=categories,
                                  initial=filter_from_query({k: preset.get(k) for k in LIST_QUERY_KEYS}))
    return ranking, table


def register_panel_callbacks() -> None:
    """Register the panels' MATCH callbacks once per app; call it from every level page module."""
    if callbacks_pending(f'"{FUNNEL}"'):
        return
    security.callback(
        Output(mid(KPIS, MATCH), "children"),
        Output(mid(CATS, MATCH), "children"),
        Output(mid(FUNNEL, MATCH), "children"),
        Output(mid(VITALS, MATCH), "children"),
        Output(mid(VITALS_BOX, MATCH), "style"),
        Output(mid(PERROR, MATCH), "children"),
        Input(tick_id(MATCH), "n_intervals"),
        State(mid(SCOPE, MATCH), "data"),
        # Its initial call fills panels a page laid out empty (create_level_page).
        access="wall",
    )(refresh_panels)
    security.callback(
        Output(mid(RANK_BOX, MATCH), "children"),
        Output(mid(LIST_BOX, MATCH), "children"),
        Input(mid(MOUNT, MATCH), "data"),
        State(mid(SCOPE, MATCH), "data"),
        access="leader",
    )(mount_grids)
    security.callback(
        Output(mid(RANK, MATCH), "rowData"),
        Input(tick_id(MATCH), "n_intervals"),
        State(mid(SCOPE, MATCH), "data"),
        prevent_initial_call=True,
        access="wall",
    )(refresh_ranking)
