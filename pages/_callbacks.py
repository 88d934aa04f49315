"""The pattern-matching (MATCH) callbacks that several pages share: the map's, the level panels'
and the incident list's. Registered once per app, explicitly, by ``register_shared_callbacks``
(app.py), on the app itself: page modules are re-executed for every app, shared modules are not.

Each callback's rule for the security layer is to be declared here, where it is registered."""
from __future__ import annotations

import dash
from dash import MATCH, ClientsideFunction, Input, Output, State

from components import ids
from pages import _incident_list, _level, _map

mid = ids.mid


def register_map_callbacks(app: dash.Dash) -> None:
    app.callback(
        Output(mid(ids.MAP_AREAS, MATCH), "hideout"),
        Output(mid(ids.MAP_CELLS, MATCH), "hideout"),
        Output(mid(ids.MAP_POINTS, MATCH), "data"),
        Output(mid(ids.MAP_LEGEND, MATCH), "children"),
        Output(mid(ids.MAP_ERROR, MATCH), "children"),
        Output(mid(ids.MAP_SIG, MATCH), "data"),
        Input(ids.tick_id(MATCH), "n_intervals"),
        State(mid(ids.MAP_SCOPE, MATCH), "data"),
        State(mid(ids.MAP_SIG, MATCH), "data"),
        prevent_initial_call=True,
    )(_map.refresh_map)
    app.callback(
        Output(mid(ids.MAP_CELLS, MATCH), "data"),
        Input(mid(ids.MAP_MISSING, MATCH), "data"),
        State(mid(ids.MAP_SCOPE, MATCH), "data"),
        prevent_initial_call=True,
    )(_map.append_cells)
    app.clientside_callback(
        ClientsideFunction(namespace="citywallMap", function_name="missingCells"),
        Output(mid(ids.MAP_MISSING, MATCH), "data"),
        Input(mid(ids.MAP_CELLS, MATCH), "hideout"),
        State(mid(ids.MAP_CELLS, MATCH), "data"),
        prevent_initial_call=True,
    )


def register_panel_callbacks(app: dash.Dash) -> None:
    app.callback(
        Output(mid(ids.LVL_KPIS, MATCH), "children"),
        Output(mid(ids.LVL_CATS, MATCH), "children"),
        Output(mid(ids.LVL_FUNNEL, MATCH), "children"),
        Output(mid(ids.LVL_VITALS, MATCH), "children"),
        Output(mid(ids.LVL_VITALS_BOX, MATCH), "style"),
        Output(mid(ids.LVL_ERROR, MATCH), "children"),
        Input(ids.tick_id(MATCH), "n_intervals"),
        State(mid(ids.MAP_SCOPE, MATCH), "data"),
        # Its initial call fills panels a page laid out empty (create_level_page).
    )(_level.refresh_panels)
    app.callback(
        Output(mid(ids.LVL_RANK_BOX, MATCH), "children"),
        Output(mid(ids.LVL_LIST_BOX, MATCH), "children"),
        Input(mid(ids.LVL_MOUNT, MATCH), "data"),
        State(mid(ids.MAP_SCOPE, MATCH), "data"),
    )(_level.mount_grids)
    app.callback(
        Output(mid(ids.LVL_RANK, MATCH), "rowData"),
        Input(ids.tick_id(MATCH), "n_intervals"),
        State(mid(ids.MAP_SCOPE, MATCH), "data"),
        prevent_initial_call=True,
    )(_level.refresh_ranking)


def register_list_callbacks(app: dash.Dash) -> None:
    filters = [Input(mid(kind, MATCH), "value") for kind in (ids.LIST_CATEGORY, ids.LIST_STATUS, ids.LIST_PRIORITY,
                                                             ids.LIST_OVERDUE, ids.LIST_SEARCH)]
    app.callback(
        Output(mid(ids.LIST_GRID, MATCH), "getRowsResponse"),
        Output(mid(ids.LIST_COUNT, MATCH), "children"),
        Output(mid(ids.LIST_ERROR, MATCH), "children"),
        Input(mid(ids.LIST_GRID, MATCH), "getRowsRequest"),
        *[State(i.component_id, "value") for i in filters],
        State(mid(ids.LIST_SCOPE, MATCH), "data"),
        prevent_initial_call=True,
    )(_incident_list.get_rows)
    app.callback(
        Output(mid(ids.LIST_DOWNLOAD, MATCH), "data"),
        Output(mid(ids.LIST_ERROR, MATCH), "children", allow_duplicate=True),
        Input(mid(ids.LIST_EXPORT, MATCH), "n_clicks"),
        *[State(i.component_id, "value") for i in filters],
        State(mid(ids.LIST_SCOPE, MATCH), "data"),
        State(mid(ids.LIST_GRID, MATCH), "getRowsRequest"),
        prevent_initial_call=True,
    )(_incident_list.export_csv)
    app.clientside_callback(
        ClientsideFunction(namespace="citywallMap", function_name="refilter"),
        Output(mid(ids.LIST_VERSION, MATCH), "data"),
        *filters,
        State(mid(ids.LIST_SCOPE, MATCH), "data"),
        State(mid(ids.LIST_VERSION, MATCH), "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="citywallMap", function_name="highlight"),
        Output(mid(ids.MAP_HIGHLIGHT, MATCH), "data"),
        Output(mid(ids.MAP, MATCH), "viewport"),
        Output(mid(ids.LIST_SELECTED, MATCH), "children"),
        Input(mid(ids.LIST_GRID, MATCH), "selectedRows"),
        State(mid(ids.LIST_SCOPE, MATCH), "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="citywallMap", function_name="pointToRow"),
        Output(mid(ids.LIST_GRID, MATCH), "selectedRows"),
        Input(mid(ids.MAP_POINTS, MATCH), "clickData"),
        prevent_initial_call=True,
    )


def register_shared_callbacks(app: dash.Dash) -> None:
    """Every shared MATCH callback, once for ``app``."""
    register_map_callbacks(app)
    register_panel_callbacks(app)
    register_list_callbacks(app)
