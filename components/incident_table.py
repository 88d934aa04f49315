"""The incident list: filters as Dash controls, a dash-ag-grid paging through the server
(infinite row model), the rows and the CSV export of the filtered list. Pure builders; its
callbacks are in pages/_incident_list.py.

Ids are pattern-matching (components/ids.py); the map and the list of one page share the key, so
a selected row is highlighted on that page's map and a click on an incident point selects its row.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import dash_ag_grid as dag
import pandas as pd
from dash import dcc, html

from components import ids
from components.formatting import local_stamp
from components.i18n import LevelWords, level_label, t
from components.theme import PALETTE
from data_access.models import OPEN_STATUSES, Area, IncidentFilter

mid = ids.mid
GRID, CATEGORY, STATUS, PRIORITY, OVERDUE, SEARCH = (ids.LIST_GRID, ids.LIST_CATEGORY, ids.LIST_STATUS,
                                                     ids.LIST_PRIORITY, ids.LIST_OVERDUE, ids.LIST_SEARCH)
EXPORT, DOWNLOAD, LSCOPE, COUNT, LERROR, SELECTED, VERSION = (ids.LIST_EXPORT, ids.LIST_DOWNLOAD, ids.LIST_SCOPE,
                                                              ids.LIST_COUNT, ids.LIST_ERROR, ids.LIST_SELECTED,
                                                              ids.LIST_VERSION)
BLOCK_ROWS = 100
GRID_THEME = {"function": f"themeBalham.withParams({{backgroundColor: '{PALETTE['panel']}',"
                          f" foregroundColor: '{PALETTE['text']}', headerBackgroundColor: '#16213a',"
                          f" accentColor: '{PALETTE['accent']}', borderColor: '{PALETTE['panel-edge']}',"
                          " oddRowBackgroundColor: '#121b2e', fontSize: 'max(14px, 0.73vw)',"
                          " headerFontSize: 'max(14px, 0.73vw)', rowHeight: 'max(30px, 1.56vw)',"
                          " headerHeight: 'max(32px, 1.67vw)', fontFamily: 'inherit'})"}  # 1080p: 14/30/32 px; 4K: x2
CSV_COLUMNS = ("incident_id", "category", "category_name", "priority", "status", "reported_at", "due_at", "overdue",
               "district_code", "street_code", "street_name", "cell_id", "lat", "lon", "title", "address")
CSV_NUMERIC = ("priority", "overdue", "lat", "lon")  # written as numbers (a negative longitude stays a number)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP's list: a spreadsheet reads such a cell as a formula


def filter_from_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """The list's control values from a URL query string (``?category=gas&overdue=1&q=...``)."""
    filt = IncidentFilter.from_values(categories=query.get("category"), statuses=query.get("status"),
                                         priorities=query.get("priority"), overdue=query.get("overdue"),
                                         search=query.get("q"))
    return {"categories": list(filt.categories), "statuses": list(filt.statuses),
            "priorities": list(filt.priorities),
            "overdue": "any" if filt.overdue is None else ("1" if filt.overdue else "0"), "search": filt.search}


def _clean(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def grid_rows(frame: pd.DataFrame, *, lang: str, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Rows for the grid: labels localised, times in the city's zone, lat/lon kept for the map."""
    rows = []
    for r in frame.itertuples(index=False):
        rows.append({
            "incident_id": r.incident_id,
            "priority_label": t(f"prio_{int(r.priority)}", lang), "priority": int(r.priority),
            "category_name": r.category_name_en if lang == "en" else r.category_name,
            "status_label": t(f"ist_{r.status}", lang),
            "reported_local": local_stamp(r.reported_at, tz), "due_local": local_stamp(r.due_at, tz),
            "overdue": int(r.overdue), "overdue_label": t("map_overdue_flag", lang) if int(r.overdue) else "",
            "title": _clean(r.title), "address": _clean(r.address),
            "street_name": _clean(r.street_name_en if lang == "en" and r.street_name_en else r.street_name),
            "lat": _clean(r.lat), "lon": _clean(r.lon),
        })
    return rows


def neutralise_cell(value: object) -> object:
    """A text cell that a spreadsheet would read as a formula, prefixed with a single quote (OWASP);
    everything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_text(chunks: Iterable[pd.DataFrame], *, tz: ZoneInfo) -> str:
    """The export: one header, then every chunk's rows (times in the city's zone, ISO with offset).
    No cell begins a formula: the numeric columns are written as numbers (anything else in them is
    left empty), every other cell as quoted text, prefixed with ``'`` when it begins with one of
    FORMULA_START (docs/security.md, "Exports carry no formulas")."""
    buffer = io.StringIO()
    buffer.write(",".join(CSV_COLUMNS) + "\n")
    for chunk in chunks:
        out = chunk.reindex(columns=list(CSV_COLUMNS)).copy()
        for column in ("reported_at", "due_at"):
            out[column] = [local_stamp(v, tz, "%Y-%m-%dT%H:%M:%S%z") for v in out[column]]
        for column in CSV_COLUMNS:
            if column in CSV_NUMERIC:
                number = pd.to_numeric(out[column], errors="coerce")
                out[column] = number if column in ("lat", "lon") else number.round().astype("Int64")
            else:
                out[column] = [None if _clean(v) is None else neutralise_cell(str(_clean(v))) for v in out[column]]
        out.to_csv(buffer, index=False, header=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    return buffer.getvalue()


def _share(px: int) -> dict[str, Any]:
    """A column's width as a share of the grid's (its 1080p width in px / 100), so that the
    columns grow with the type on a 4K screen instead of cutting their headers short."""
    return {"flex": px / 100, "minWidth": int(px * 0.7)}


def column_defs(lang: str, *, with_street: bool, words: LevelWords | None = None) -> list[dict[str, Any]]:
    cols = [
        {"field": "incident_id", "headerName": t("list_id", lang), "colId": "incident_id", "width": 150,
         "pinned": "left"},
        {"field": "priority_label", "headerName": t("list_priority", lang), "colId": "priority", **_share(90),
         "cellClassRules": {"cw-cell-prio-3": "params.data && params.data.priority == 3",
                            "cw-cell-prio-2": "params.data && params.data.priority == 2"}},
        {"field": "category_name", "headerName": t("list_category", lang), "colId": "category_name", **_share(130)},
        {"field": "status_label", "headerName": t("list_status", lang), "colId": "status", **_share(110)},
        {"field": "reported_local", "headerName": t("list_reported_at", lang), "colId": "reported_at",
         **_share(115)},
        {"field": "due_local", "headerName": t("list_due_at", lang), "colId": "due_at", **_share(115)},
        {"field": "overdue_label", "headerName": t("list_overdue", lang), "colId": "overdue", **_share(90),
         "cellClass": "cw-cell-overdue"},
        {"field": "title", "headerName": t("list_incident_title", lang), "colId": "title", "flex": 2,
         "minWidth": 160},
        {"field": "address", "headerName": t("list_address", lang), "colId": "address", "flex": 2, "minWidth": 160},
    ]
    if with_street:
        street = level_label("lvl", "street", lang, words) if words else t("list_street", lang)
        cols.append({"field": "street_name", "headerName": street, "colId": "street_name",
                     **_share(150)})
    return cols


def _options(pairs: Iterable[tuple[Any, str]]) -> list[dict[str, Any]]:
    return [{"value": value, "label": label} for value, label in pairs]


def create_incident_table(*, key: str, area: Area | None, lang: str, categories: pd.DataFrame,
                          initial: Mapping[str, Any] | None = None, height: str = "100%",
                          words: LevelWords | None = None, at: str | None = None) -> html.Div:
    """Filters, the server-paged grid, the export button; ``area`` None (or the city): every incident;
    ``at`` (a replay, issue 15): the incidents open at that moment, the export of the same."""
    initial = dict(initial or {})
    level = area.level if area else "city"
    category_pairs = [(r.category, r.category_name_en if lang == "en" else r.category_name)
                      for r in categories.itertuples(index=False)]
    known = {value for value, _ in category_pairs}
    category_pairs += [(c, c) for c in initial.get("categories", []) if c not in known]
    controls = html.Div(className="cw-list__filters", children=[
        dcc.Dropdown(id=mid(CATEGORY, key), options=_options(category_pairs), value=initial.get("categories", []),
                     multi=True, placeholder=t("list_category", lang), className="cw-filter cw-filter--wide"),
        dcc.Dropdown(id=mid(STATUS, key), options=_options((s, t(f"ist_{s}", lang)) for s in OPEN_STATUSES),
                     value=initial.get("statuses", []), multi=True, placeholder=t("list_status", lang),
                     className="cw-filter"),
        dcc.Dropdown(id=mid(PRIORITY, key), options=_options((p, t(f"prio_{p}", lang)) for p in (3, 2, 1)),
                     value=initial.get("priorities", []), multi=True, placeholder=t("list_priority", lang),
                     className="cw-filter"),
        dcc.Dropdown(id=mid(OVERDUE, key), clearable=False, searchable=False, className="cw-filter",
                     value=initial.get("overdue", "any"),
                     options=_options([("any", t("list_overdue_any", lang)), ("1", t("list_overdue_yes", lang)),
                                       ("0", t("list_overdue_no", lang))])),
        dcc.Input(id=mid(SEARCH, key), type="search", debounce=0.4, value=initial.get("search", ""),
                  placeholder=t("list_search", lang), className="cw-filter cw-filter--search"),
        html.Button(t("list_export", lang), id=mid(EXPORT, key), className="cw-button", n_clicks=0),
        html.Span(id=mid(COUNT, key), className="cw-list__count"),
        html.Span(id=mid(LERROR, key), className="cw-list__error"),
    ])
    grid = dag.AgGrid(
        id=mid(GRID, key),
        rowModelType="infinite",
        columnDefs=column_defs(lang, with_street=level != "street", words=words),
        defaultColDef={"sortable": True, "resizable": True, "filter": False, "suppressHeaderMenuButton": True},
        getRowId="params.data.incident_id",
        rowClassRules={"cw-row--overdue": "params.data && params.data.overdue == 1"},
        dashGridOptions={"theme": GRID_THEME, "rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                               "enableClickSelection": True},
                         "cacheBlockSize": BLOCK_ROWS, "maxBlocksInCache": 20, "infiniteInitialRowCount": 1,
                         "maxConcurrentDatasourceRequests": 1, "animateRows": False},
        style={"height": height, "width": "100%"},
        className="cw-list__grid",
    )
    return html.Div(className="cw-list", children=[
        controls,
        html.Div(id=mid(SELECTED, key), className="cw-list__selected"),
        html.Div(grid, className="cw-list__gridwrap"),
        dcc.Download(id=mid(DOWNLOAD, key)),
        dcc.Store(id=mid(VERSION, key), data=0),
        dcc.Store(id=mid(LSCOPE, key), data={"level": level, "area_code": area.area_code if area else None,
                                              "lang": lang, "grid_id": mid(GRID, key),
                                              "selected_label": t("list_selected", lang),
                                              **({"at": at} if at else {})}),
    ])
