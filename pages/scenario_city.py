"""The city's board of one scenario (``/scenario/<scenario_id>``): pages/scenario.py's board for the
city area (its callback serves this page too)."""
from __future__ import annotations

import dash
from dash import html

from pages._scenario import render_board
from security import page_access

# Matched after /scenario/<scenario_id>/<area_code> (Dash orders pages by module name).
dash.register_page(__name__, path_template="/scenario/<scenario_id>", title="CityWall · scenario",
                   **page_access("wall"))  # the whole city


def layout(scenario_id: str | None = None, lang: str | None = None, **query: object) -> html.Div:
    query.pop("area_code", None)  # the city's board: an area in the query string changes nothing
    return render_board(scenario_id, None, lang, query)
