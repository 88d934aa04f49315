"""The pattern-matching (MATCH) callbacks that several pages share: the map's, the level panels'
and the incident list's. Registered once per app, explicitly: ``create_app`` calls
``register_shared_callbacks`` while it builds the app, when Dash runs the page modules too (page
modules are re-executed for every app, shared modules are imported once: they cannot register at
import).

Each server callback declares its rule here, where it is registered (``security.callback``:
the least role that may run it); the scope of the areas it names is checked by the gate and again
by the readers it calls."""
from __future__ import annotations

import dash
from dash import MATCH, ClientsideFunction, Input, Output, State

from components import ids
from pages import _fleet, _incident_list, _level, _map, _resources, _takeover
from security import callback

mid = ids.mid
# What a map's refresh writes: a poll's reply and a pushed message (assets/map_push.js) fill the same.
MAP_OUTPUTS = ((ids.MAP_AREAS, "hideout"), (ids.MAP_CELLS, "hideout"), (ids.MAP_POINTS, "data"),
               (ids.MAP_LEGEND, "children"), (ids.MAP_ERROR, "children"), (ids.MAP_SIG, "data"))


def map_outputs(*, duplicate: bool = False) -> list[Output]:
    return [Output(mid(name, MATCH), prop, allow_duplicate=duplicate) for name, prop in MAP_OUTPUTS]


def register_map_callbacks() -> None:
    callback(
        *map_outputs(),
        Input(mid(ids.MAP_POLL, MATCH), "data"),
        State(mid(ids.MAP_SCOPE, MATCH), "data"),
        State(mid(ids.MAP_SIG, MATCH), "data"),
        prevent_initial_call=True,
        access="wall",
    )(_map.refresh_map)
    # The map's tick raises its poll unless push brings its counts (assets/map_push.js; with
    # CITYWALL_TRANSPORT=poll, or when push is silent, every tick as before).
    dash.clientside_callback(
        ClientsideFunction(namespace="citywallMapPush", function_name="pollMap"),
        Output(mid(ids.MAP_POLL, MATCH), "data"),
        Input(ids.tick_id(MATCH), "n_intervals"),
        State(mid(ids.MAP_SCOPE, MATCH), "data"),
    )
    # A pushed map message (pages/_push_map.py) applied in the browser: the same outputs as a poll's.
    dash.clientside_callback(
        ClientsideFunction(namespace="citywallMapPush", function_name="applyPush"),
        *map_outputs(duplicate=True),
        Input(mid(ids.MAP_PUSH, MATCH), "data"),
        State(mid(ids.MAP_AREAS, MATCH), "hideout"),
        State(mid(ids.MAP_CELLS, MATCH), "hideout"),
        State(mid(ids.MAP_POINTS, MATCH), "data"),
        State(mid(ids.MAP_SIG, MATCH), "data"),
        State(mid(ids.MAP_ERROR, MATCH), "children"),
        prevent_initial_call=True,
    )
    callback(
        Output(mid(ids.MAP_CELLS, MATCH), "data"),
        Input(mid(ids.MAP_MISSING, MATCH), "data"),
        State(mid(ids.MAP_SCOPE, MATCH), "data"),
        prevent_initial_call=True,
        access="wall",
    )(_map.append_cells)
    callback(  # the street map's field resources (pages/_resources.py): only maps with that layer match
        Output(mid(ids.RES_LAYER, MATCH), "data"),
        Input(ids.tick_id(MATCH), "n_intervals"),
        State(mid(ids.MAP_SCOPE, MATCH), "data"),
        prevent_initial_call=True,
        access="wall",
    )(_resources.refresh_resources)
    dash.clientside_callback(
        ClientsideFunction(namespace="citywallMap", function_name="missingCells"),
        Output(mid(ids.MAP_MISSING, MATCH), "data"),
        Input(mid(ids.MAP_CELLS, MATCH), "hideout"),
        State(mid(ids.MAP_CELLS, MATCH), "data"),
        prevent_initial_call=True,
    )


def register_panel_callbacks() -> None:
    callback(
        Output(mid(ids.LVL_KPIS, MATCH), "children"),
        Output(mid(ids.LVL_CATS, MATCH), "children"),
        Output(mid(ids.LVL_FUNNEL, MATCH), "children"),
        Output(mid(ids.LVL_VITALS, MATCH), "children"),
        Output(mid(ids.LVL_VITALS_BOX, MATCH), "style"),
        Output(mid(ids.LVL_ERROR, MATCH), "children"),
        Input(ids.tick_id(MATCH), "n_intervals"),
        State(mid(ids.MAP_SCOPE, MATCH), "data"),
        State(mid(ids.FLEET_SCREEN, MATCH), "data"),  # the wall fleet: a level page's heartbeat rides on it
        # Its initial call fills panels a page laid out empty (create_level_page).,
        access="wall",
    )(_level.refresh_panels)
    callback(
        Output(mid(ids.LVL_RANK_BOX, MATCH), "children"),
        Output(mid(ids.LVL_LIST_BOX, MATCH), "children"),
        Input(mid(ids.LVL_MOUNT, MATCH), "data"),
        State(mid(ids.MAP_SCOPE, MATCH), "data"),
        access="leader",
    )(_level.mount_grids)
    callback(
        Output(mid(ids.LVL_RANK, MATCH), "rowData"),
        Input(ids.tick_id(MATCH), "n_intervals"),
        State(mid(ids.MAP_SCOPE, MATCH), "data"),
        prevent_initial_call=True,
        access="wall",
    )(_level.refresh_ranking)


def register_list_callbacks() -> None:
    filters = [Input(mid(kind, MATCH), "value") for kind in (ids.LIST_CATEGORY, ids.LIST_STATUS, ids.LIST_PRIORITY,
                                                             ids.LIST_OVERDUE, ids.LIST_SEARCH)]
    callback(
        Output(mid(ids.LIST_GRID, MATCH), "getRowsResponse"),
        Output(mid(ids.LIST_COUNT, MATCH), "children"),
        Output(mid(ids.LIST_ERROR, MATCH), "children"),
        Input(mid(ids.LIST_GRID, MATCH), "getRowsRequest"),
        *[State(i.component_id, "value") for i in filters],
        State(mid(ids.LIST_SCOPE, MATCH), "data"),
        prevent_initial_call=True,
        access="leader",
    )(_incident_list.get_rows)
    callback(
        Output(mid(ids.LIST_DOWNLOAD, MATCH), "data"),
        Output(mid(ids.LIST_ERROR, MATCH), "children", allow_duplicate=True),
        Input(mid(ids.LIST_EXPORT, MATCH), "n_clicks"),
        *[State(i.component_id, "value") for i in filters],
        State(mid(ids.LIST_SCOPE, MATCH), "data"),
        State(mid(ids.LIST_GRID, MATCH), "getRowsRequest"),
        prevent_initial_call=True,
        access="supervisor",
    )(_incident_list.export_csv)
    dash.clientside_callback(
        ClientsideFunction(namespace="citywallMap", function_name="refilter"),
        Output(mid(ids.LIST_VERSION, MATCH), "data"),
        *filters,
        State(mid(ids.LIST_SCOPE, MATCH), "data"),
        State(mid(ids.LIST_VERSION, MATCH), "data"),
        prevent_initial_call=True,
    )
    dash.clientside_callback(
        ClientsideFunction(namespace="citywallMap", function_name="highlight"),
        Output(mid(ids.MAP_HIGHLIGHT, MATCH), "data"),
        Output(mid(ids.MAP, MATCH), "viewport"),
        Output(mid(ids.LIST_SELECTED, MATCH), "children"),
        Input(mid(ids.LIST_GRID, MATCH), "selectedRows"),
        State(mid(ids.LIST_SCOPE, MATCH), "data"),
        prevent_initial_call=True,
    )
    dash.clientside_callback(
        ClientsideFunction(namespace="citywallMap", function_name="pointToRow"),
        Output(mid(ids.LIST_GRID, MATCH), "selectedRows"),
        Input(mid(ids.MAP_POINTS, MATCH), "clickData"),
        prevent_initial_call=True,
    )


def register_shared_callbacks() -> None:
    """Every shared MATCH callback, once for the app being built: call it from ``create_app`` (Dash
    hands the callbacks registered meanwhile to that app when it starts, like the pages' own)."""
    register_map_callbacks()
    register_panel_callbacks()
    register_list_callbacks()
    _takeover.register_takeover_callbacks()
    _fleet.register_fleet_callbacks()
