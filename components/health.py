"""The city health score row and the alarm list."""
from __future__ import annotations

import pandas as pd
from dash import html

from components import ids
from components.formatting import format_duration, format_value
from components.i18n import DIMENSIONS, t
from components.sparkline import sparkline_src
from components.theme import PALETTE, status_symbol
from components.vital_panel import indicator_name, indicator_unit, wall_name
from data_access.models import Alarm, HealthScore


def score_class(score: float | None) -> str:
    """Health colours use the status scale: >= 90 % normal, >= 75 % warn, else alarm."""
    if score is None:
        return "score score--none"
    return "score score--" + ("normal" if score >= 0.9 else "warn" if score >= 0.75 else "alarm")


def format_score(score: float | None) -> str:
    return "—" if score is None else f"{score * 100:.0f}"


def create_health(health: HealthScore, lang: str, *, title: str | None = None) -> list:
    """The health row; ``title``: its name (default "City health"; a district's wall says its level's)."""
    trend = sparkline_src(health.trend, color=PALETTE["accent"])
    return [
        html.Div(className="health__label", children=[
            html.Div(title or t("health", lang)), html.Div(t("health_hint", lang), className="health__hint"),
        ]),
        html.Div(className=score_class(health.overall) + " health__overall", id=ids.HEALTH_OVERALL,
                 children=[html.Span(format_score(health.overall)), html.Small("%")]),
        html.Img(src=trend, className="health__trend", alt="") if trend else html.Div(className="health__trend"),
        html.Div(className="health__dims", children=[
            html.Div(className=score_class(health.by_dimension.get(d)) + " health__dim", children=[
                html.Span(t(f"dim_{d}", lang), className="health__dim-name"),
                html.Span(format_score(health.by_dimension.get(d)), className="health__dim-value"),
            ]) for d in DIMENSIONS
        ]),
    ]


def create_alarm_list(alarms: list[Alarm], catalogue: pd.DataFrame, lang: str, *, now, max_rows: int = 14) -> list:
    if not alarms:
        return [html.H2(t("alarms", lang), className="alarms__title"),
                html.Div(t("no_alarms", lang), className="alarms__empty")]
    by_id = catalogue.set_index("indicator_id")
    items = []
    for alarm in alarms[:max_rows]:
        if alarm.indicator_id not in by_id.index:
            continue
        ind = by_id.loc[alarm.indicator_id]
        duration = (format_duration((now - alarm.since).total_seconds(), lang) if alarm.since
                    else t("dur_over_day", lang))
        items.append(html.Li(className=f"alarm alarm--{alarm.status}", children=[
            html.Span(status_symbol(alarm.status, stale=False), className="alarm__symbol"),
            html.Span(wall_name(ind, lang), className="alarm__name", title=indicator_name(ind, lang)),
            html.Span(format_value(alarm.value, int(ind["decimals"]), lang) + " " + indicator_unit(ind, lang),
                      className="alarm__value"),
            html.Span(f"{t('in_state_for', lang)} {duration}", className="alarm__since"),
        ]))
    more = len(alarms) - max_rows
    return [html.H2([t("alarms", lang), html.Span(f" {len(alarms)}", className="alarms__count")],
                    className="alarms__title"),
            html.Ul(items, className="alarms__list", id=ids.WALL_ALARMS + "-items"),
            html.Div(f"+{more}", className="alarms__more") if more > 0 else None]
