"""One scenario's board in one area (``/scenario/<scenario_id>/<area_code>``; the city's board is
``/scenario/<scenario_id>``, pages/scenario_city.py): refreshed every tick by the callback here,
which serves both addresses (the same ids)."""
from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, html

from components import ids
from pages._scenario import PARTS, refresh_board, render_board
from pages._scenario_actions import mark_clicked
from security import callback, page_access

dash.register_page(__name__, path_template="/scenario/<scenario_id>/<area_code>", title="CityWall · scenario",
                   **page_access("wall", area_arg="area_code"))

_PART_TARGETS = {  # PARTS -> (id, property)
    "status": (ids.SB_STATUS, "children"), "reason": (ids.SB_REASON, "children"),
    "indicators": (ids.SB_INDICATORS, "children"), "incidents": (ids.SB_INCIDENTS, "children"),
    "incidents_n": (ids.SB_INCIDENTS_N, "children"), "resources": (ids.SB_RESOURCES, "children"),
    "resources_n": (ids.SB_RESOURCES_N, "children"), "readiness": (ids.SB_READINESS, "children"),
    "checklist_n": (ids.SB_CHECKLIST_N, "children"),
    "points": (ids.SB_POINTS, "data"),
    "markers": (ids.mid(ids.RES_LAYER, ids.SB_MAP_KEY), "data"),
}


def layout(scenario_id: str | None = None, area_code: str | None = None, lang: str | None = None,
           **query: object) -> html.Div:
    return render_board(scenario_id, area_code, lang, query)


callback(
    *[Output(*_PART_TARGETS[name]) for name in PARTS],
    Output(ids.step_id(ids.SB_STEP_INFO, ALL), "children"),
    Output(ids.step_id(ids.SB_STEP_DONE, ALL), "disabled"),
    Output(ids.step_id(ids.SB_STEP_SKIP, ALL), "disabled"),
    Output(ids.SB_SIGS, "data"),
    Output(ids.SB_ERROR, "children"),
    Output(ids.STATUS_STORE, "data"),
    Output(ids.SB_FORM, "data"),
    Input(ids.SB_INTERVAL, "n_intervals"),
    State(ids.SB_SCOPE, "data"),
    State(ids.SB_SIGS, "data"),
    State(ids.SB_FORM, "data"),
    State(ids.mid(ids.FLEET_SCREEN, "board"), "data"),  # the wall fleet: a board's heartbeat rides on its tick
    # Its initial call sends nothing new (the digests match the layout's) but the status bar's
    # store: the badge says LIVE at once, not after the first tick.
    access="wall",
)(refresh_board)

callback(  # a Done / Skip click: actions.service.mark_step checks the step's own role, scope, token, replay
    Output(ids.SB_MARK_RESULT, "children"),
    Output(ids.SB_MARK_RESULT, "className"),
    Output(ids.SB_FORM, "data", allow_duplicate=True),
    Output(ids.SB_COMMENT, "value"),
    Input(ids.step_id(ids.SB_STEP_DONE, ALL), "n_clicks"),
    Input(ids.step_id(ids.SB_STEP_SKIP, ALL), "n_clicks"),
    State(ids.SB_COMMENT, "value"),
    State(ids.SB_FORM, "data"),
    State(ids.SB_SCOPE, "data"),
    prevent_initial_call=True,
    access="leader",  # the least role of any step (actions.service.MINIMUM_ROLE["step"])
)(mark_clicked)
