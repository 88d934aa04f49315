"""The incident strip: open, overdue, today's figures and the on-time rate."""
from __future__ import annotations

from dash import html

from components import ids
from components.i18n import t
from data_access.queries import IncidentCounts


def create_kpi(key: str, value: str, lang: str, *, state: str = "normal") -> html.Div:
    return html.Div(className=f"kpi kpi--{state}", id=ids.kpi(key), children=[
        html.Div(t(key, lang), className="kpi__label"),
        html.Div(value, className="kpi__value"),
    ])


def create_incident_strip(counts: IncidentCounts | None, lang: str) -> list[html.Div]:
    if counts is None:
        return [html.Div(t("no_data", lang), className="kpi kpi--none")]
    rate = "—" if counts.on_time_rate_30d is None else f"{counts.on_time_rate_30d * 100:.1f}%"
    return [
        html.Div(t("incidents", lang), className="strip__title"),
        create_kpi("open", f"{counts.open:,}", lang),
        create_kpi("overdue", f"{counts.overdue:,}", lang, state="alarm" if counts.overdue else "normal"),
        create_kpi("reported_today", f"{counts.reported_today:,}", lang),
        create_kpi("closed_today", f"{counts.closed_today:,}", lang),
        create_kpi("on_time_rate_30d", rate, lang),
    ]
