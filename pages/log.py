"""The shift log (``/log?from=…&to=…&area=…&kind=…``, issue 15): in time order, alarms raised and
cleared, scenario starts and ends, operator actions, incidents gone overdue and walls gone OFFLINE
and back; filtered by area and kind, exported to CSV (the very rows of the page), and a printable
handover page for one shift (pages/handover.py). Without from/to: the last 8 hours."""
from __future__ import annotations

import logging

import dash
from dash import Input, Output, State, dcc, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from components import ids
from components.i18n import pick_language, t
from components.links import page_href
from components.shift_log import (
    create_filters,
    create_log_table,
    create_totals,
    log_csv,
    log_rows,
    window_text,
)
from components.wall import create_nav
from data_access.db import utc_now
from data_access.errors import first_line
from data_access.models import LOG_KINDS
from data_access.readers.areas import read_area
from data_access.readers.shift_log import read_shift_log
from data_access.shift_log import ShiftLogError
from pages._incident_list import export_limits
from pages._log import (
    LogRequest,
    area_choices,
    area_code_of,
    log_or_message,
    log_request,
    window_of_state,
    window_state,
)
from pages._runtime import current_runtime
from security import callback, current_principal, page_access

dash.register_page(__name__, path="/log", title="CityWall · shift log",
                   **page_access("supervisor", area_arg="area", own_area=True))  # a scoped supervisor: their area

log = logging.getLogger(__name__)


def log_query(request: LogRequest, *, start: str | None = None, end: str | None = None, area: str | None = None,
              kinds: list[str] | None = None) -> dict[str, str | None]:
    """The address's query for the request (overridden by the filter's values)."""
    chosen = [k for k in LOG_KINDS if k in (kinds if kinds is not None else request.kinds)]
    return {"from": start if start is not None else request.start_text,
            "to": end if end is not None else request.end_text,
            "area": area if area is not None else (request.area.area_code if request.area else None),
            "kind": None if not chosen or len(chosen) == len(LOG_KINDS) else ",".join(chosen),
            "lang": request.lang_param}


def layout(**query: object) -> html.Div:
    request = log_request(query)
    lang, tz = request.lang, current_runtime().settings.tz
    body: list = []
    shift_log, message = log_or_message(request, page="shift log")
    body += message
    if shift_log is not None and request.window is not None:
        rows = log_rows(shift_log, lang=lang, tz=tz)
        handover = page_href("handover", **{k: v for k, v in log_query(request).items()
                                          if k in ("from", "to", "area", "kind", "lang")})
        body += [
            html.Div(className="log-summary", children=[
                html.Span(window_text(request.window.since, request.window.until, tz=tz, lang=lang),
                          className="log-summary__window"),
                html.Span(t("log_count", lang, n=f"{shift_log.total:,}"), className="log-summary__count"),
                html.Button(t("log_export", lang), id=ids.LOG_EXPORT, n_clicks=0, className="log-button"),
                dcc.Link(t("log_handover", lang), href=handover, className="log-button log-button--link"),
                html.Span(id=ids.LOG_EXPORT_NOTE, className="log-summary__note"),
            ]),
            create_totals(shift_log, lang=lang),
            html.Div(t("log_truncated", lang, shown=f"{len(rows):,}", n=f"{shift_log.total:,}"),
                     className="log-message") if shift_log.truncated else None,
            html.Div(t("log_walls_unknown", lang), className="log-message log-message--note")
            if "wall" in shift_log.kinds and not shift_log.walls_known else None,
            create_log_table(rows, lang=lang) if rows else html.Div(t("log_empty", lang), className="log-empty"),
        ]
    return html.Div(id=ids.LOG_PAGE, className="cw-root log-root", children=html.Div(className="page log-page",
                                                                                     children=[
        html.Header(className="page__header log-header", children=[
            html.H1(t("log_title", lang)), create_nav(lang, {"lang": request.lang_param} if request.lang_param else {}),
        ]),
        create_filters(lang=lang, start=request.start_text, end=request.end_text,
                       area_code=request.area.area_code if request.area else None,
                       areas=area_choices(request.area), kinds=request.kinds),
        *[part for part in body if part is not None],
        dcc.Store(id=ids.LOG_STATE, data={**window_state(request), "lang_param": request.lang_param}),
        dcc.Location(id=ids.LOG_LOCATION, refresh=True),
        dcc.Download(id=ids.LOG_DOWNLOAD),
    ]))


def _text(value: object) -> str:
    return value[:40] if isinstance(value, str) else ""


@callback(
    Output(ids.LOG_LOCATION, "href"),
    Input(ids.LOG_APPLY, "n_clicks"),
    State(ids.LOG_FROM, "value"),
    State(ids.LOG_TO, "value"),
    State(ids.LOG_AREA, "value"),
    State(ids.LOG_KINDS, "value"),
    State(ids.LOG_STATE, "data"),
    prevent_initial_call=True,
    access="supervisor",
)
def apply_filters(n_clicks: int | None, start: object, end: object, area: object, kinds: object,
                  state: object) -> str:
    """The Show button: the page again at the address of the filter's values (the URL holds them)."""
    if not n_clicks:
        return no_update
    state = state if isinstance(state, dict) else {}
    lang_param = state.get("lang_param") if state.get("lang_param") in ("zh", "en") else None
    chosen = [k for k in LOG_KINDS if isinstance(kinds, list) and k in kinds]
    area_code = _text(area) or None
    return page_href("log", **{"from": _text(start).strip(), "to": _text(end).strip(), "area": area_code,
                               "kind": None if not chosen or len(chosen) == len(LOG_KINDS) else ",".join(chosen),
                               "lang": lang_param})


@callback(
    Output(ids.LOG_DOWNLOAD, "data"),
    Output(ids.LOG_EXPORT_NOTE, "children"),
    Input(ids.LOG_EXPORT, "n_clicks"),
    State(ids.LOG_STATE, "data"),
    prevent_initial_call=True,
    access="supervisor",
)
def export_log(n_clicks: int | None, state: object) -> tuple:
    """The page's rows as CSV (the same window, area and kinds, the same text), under the exports'
    limits (pages/_incident_list.ExportLimits)."""
    if not n_clicks:
        return no_update, no_update
    runtime = current_runtime()
    state = state if isinstance(state, dict) else {}
    lang = pick_language(state.get("lang"), runtime.settings.lang)
    try:
        window = window_of_state(state, now=utc_now())
    except ShiftLogError as exc:
        return no_update, t(f"log_bad_{exc.code}", lang, kept="")
    area = state.get("area")
    area = area if isinstance(area, str) and len(area) <= 40 else None
    kinds = [k for k in LOG_KINDS if isinstance(state.get("kinds"), list) and k in state["kinds"]]
    principal, limits = current_principal(), export_limits()
    wait = limits.retry_after(principal.name)
    if wait:
        return no_update, t("export_too_many", lang, n=limits.PER_MINUTE, s=wait)
    if not limits.slot():
        limits.refund(principal.name)
        return no_update, t("export_busy", lang)
    try:
        found = read_area(runtime=runtime, scope=principal.scope, code=area) if area else None
        if area and found is None:
            return no_update, t("log_bad_area", lang, code=area)
        code = area_code_of(found)
        shift_log = read_shift_log(runtime=runtime, scope=principal.scope, window=window, area_code=code,
                                   kinds=kinds or LOG_KINDS)
        text = log_csv(log_rows(shift_log, lang=lang, tz=runtime.settings.tz), lang=lang)
    except SQLAlchemyError as exc:
        log.warning("shift log export failed: %s", first_line(exc))
        return no_update, t("log_error", lang)
    finally:
        limits.release()
    stamp = window.until.strftime("%Y%m%dT%H%M")
    return dcc.send_string(text, f"citywall-log-{area or 'city'}-{stamp}.csv", type="text/csv"), ""

