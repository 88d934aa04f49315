"""One district (/district/<code>): its streets on the map, its panels and its list; unknown or
malformed codes get a friendly not-found block with the way up."""
from __future__ import annotations

import dash
from dash import html

from pages._level import render_level
from security import page_access

LEVEL = "district"
dash.register_page(__name__, path_template=f"/{LEVEL}/<code>", title="CityWall · district",
                   **page_access("leader", area_arg="code"))


def layout(code: str | None = None, lang: str | None = None, **query: object) -> html.Div:
    return render_level(LEVEL, code, lang, query)
