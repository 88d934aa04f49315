"""The incident strip: open, overdue, today's figures, the on-time rate and the citizens' hotline
(12345 in Shanghai, 311 in New York: CITYWALL_HOTLINE_SOURCE / CITYWALL_HOTLINE_NAME)."""
from __future__ import annotations

from dash import html

from components import ids
from components.formatting import format_rate
from components.i18n import t
from data_access.queries import IncidentCounts


def create_kpi(key: str, value: str, lang: str, *, state: str = "normal", **label_values: object) -> html.Div:
    return html.Div(className=f"kpi kpi--{state}", id=ids.kpi(key), children=[
        html.Div(t(key, lang, **label_values), className="kpi__label"),
        html.Div(value, className="kpi__value"),
    ])


def _rate_state(rate: float | None) -> str:
    if rate is None:
        return "none"
    return "normal" if rate >= 0.9 else "warn" if rate >= 0.8 else "alarm"


def create_incident_strip(counts: IncidentCounts | None, hotline: dict | None, lang: str, *,
                          hotline_name: str = "12345") -> list[html.Div]:
    if counts is None:
        return [html.Div(t("no_data", lang), className="kpi kpi--none")]
    hotline = hotline or {}
    return [
        html.Div(t("incidents", lang), className="strip__title"),
        create_kpi("open", f"{counts.open:,}", lang),
        create_kpi("overdue", f"{counts.overdue:,}", lang, state="alarm" if counts.overdue else "normal"),
        create_kpi("reported_today", f"{counts.reported_today:,}", lang),
        create_kpi("closed_today", f"{counts.closed_today:,}", lang),
        create_kpi("on_time_rate_30d", format_rate(counts.on_time_rate_30d), lang,
                   state=_rate_state(counts.on_time_rate_30d)),
        create_kpi("hotline_today", f"{int(hotline.get('reported_today') or 0):,}", lang, name=hotline_name),
        create_kpi("hotline_on_time", format_rate(hotline.get("on_time_rate_30d")), lang,
                   state=_rate_state(hotline.get("on_time_rate_30d")), name=hotline_name),
    ]
