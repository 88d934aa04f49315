"""One street (/street/<code>): its grid cells and every open incident as a point, its panels and list."""
from __future__ import annotations

import dash
from dash import html

from pages._level import render_level

LEVEL = "street"
dash.register_page(__name__, path_template=f"/{LEVEL}/<code>", title="CityWall · street")


def layout(code: str | None = None, lang: str | None = None, **query: object) -> html.Div:
    return render_level(LEVEL, code, lang, query)
