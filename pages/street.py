"""One street (/street/<code>): its grid cells and every open incident as a point, its panels and list."""
from __future__ import annotations

import dash
from dash import html

from pages._level import render_level
from security import page_access

LEVEL = "street"
dash.register_page(__name__, path_template=f"/{LEVEL}/<code>", title="CityWall · street",
                   **page_access("leader", area_arg="code"))


def layout(code: str | None = None, lang: str | None = None, **query: object) -> html.Div:
    return render_level(LEVEL, code, lang, query)
