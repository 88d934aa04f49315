"""The incident strip: open, overdue, today's figures, the on-time rate and the citizens' hotline
(12345 in Shanghai, 311 in New York: CITYWALL_HOTLINE_SOURCE / CITYWALL_HOTLINE_NAME)."""
from __future__ import annotations

from dash import html

from components import ids
from components.formatting import format_rate
from components.i18n import t
from data_access.queries import IncidentCounts

STRIP_KEYS = ("open", "overdue", "reported_today", "closed_today", "on_time_rate_30d", "hotline_today",
              "hotline_on_time")


def create_kpi(key: str, value: str, lang: str, *, state: str = "normal", **label_values: object) -> html.Div:
    return html.Div(className=f"kpi kpi--{state}", id=ids.kpi(key), **{"data-kpi": key}, children=[
        html.Div(t(key, lang, **label_values), className="kpi__label"),
        html.Div(value, className="kpi__value"),
    ])


def _rate_state(rate: float | None) -> str:
    if rate is None:
        return "none"
    return "normal" if rate >= 0.9 else "warn" if rate >= 0.8 else "alarm"


def strip_state(counts: IncidentCounts | None, hotline: dict | None) -> dict[str, list[str]]:
    """Each KPI of the strip as [value text, state]; "—" in state "none" when there are no counts."""
    if counts is None:
        return {key: ["—", "none"] for key in STRIP_KEYS}
    hotline = hotline or {}
    return {
        "open": [f"{counts.open:,}", "normal"],
        "overdue": [f"{counts.overdue:,}", "alarm" if counts.overdue else "normal"],
        "reported_today": [f"{counts.reported_today:,}", "normal"],
        "closed_today": [f"{counts.closed_today:,}", "normal"],
        "on_time_rate_30d": [format_rate(counts.on_time_rate_30d), _rate_state(counts.on_time_rate_30d)],
        "hotline_today": [f"{int(hotline.get('reported_today') or 0):,}", "normal"],
        "hotline_on_time": [format_rate(hotline.get("on_time_rate_30d")), _rate_state(hotline.get("on_time_rate_30d"))],
    }


def create_incident_strip(counts: IncidentCounts | None, hotline: dict | None, lang: str, *,
                          hotline_name: str = "12345") -> list[html.Div]:
    """The strip with its labels; on the wall it is laid out once (counts None) and the browser
    writes each tick's ``strip_state`` into it."""
    state = strip_state(counts, hotline)
    return [
        html.Div(t("incidents", lang), className="strip__title"),
        *[create_kpi(key, state[key][0], lang, state=state[key][1], name=hotline_name) for key in STRIP_KEYS],
        html.Div(className="kpi kpi--none panel-error strip__error", hidden=True),
    ]
