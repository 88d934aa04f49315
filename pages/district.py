"""One district (/district/<code>): its streets on the map, its panels and its list; unknown or
malformed codes get a friendly not-found block with the way up."""
from __future__ import annotations

import dash
from dash import html

from components.incident_map import register_map_callbacks
from components.incident_table import register_table_callbacks
from components.level_panels import register_panel_callbacks, render_level
from security import page_access

LEVEL = "district"
dash.register_page(__name__, path_template=f"/{LEVEL}/<code>", title="CityWall · district",
                   **page_access("leader", area_arg="code"))
register_map_callbacks()
register_table_callbacks()
register_panel_callbacks()


def layout(code: str | None = None, lang: str | None = None, **query: object) -> html.Div:
    return render_level(LEVEL, code, lang, query)
