"""The wall's takeover (issue 13, item 4): what a wall shows while scenarios are active in its
scope, and the pieces of the layout it is written into.

``takeover_state`` is pure: the active scenarios of one scope (and which of them still take the
wall over: not acknowledged for that scope) as the compact store the wall's reply carries, once
per scope, language and tick, for every screen of the scope (pages/wall.py). The browser writes
it into the banner (assets/citywall.js ``applyTakeover``), marks the tiles of the scenarios'
indicators and, on a kiosk wall, stops the rotation and opens the scenario board. Texts only:
the browser sets them as text, never as markup.

Nothing in it depends on who is looking: the acknowledge button is in the layout of a
supervisor's wall only (``create_takeover_banner``), never in the shared reply.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd
from dash import dcc, html

from components import ids
from components.formatting import format_value, local_stamp
from components.i18n import t
from components.theme import status_symbol
from components.vital_panel import indicator_unit

if TYPE_CHECKING:
    from data_access.models import ScenarioActivation

MAX_ITEMS = 3  # banner lines on a wall; the rest are counted
MAX_VALUES = 3  # indicator values named per line
ACK_REFRESH_MS = 4 * 60 * 1000  # a supervisor's wall gets new form tokens this often (they go stale after 10 min)


def _name(row: Mapping[str, Any] | None, lang: str, fallback: str) -> str:
    if row is None:
        return fallback
    name = row.get("name_en") if lang == "en" else row.get("name")
    return str(name or row.get("name") or fallback)


def _indicator_name(row: Mapping[str, Any] | None, lang: str, fallback: str) -> str:
    """The wall's short name of an indicator when the catalogue has one, else its name."""
    short = row.get("wall_name_en" if lang == "en" else "wall_name") if row is not None else None
    return short.strip() if isinstance(short, str) and short.strip() else _name(row, lang, fallback)


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def category_labels(categories: pd.DataFrame, lang: str) -> dict[str, str]:
    """category -> its name in ``lang`` (rows of category, category_name, category_name_en)."""
    if categories.empty:
        return {}
    return {str(r["category"]): _name({"name": r.get("category_name"), "name_en": r.get("category_name_en")}, lang,
                                      str(r["category"])) for r in categories.to_dict("records")}


def reason_text(activation: ScenarioActivation, *, indicators: Mapping[str, Mapping[str, Any]],
                categories: Mapping[str, str], lang: str) -> str:
    """Why the scenario is active, with the values that fired it (one line)."""
    values = list(activation.values or ())
    if activation.reason == "manual":
        who = activation.started_by
        return t("tko_manual_by", lang, who=who) if who else t("tko_reason_manual", lang)
    parts: list[str] = []
    if activation.reason == "incidents":
        for category, count, _status in values[:MAX_VALUES]:
            n = _number(count)
            parts.append(t("tko_incident_count", lang, category=categories.get(str(category), str(category)),
                           n="—" if n is None else int(n)))
        label = t("tko_reason_incidents", lang)
    else:
        for indicator_id, value, status in values[:MAX_VALUES]:
            row = indicators.get(str(indicator_id))
            decimals = int(_number(row.get("decimals")) or 0) if row is not None else 1
            unit = indicator_unit(row, lang) if row is not None else ""
            text = f"{_indicator_name(row, lang, str(indicator_id))} {format_value(_number(value), decimals, lang)}"
            text += (" " + unit if unit else "")
            if status:
                text += f" {status_symbol(str(status), stale=False)}{t(f'status_{status}', lang)}"
            parts.append(text)
        label = t("tko_reason_indicators", lang)
    if len(values) > MAX_VALUES:
        parts.append(t("tko_more_values", lang, n=len(values) - MAX_VALUES))
    joiner = "、" if lang == "zh" else ", "
    return label + ("：" if lang == "zh" else ": ") + joiner.join(parts) if parts else label


def since_text(since: datetime | None, tz: ZoneInfo, lang: str, now: datetime) -> str:
    """Since when, in the city's time zone (a date too when it was not today)."""
    if since is None:
        return t("tko_since_window", lang)
    same_day = local_stamp(since, tz, "%Y-%m-%d") == local_stamp(now, tz, "%Y-%m-%d")
    return t("tko_since", lang, time=local_stamp(since, tz, "%H:%M" if same_day else "%m-%d %H:%M"))


def takeover_state(*, scope_code: str, active: Iterable[ScenarioActivation], pending: Iterable[ScenarioActivation],
                   scenarios: pd.DataFrame, scenario_indicators: pd.DataFrame, indicators: pd.DataFrame,
                   area_label: Callable[[str], str], board_href: Callable[[str, str], str], lang: str,
                   tz: ZoneInfo, now: datetime, categories: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The store of one wall scope: banner lines (pending takeovers first, then the acknowledged
    ones still active), the indicators whose tiles are marked (every indicator of an active
    scenario), and the board a kiosk wall opens (the first pending takeover's; None: none)."""
    active = list(active)
    pending_keys = {(a.scenario_id, a.area_code) for a in pending}
    catalogue = {str(r["scenario_id"]): r for r in scenarios.to_dict("records")} if not scenarios.empty else {}
    by_indicator = {str(r["indicator_id"]): r for r in indicators.to_dict("records")} if not indicators.empty else {}

    def order(a: ScenarioActivation) -> tuple:
        row = catalogue.get(a.scenario_id) or {}
        sort = _number(row.get("sort_order"))
        since = a.since.timestamp() if a.since is not None else float("-inf")
        return ((a.scenario_id, a.area_code) not in pending_keys, sort if sort is not None else math.inf,
                -since, a.scenario_id, a.area_code)

    items = []
    for a in sorted(active, key=order):
        items.append({
            "key": f"{a.scenario_id}:{a.area_code}",
            "scenario_id": a.scenario_id,
            "area_code": a.area_code,
            "name": _name(catalogue.get(a.scenario_id), lang, a.scenario_id),
            "area": area_label(a.area_code),
            "reason": reason_text(a, indicators=by_indicator, categories=categories or {}, lang=lang),
            "since": since_text(a.since, tz, lang, now),
            "pending": (a.scenario_id, a.area_code) in pending_keys,
            "href": board_href(a.scenario_id, a.area_code),
        })
    ids_active = {a.scenario_id for a in active}
    marked: set[str] = set()
    if not scenario_indicators.empty and ids_active:
        rows = scenario_indicators[scenario_indicators["scenario_id"].isin(sorted(ids_active))]
        marked = {str(i) for i in rows["indicator_id"]}
    board = next((item["href"] for item in items if item["pending"]), None)
    return {"scope": scope_code, "items": items[:MAX_ITEMS], "more": max(0, len(items) - MAX_ITEMS),
            "marked": sorted(marked), "board": board,
            "labels": {"title": t("tko_title", lang), "active": t("tko_active", lang), "acked": t("tko_acked", lang),
                       "more": t("tko_more", lang, n="{n}")}}


def create_takeover_banner(lang: str, *, ack_form: dict | None) -> html.Section:
    """The banner's place on the wall (filled by the browser from the takeover store); with
    ``ack_form`` (a supervisor's or admin's wall) the acknowledge button and the store of its form
    tokens (one per pending takeover, issued by the server: pages/wall.py ``acknowledge``)."""
    ack = None
    if ack_form is not None:
        ack = html.Div(className="takeover__ack", children=[
            html.Button(t("tko_ack", lang), id=ids.WALL_ACK, className="takeover__ack-button", n_clicks=0),
            html.Span(id=ids.WALL_ACK_RESULT, className="takeover__ack-result"),
            dcc.Store(id=ids.WALL_ACK_FORM, data=ack_form),
            dcc.Interval(id=ids.WALL_ACK_REFRESH, interval=ACK_REFRESH_MS),
        ])
    return html.Section(id=ids.WALL_TAKEOVER_BANNER, className="takeover", children=[
        html.Div(id=ids.WALL_TAKEOVER_ITEMS, className="takeover__items"),
        ack,
        dcc.Store(id=ids.WALL_TAKEOVER),
        html.Div(id=ids.WALL_TAKEOVER_TARGET, hidden=True),
    ])


def create_takeover_return(*, scenario_id: str, area_code: str, scope_code: str, back: str,
                           refresh_s: float) -> html.Div:
    """On a scenario board opened by a kiosk wall's takeover: polls whether the takeover of
    ``scope_code`` still stands, and goes back to the wall (``back``, its kiosk parameters kept)
    when the scenario ended or a supervisor acknowledged it (pages/_takeover.py)."""
    return html.Div(hidden=True, children=[
        dcc.Store(id=ids.TAKEOVER_RETURN, data={"scenario_id": scenario_id, "area_code": area_code,
                                                "scope_code": scope_code, "back": back}),
        dcc.Interval(id=ids.TAKEOVER_RETURN_POLL, interval=max(1000, int(refresh_s * 1000))),
        dcc.Store(id=ids.TAKEOVER_RETURN_STATE),
        html.Div(id=ids.TAKEOVER_RETURN_TARGET),
    ])
