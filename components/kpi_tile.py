"""The one KPI strip of incident figures: open, overdue, today's figures, the on-time rate and, on
the wall, the citizens' hotline (12345 in Shanghai, 311 in New York: CITYWALL_HOTLINE_SOURCE /
CITYWALL_HOTLINE_NAME). The wall lays it out once with ids (the browser writes each tick's
``strip_state`` into it); the level pages send it whole each tick, without ids (never clashing
with a wall's)."""
from __future__ import annotations

from dash import html

from components import ids
from components.formatting import format_count, format_rate, rate_state
from components.i18n import t
from data_access.models import IncidentCounts

STRIP_KEYS = ("open", "overdue", "reported_today", "closed_today", "on_time_rate_30d", "hotline_today",
              "hotline_on_time")
LEVEL_KEYS = STRIP_KEYS[:5]  # a level page's strip: the area's figures, no hotline


def create_kpi(key: str, value: str, lang: str, *, state: str = "normal", with_id: bool = True,
               **label_values: object) -> html.Div:
    extra = {"id": ids.kpi(key)} if with_id else {}
    return html.Div(className=f"kpi kpi--{state}", **extra, **{"data-kpi": key}, children=[
        html.Div(t(key, lang, **label_values), className="kpi__label"),
        html.Div(value, className="kpi__value"),
    ])


def strip_state(counts: IncidentCounts | None, hotline: dict | None) -> dict[str, list[str]]:
    """Each KPI of the strip as [value text, state]; "—" in state "none" when there are no counts."""
    if counts is None:
        return {key: ["—", "none"] for key in STRIP_KEYS}
    hotline = hotline or {}
    return {
        "open": [format_count(counts.open), "normal"],
        "overdue": [format_count(counts.overdue), "alarm" if counts.overdue else "normal"],
        "reported_today": [format_count(counts.reported_today), "normal"],
        "closed_today": [format_count(counts.closed_today), "normal"],
        "on_time_rate_30d": [format_rate(counts.on_time_rate_30d), rate_state(counts.on_time_rate_30d)],
        "hotline_today": [format_count(int(hotline.get("reported_today") or 0)), "normal"],
        "hotline_on_time": [format_rate(hotline.get("on_time_rate_30d")), rate_state(hotline.get("on_time_rate_30d"))],
    }


def create_kpi_strip(counts: IncidentCounts | None, lang: str, *, keys: tuple[str, ...] = LEVEL_KEYS,
                     hotline: dict | None = None, hotline_name: str = "12345", wall: bool = False) -> list[html.Div]:
    """The strip of ``keys``: on the wall (``wall``) with ids and an error slot, laid out once with
    counts None; on a level page without ids, and "no data" when the area has no counts."""
    if counts is None and not wall:
        return [html.Div(t("no_data", lang), className="kpi kpi--none")]
    state = strip_state(counts, hotline)
    strip = [html.Div(t("incidents", lang), className="strip__title"),
             *[create_kpi(key, state[key][0], lang, state=state[key][1], with_id=wall, name=hotline_name)
               for key in keys]]
    if wall:
        strip.append(html.Div(className="kpi kpi--none panel-error strip__error", hidden=True))
    return strip


def create_incident_strip(counts: IncidentCounts | None, hotline: dict | None, lang: str, *,
                          hotline_name: str = "12345") -> list[html.Div]:
    """The wall's strip (every key, the hotline's included)."""
    return create_kpi_strip(counts, lang, keys=STRIP_KEYS, hotline=hotline, hotline_name=hotline_name, wall=True)
