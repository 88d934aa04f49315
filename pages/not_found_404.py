"""A friendly page for any unknown address, with a way back; never a traceback."""
from __future__ import annotations

import dash
from dash import dcc, html

from components.i18n import pick_language, t
from components.links import wall_href
from pages._runtime import current_runtime
from security import page_access

dash.register_page(__name__, path="/404", title="CityWall · not found",
                   **page_access("wall", shows_area=False))


def layout(lang: str | None = None, **_query: object) -> html.Div:
    lang = pick_language(lang, current_runtime().settings.lang)
    return html.Div(className="not-found", children=[
        html.H1(t("not_found_title", lang)),
        html.P(t("not_found_body", lang)),
        dcc.Link(t("back_to_city", lang), href=wall_href()),
    ])
