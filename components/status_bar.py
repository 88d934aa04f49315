"""The header every wall shows: city, live clock, "data as of" and the connection badge.

The clock and the badge run in the browser (assets/citywall.js): the badge turns OFFLINE when
no successful refresh arrived for 3 ticks, even when the server itself is gone.
"""
from __future__ import annotations

import dash
from dash import ClientsideFunction, Input, Output, State, dcc, html

from components import ids
from components.i18n import t


def create_status_bar(*, title: str, subtitle: str, lang: str, timezone: str, refresh_s: float,
                      nav: html.Nav | None = None, as_of_label: str | None = None,
                      replay: bool = False) -> html.Header:
    """``as_of_label``: what the time beside it is (default "Data as of": the newest reading; the
    wall of a city without vital signs says "Newest incident change"); ``replay`` (issue 15): the
    badge says REPLAY instead of LIVE and the clock shows the replayed moment (assets/replay.js)."""
    labels = {key: t(key, lang) for key in ("live", "offline", "connecting", "db_unavailable", "last_good_data",
                                                 "access_revoked")}
    labels["replay"] = t("rpl_badge", lang)
    return html.Header(className="status-bar", children=[
        html.Div(className="status-bar__title", children=[
            html.H1(title), html.Span(subtitle, className="status-bar__subtitle"), nav,
        ]),
        html.Div(className="status-bar__right", children=[
            html.Div(className="status-bar__asof", children=[
                html.Span((as_of_label or t("data_as_of", lang)) + " "), html.Span("--:--:--", id=ids.DATA_AS_OF),
            ]),
            html.Div(t("connecting", lang), id=ids.CONNECTION_BADGE, className="badge badge--connecting"),
            html.Div("--:--:--", id=ids.CLOCK, className="status-bar__clock"),
        ]),
        dcc.Store(id=ids.STATUS_STORE),
        dcc.Store(id=ids.CONNECTION_STORE, data={"labels": labels, "timezone": timezone,
                                                 "refresh_s": refresh_s, "lang": lang, "replay": replay,
                                                 # security.web.SESSION_PATH: may this screen still read?
                                                 "session_url": dash.get_relative_path("/_citywall/session")}),
        dcc.Interval(id=ids.CLOCK_INTERVAL, interval=1000),
    ])


def register_status_bar_callbacks(app: dash.Dash) -> None:
    """Clientside only: the clock and the badge cost the server nothing."""
    app.clientside_callback(
        ClientsideFunction(namespace="citywall", function_name="statusBar"),
        Output(ids.CLOCK, "children"),
        Output(ids.CONNECTION_BADGE, "children"),
        Output(ids.CONNECTION_BADGE, "className"),
        Output(ids.DATA_AS_OF, "children"),
        Input(ids.CLOCK_INTERVAL, "n_intervals"),
        Input(ids.STATUS_STORE, "data"),
        State(ids.CONNECTION_STORE, "data"),
    )
