"""The handover page of one shift (``/log/handover?from=…&to=…&area=…&kind=…``, issue 15): the
shift log's window (default: the last 8 hours), its totals and every entry, laid out to print
(assets/log.css ``@media print``), with lines for who hands over and who takes over."""
from __future__ import annotations

import dash
from dash import dcc, html

from components import ids
from components.formatting import local_stamp
from components.i18n import t
from components.links import page_href
from components.shift_log import TIME_FORMAT, create_log_table, create_totals, log_rows, window_text
from data_access.db import utc_now
from data_access.models import LOG_KINDS
from pages._log import log_or_message, log_request, query_text
from pages._runtime import current_runtime
from security import page_access

dash.register_page(__name__, path="/log/handover", title="CityWall · shift handover",
                   **page_access("supervisor", area_arg="area", own_area=True))



def layout(**query: object) -> html.Div:
    request = log_request(query)
    lang, tz = request.lang, current_runtime().settings.tz
    kinds = None if len(request.kinds) == len(LOG_KINDS) else ",".join(request.kinds)
    back = page_href("log", **{"from": query_text(query.get("from")) or None, "to": query_text(query.get("to")) or None,
                               "area": request.area.area_code if request.area else None, "kind": kinds,
                               "lang": request.lang_param})
    head = html.Header(className="log-handover__head", children=[
        html.Div(className="log-handover__titles", children=[
            html.H1(t("log_handover_title", lang)),
            html.Div(request.area.label(lang) if request.area else "", className="log-handover__area"),
        ]),
        html.Div(className="log-handover__tools", children=[
            html.Button(t("log_print", lang), id=ids.LOG_PRINT, className="log-button log-print"),
            dcc.Link(t("log_back", lang), href=back, className="log-button log-button--link"),
        ]),
    ])
    body: list = []
    shift_log, message = log_or_message(request, page="handover page")
    body += message
    if shift_log is not None and request.window is not None:
        rows = log_rows(shift_log, lang=lang, tz=tz)
        body += [
            html.Div(className="log-summary", children=[
                html.Span(window_text(request.window.since, request.window.until, tz=tz, lang=lang),
                          className="log-summary__window"),
                html.Span(t("log_count", lang, n=f"{shift_log.total:,}"), className="log-summary__count"),
                html.Span(t("log_printed_at", lang, time=local_stamp(utc_now(), tz, TIME_FORMAT)),
                          className="log-summary__printed"),
            ]),
            html.H2(t("log_totals", lang), className="log-handover__h2"),
            create_totals(shift_log, lang=lang),
            html.Div(t("log_truncated", lang, shown=f"{len(rows):,}", n=f"{shift_log.total:,}"),
                     className="log-message") if shift_log.truncated else None,
            html.Div(t("log_walls_unknown", lang), className="log-message log-message--note")
            if "wall" in shift_log.kinds and not shift_log.walls_known else None,
            create_log_table(rows, lang=lang) if rows else html.Div(t("log_empty", lang), className="log-empty"),
            html.Div(className="log-handover__signatures", children=[
                html.Div([html.Span(t("log_handed_by", lang)), html.Span(className="log-handover__line")],
                         className="log-handover__sign"),
                html.Div([html.Span(t("log_taken_by", lang)), html.Span(className="log-handover__line")],
                         className="log-handover__sign"),
            ]),
        ]
    return html.Div(id=ids.LOG_HANDOVER, className="cw-root log-root log-root--handover", children=html.Div(
        className="page log-page log-handover", children=[head, *[b for b in body if b is not None]]))
