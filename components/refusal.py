"""The block a page shows instead of its content when the viewer may not see it."""
from __future__ import annotations

from dash import dcc, html


def create_refusal(*, title: str, body: str, back_label: str, back_href: str) -> html.Div:
    return html.Div(className="not-found cw-refused", children=[
        html.H1(title), html.P(body), dcc.Link(back_label, href=back_href),
    ])
