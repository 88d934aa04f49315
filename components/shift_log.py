"""The shift log's builders (issue 15): one row of text per entry, the same rows for the page's
table, its CSV export and the handover page (so the CSV is the page), the totals and the filters."""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from dash import dcc, html

from components import ids
from components.formatting import format_value, local_stamp
from components.i18n import t
from components.incident_table import neutralise_cell
from data_access.models import LOG_KINDS as KINDS
from data_access.models import Area, ShiftLog

ROW_KEYS = ("time", "kind", "event", "area", "subject", "status", "value", "who", "detail")
HEADER_KEYS = {"time": "log_col_time", "kind": "log_col_kind", "event": "log_col_event", "area": "log_col_area",
               "subject": "log_col_subject", "status": "log_col_status", "value": "log_col_value",
               "who": "log_col_who", "detail": "log_col_detail"}
TIME_FORMAT = "%Y-%m-%d %H:%M"  # how the page, its CSV and its inputs write a moment (the city's zone)


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return ""
    return str(value)


def _pick(row: Mapping[str, Any], column: str, lang: str) -> str:
    """A name in ``lang`` (English falls back to the local name)."""
    return _text(row.get(f"{column}_en")) or _text(row.get(column)) if lang == "en" else _text(row.get(column))


def _number(value: object, decimals: object, lang: str) -> str:
    if value is None or pd.isna(value):  # type: ignore[arg-type]
        return ""
    places = 2 if decimals is None or pd.isna(decimals) else int(decimals)  # type: ignore[arg-type]
    return format_value(float(value), places, lang)  # type: ignore[arg-type]


def entry_row(row: Mapping[str, Any], *, lang: str, tz: ZoneInfo) -> dict[str, str]:
    """One log entry as the text the page shows (and the CSV holds)."""
    kind, event = _text(row.get("kind")), _text(row.get("event"))
    status = value = detail = ""
    if kind == "alarm":
        before, after = _text(row.get("status_from")), _text(row.get("status_to"))
        status = f"{t(f'status_{before}', lang)} → {t(f'status_{after}', lang)}"
        unit = _pick(row, "unit", lang)
        value = (f"{_number(row.get('value_from'), row.get('decimals'), lang)} → "
                 f"{_number(row.get('value'), row.get('decimals'), lang)}" + (f" {unit}" if unit else ""))
    elif kind == "scenario":
        detail = t(f"log_why_{_text(row.get('detail'))}", lang) if _text(row.get("detail")) else ""
    elif kind == "action":
        state = _text(row.get("status_to"))
        step = _pick(row, "step_name", lang) or _text(row.get("step_id"))
        detail = " · ".join(x for x in (step, t(f"log_step_{state}", lang) if state else "", _text(row.get("detail")))
                            if x)
    else:
        detail = _text(row.get("detail"))
    subject = _pick(row, "subject_name", lang) or _text(row.get("subject"))
    return {
        "time": local_stamp(row.get("at"), tz, TIME_FORMAT),
        "kind": t(f"log_one_{kind}", lang),
        "event": t(f"log_ev_{kind}_{event}", lang),
        "area": _pick(row, "area_name", lang) or _text(row.get("area_code")),
        "subject": subject,
        "status": status,
        "value": value,
        "who": _text(row.get("principal")),
        "detail": detail,
        "kind_code": kind,  # the row's class on the page (not a column: the CSV has ROW_KEYS only)
    }


def log_rows(log: ShiftLog, *, lang: str, tz: ZoneInfo) -> list[dict[str, str]]:
    """Every shown entry of ``log`` as text rows, oldest first."""
    return [entry_row(r, lang=lang, tz=tz) for r in log.entries.to_dict("records")]


def header_labels(lang: str) -> list[str]:
    return [t(HEADER_KEYS[k], lang) for k in ROW_KEYS]


def log_csv(rows: Sequence[Mapping[str, str]], *, lang: str) -> str:
    """The rows as CSV: the page's headers, then its cells, every cell quoted text and none that a
    spreadsheet would read as a formula (components.incident_table.neutralise_cell)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header_labels(lang))
    for row in rows:
        writer.writerow([neutralise_cell(row.get(k, "")) for k in ROW_KEYS])
    return buffer.getvalue()


def create_log_table(rows: Sequence[Mapping[str, str]], *, lang: str) -> html.Table:
    """The entries as a plain table (it prints, and a screen reader reads it)."""
    return html.Table(id=ids.LOG_TABLE, className="log-table", children=[
        html.Thead(html.Tr([html.Th(label, className=f"log-table__{k}")
                            for k, label in zip(ROW_KEYS, header_labels(lang), strict=True)])),
        html.Tbody([html.Tr(className=f"log-row log-row--{r.get('kind_code', '')}",
                            children=[html.Td(r.get(k, ""), className=f"log-table__{k}") for k in ROW_KEYS])
                    for r in rows]),
    ])


_EVENTS = {"alarm": ("raised", "cleared"), "scenario": ("start", "end"),
           "action": ("ack_takeover", "step", "manual_start", "manual_end"), "overdue": ("overdue",),
           "wall": ("offline", "back")}


def _event_rank(kind: str, event: str) -> tuple[int, str]:
    known = _EVENTS.get(kind, ())
    return (known.index(event) if event in known else len(known), event)


def create_totals(log: ShiftLog, *, lang: str) -> html.Div:
    """The window's totals: one block per kind with its count and its events' counts."""
    blocks = []
    for kind in log.kinds:
        events = log.totals.get(kind, {})
        total = sum(events.values())
        blocks.append(html.Div(className=f"log-total log-total--{kind}", children=[
            html.Div(t(f"log_kind_{kind}", lang), className="log-total__name"),
            html.Div(f"{total:,}", className="log-total__n"),
            html.Div(className="log-total__events", children=[
                html.Span(f"{t(f'log_ev_{kind}_{event}', lang)} {n:,}", className="log-total__event")
                for event, n in sorted(events.items(), key=lambda item: _event_rank(kind, item[0]))
            ]),
        ]))
    return html.Div(blocks, id=ids.LOG_TOTALS, className="log-totals")


def window_text(since: datetime, until: datetime, *, tz: ZoneInfo, lang: str) -> str:
    return t("log_window", lang, since=local_stamp(since, tz, TIME_FORMAT), until=local_stamp(until, tz, TIME_FORMAT),
             zone=str(tz.key))


def create_filters(*, lang: str, start: str, end: str, area_code: str | None, areas: Sequence[Area],
                   kinds: Sequence[str]) -> html.Div:
    """The filter bar: from, to (the city's time), area, kinds and the Show button."""
    return html.Div(className="log-filters", children=[
        html.Label(className="log-filter", children=[
            html.Span(t("log_from", lang)),
            dcc.Input(id=ids.LOG_FROM, type="text", value=start, placeholder=t("log_time_hint", lang),
                      className="log-input", debounce=False, maxLength=40)]),
        html.Label(className="log-filter", children=[
            html.Span(t("log_to", lang)),
            dcc.Input(id=ids.LOG_TO, type="text", value=end, placeholder=t("log_time_hint", lang),
                      className="log-input", debounce=False, maxLength=40)]),
        html.Div(className="log-filter log-filter--area", children=[
            html.Span(t("log_area", lang)),
            dcc.Dropdown(id=ids.LOG_AREA, options=[{"label": a.label(lang), "value": a.area_code} for a in areas],
                         value=area_code, clearable=False, className="log-area")]),
        html.Div(className="log-filter log-filter--kinds", children=[
            html.Span(t("log_kinds", lang)),
            dcc.Checklist(id=ids.LOG_KINDS, options=[{"label": t(f"log_kind_{k}", lang), "value": k} for k in KINDS],
                          value=list(kinds), inline=True, className="log-kinds")]),
        html.Button(t("log_apply", lang), id=ids.LOG_APPLY, n_clicks=0, className="log-button log-button--apply"),
    ])
