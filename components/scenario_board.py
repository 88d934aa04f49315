"""The scenario board (``/scenario/<scenario_id>[/<area_code>]``): one scenario in one area — its
status (active since when and for how long, or its last activation and readiness), why it fired,
its indicators with their history since activation, its open incidents (map + list, SLA clocks,
overdue first), its field resources (map layer + list) and its checklist with who did each step
and when, plus the mark buttons for the roles that may mark.

Pure builders: a ``data_access.models.ScenarioBoard`` (and plain values) in, Dash components out.
``board_parts`` builds every refreshed part once; the layout and the page's tick callback both use
it, so the first paint and every later tick show the same thing. Display-only parts travel as one
component each (components/static_html.py); the checklist's buttons and comment box are laid out
once (typing is never wiped by a tick).
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_leaflet as dl
import pandas as pd
from dash import dcc, html

from components import ids
from components.formatting import format_duration, format_value, local_stamp
from components.i18n import t
from components.incident_map import map_labels, points_collection
from components.links import wall_href
from components.resource_layer import (
    TypeNames,
    create_resource_counts,
    create_resource_layer,
    create_resource_legend,
    create_resource_list,
    resource_features,
)
from components.sparkline import sparkline_src
from components.static_html import static_panel
from components.status_bar import create_status_bar
from components.theme import STATUS_COLOR, status_class, status_symbol
from components.vital_panel import indicator_unit
from data_access.models import EMPTY_FC, Area, MapGeometry, ScenarioBoard

RESOURCE_CLUSTER_PX = 64  # a city's board holds hundreds of resources: wider clusters than a street's
INCIDENT_LIMIT = 8  # rows of the incident list (the rest: "+ n more", all of them on the map and in the count)
STEP_STATES = ("done", "skipped")
PARTS = ("status", "reason", "indicators", "incidents", "incidents_n", "resources", "resources_n", "readiness",
         "checklist_n", "points", "markers")  # what a tick may send (each with its digest)

CanMark = Callable[[str], bool]  # a step's role -> may the viewer mark it


# --- small values ------------------------------------------------------------------------------------

def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        not isinstance(value, str | bytes) and bool(pd.isna(value)) if not isinstance(value, list | tuple | dict)
        else False)


def _text(value: object) -> str:
    return "" if _missing(value) else str(value)


def _pick(row: Mapping[str, Any] | Any, field: str, lang: str) -> str:
    """``field`` of a row, or ``field``_en in English (falling back to the local text)."""
    get = row.get if isinstance(row, Mapping) else (lambda k, d=None: getattr(row, k, d))
    local = _text(get(field, ""))
    return (_text(get(f"{field}_en", "")) or local) if lang == "en" else local


def scenario_name(scenario: Mapping[str, Any], lang: str) -> str:
    return _pick(scenario, "name", lang) or _text(scenario.get("scenario_id"))


def digest(value: Any) -> str:
    """A short stable hash of a part (its plotly JSON): unchanged parts are not sent again."""
    data = value.to_plotly_json() if hasattr(value, "to_plotly_json") else value
    text = json.dumps(data, sort_keys=True, default=lambda o: o.to_plotly_json() if hasattr(o, "to_plotly_json")
                      else str(o))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


# --- the header: title and status ---------------------------------------------------------------------

def board_title(*, board: ScenarioBoard, lang: str) -> str:
    """The scenario's name and the area's (the subtitle says what the city calls its level)."""
    return f"{scenario_name(board.scenario, lang)} · {board.area.label(lang)}"


def create_status(*, board: ScenarioBoard, lang: str, tz: ZoneInfo, now: datetime,
                  area_names: Mapping[str, str] | None = None) -> html.Div:
    """ACTIVE since HH:MM with the time it has lasted (a city or district board whose scenario is
    active below it: in which areas), or NOT ACTIVE."""
    activation = board.activation
    below = tuple(getattr(board, "active_below", ()) or ())
    if activation is None and below:
        activation = min(below, key=lambda a: a.since or datetime.min)
    if activation is None:
        return html.Div(className="sb-status sb-status--inactive", **{"data-active": "0"}, children=[
            html.Span(t("sb_inactive", lang), className="sb-status__chip")])
    if activation.since is None:
        since = t("sb_active_window", lang)
        elapsed = ""
    else:
        since = t("sb_active_since", lang, time=local_stamp(activation.since, tz, "%H:%M"))
        elapsed = t("sb_elapsed", lang, d=format_duration((now - activation.since).total_seconds(), lang))
    where = None
    if board.activation is None:  # active below this board's area
        names = area_names or {}
        where = html.Span(t("sb_active_in", lang, areas="、".join(names.get(a.area_code, a.area_code) for a in below)
                            if lang == "zh" else ", ".join(names.get(a.area_code, a.area_code) for a in below)),
                          className="sb-status__where")
    return html.Div(className="sb-status sb-status--active", **{"data-active": "1"}, children=[
        html.Span(t("sb_active", lang), className="sb-status__chip"), where,
        html.Span(since, className="sb-status__since"),
        html.Span(elapsed, className="sb-status__elapsed"),
    ])


# --- why it fired, or its last activation and readiness ----------------------------------------------

def _indicator_names(board: ScenarioBoard, lang: str) -> dict[str, tuple[str, str, int]]:
    """indicator_id -> (name, unit, decimals) of the board's indicators."""
    out: dict[str, tuple[str, str, int]] = {}
    for row in board.indicators.itertuples(index=False) if not board.indicators.empty else ():
        decimals = getattr(row, "decimals", 1)
        out[str(row.indicator_id)] = (_pick(row, "name", lang), indicator_unit(row._asdict(), lang),
                                      1 if _missing(decimals) else int(decimals))
    return out


def _count(value: object) -> str:
    """A whole number from a view (a float after pandas, or NULL) as text."""
    return "—" if _missing(value) else f"{int(float(value))}"  # type: ignore[arg-type]


def rule_text(scenario: Mapping[str, Any], lang: str) -> str:
    kind = scenario.get("activation_kind")
    if kind == "indicators":
        status = t(f"status_{scenario.get('activation_status') or 'alarm'}", lang)
        return t("sb_rule_indicators", lang, status=status, n=_count(scenario.get("activation_minutes")))
    if kind == "incidents":
        return t("sb_rule_incidents", lang, n=_count(scenario.get("activation_incidents")),
                 m=_count(scenario.get("activation_window_minutes")))
    return t("sb_rule_manual", lang)


def create_reason(*, board: ScenarioBoard, lang: str, tz: ZoneInfo, category_names: Mapping[str, str]) -> html.Div:
    """Active: the rule that fired with its values. Inactive: the last activation in the kept
    window (or none), and the rule that would fire it."""
    activation = board.activation
    below = tuple(getattr(board, "active_below", ()) or ())
    if activation is None and below:
        activation = min(below, key=lambda a: a.since or datetime.min)
    rule = html.Span([t("sb_rule", lang), ": ", rule_text(board.scenario, lang)], className="sb-reason__rule")
    if activation is None:
        ended = board.last_ended
        if ended is None:
            last = t("sb_never", lang)
        elif ended.since is None:
            last = t("sb_last_open", lang, end=local_stamp(ended.ended, tz))
        else:
            last = t("sb_last", lang, start=local_stamp(ended.since, tz), end=local_stamp(ended.ended, tz),
                     d=format_duration((ended.ended - ended.since).total_seconds(), lang))
        return html.Div(className="sb-reason sb-reason--inactive", children=[
            html.Span(last, className="sb-reason__last"), rule])
    names = _indicator_names(board, lang)
    values: list[Any] = []
    if activation.reason == "manual":
        head = t("sb_reason_manual_by", lang, who=activation.started_by) if activation.started_by \
            else t("sb_reason_manual", lang)
    else:
        head = t(f"sb_reason_{activation.reason}", lang)
        for key, value, status in activation.values:
            if activation.reason == "incidents":
                label = category_names.get(key, key)
                shown = t("sb_reason_count", lang, n="—" if value is None else int(value))
            else:
                label, unit, decimals = names.get(key, (key, "", 1))
                shown = f"{format_value(value, decimals, lang)} {unit}".strip()
            css = status_class(status, stale=False) if status else "alarm"
            values.append(html.Span(className=f"sb-value sb-value--{css}", **{"data-key": key}, children=[
                html.Span(status_symbol(status, stale=False) if status else "◆", className="sb-value__symbol"),
                html.Span(label, className="sb-value__name"), html.B(shown, className="sb-value__number")]))
    return html.Div(className="sb-reason sb-reason--active", children=[
        html.Span(f"{t('sb_reason', lang)}: {head}", className="sb-reason__head"),
        html.Span(values, className="sb-reason__values"), rule])


def create_readiness(readiness: pd.DataFrame, lang: str) -> list[html.Div]:
    """Resources idle per type of the scenario (idle / total)."""
    if readiness.empty:
        return [html.Div(t("res_none", lang), className="cw-panel__empty")]
    out = []
    for row in readiness.itertuples(index=False):
        idle, total = int(row.idle or 0), int(row.total or 0)
        state = "alarm" if idle == 0 else "warn" if idle * 3 < total else "normal"
        out.append(html.Div(className=f"sb-ready sb-ready--{state}", **{"data-type": str(row.resource_type),
                                                                        "data-idle": str(idle),
                                                                        "data-total": str(total)}, children=[
            html.Span(_pick(row, "name", lang) or str(row.resource_type), className="sb-ready__name"),
            html.B(f"{idle}", className="sb-ready__idle"), html.Span(f"/ {total}", className="sb-ready__total")]))
    return out


# --- indicators ---------------------------------------------------------------------------------------

def create_indicator_tiles(*, board: ScenarioBoard, lang: str) -> list[html.Div]:
    """One tile per scenario indicator: latest value in its status colour (the wall's), a chart of
    its minute values since activation (the last hour when inactive) and a trigger mark."""
    frame = board.indicators
    if frame.empty:
        return [html.Div(t("sb_no_indicators", lang), className="cw-panel__empty")]
    history = board.history
    series: dict[str, list[float | None]] = {}
    if not history.empty:
        for key, group in history.groupby("indicator_id", sort=False):
            series[str(key)] = [None if _missing(v) else float(v) for v in group["value"].tolist()]
    out = []
    for row in frame.itertuples(index=False):
        status = row.status if isinstance(row.status, str) else None
        stale = getattr(row, "stale", False)
        no_value = _missing(row.value) or (not _missing(stale) and bool(stale))  # greyed: never a fresh look
        css = status_class(status, stale=no_value)
        decimals = getattr(row, "decimals", 1)
        number = format_value(None if no_value else float(row.value), 1 if _missing(decimals) else int(decimals),
                              lang)
        values = series.get(str(row.indicator_id), [])
        values = values * 2 if len(values) == 1 else values  # one minute since activation: a flat line, not nothing
        spark = sparkline_src(values,
                              color=STATUS_COLOR["stale" if no_value else (status or "none")])
        out.append(html.Div(className=f"tile sb-tile tile--{css}", **{"data-indicator": str(row.indicator_id)},
                            children=[
            html.Div(className="tile__head", children=[
                html.Span(_pick(row, "name", lang), className="tile__name", title=_pick(row, "name", lang)),
                html.Span(indicator_unit(row._asdict(), lang), className="tile__unit"),
            ]),
            html.Div(className="tile__value", children=[
                html.Span(status_symbol(status, stale=no_value), className="tile__symbol"),
                html.Span(number, className="tile__number"),
                html.Span(t("sb_trigger", lang), className="sb-tile__trigger") if bool(row.triggers) else None,
            ]),
            html.Img(src=spark, className="sb-tile__chart", alt=""),
        ]))
    return out


# --- incidents --------------------------------------------------------------------------------------

def sla_clock(due_at: object, overdue: object, now: datetime, lang: str) -> tuple[str, str]:
    """(text, state) of an incident's deadline at ``now``: due in …, overdue by …, or no deadline."""
    if _missing(due_at):
        return t("sb_no_due", lang), "none"
    left = (pd.Timestamp(due_at) - pd.Timestamp(now)).total_seconds()
    if left < 0 or (not _missing(overdue) and int(overdue)):
        return t("sb_overdue_by", lang, d=format_duration(max(0.0, -left), lang)), "alarm"
    return t("sb_due_in", lang, d=format_duration(left, lang)), "warn" if left < 3600 else "normal"


def _category(row: Any, lang: str, names: Mapping[str, str]) -> str:
    own = _text(getattr(row, "category_name_en" if lang == "en" else "category_name", ""))
    return own or names.get(_text(row.category), _text(row.category))


def incident_order(incidents: pd.DataFrame) -> pd.DataFrame:
    """Overdue first, then the nearest deadline, then the newest report (the board's order)."""
    if incidents.empty:
        return incidents
    return incidents.assign(_od=-incidents["overdue"].fillna(0).astype(int),
                            _due=pd.to_datetime(incidents["due_at"])).sort_values(
        ["_od", "_due", "incident_id"], na_position="last").drop(columns=["_od", "_due"]).reset_index(drop=True)


def create_incident_count(incidents: pd.DataFrame, lang: str, *, total: int | None = None,
                          overdue: int | None = None) -> html.Span:
    """How many open incidents and how many overdue: the board's exact counts (the list it carries
    may stop short of them), else the list's own."""
    n = len(incidents) if total is None else int(total)
    if overdue is None:
        overdue = int(incidents["overdue"].fillna(0).astype(int).sum()) if len(incidents) else 0
    return html.Span(t("sb_incidents_n", lang, n=n, od=overdue), className="sb-count",
                     **{"data-count": str(n), "data-overdue": str(overdue)})


def create_incident_list(incidents: pd.DataFrame, *, lang: str, now: datetime, category_names: Mapping[str, str],
                         limit: int = INCIDENT_LIMIT, total: int | None = None) -> list[html.Div]:
    if incidents.empty:
        return [html.Div(t("sb_no_incidents", lang), className="cw-panel__empty")]
    rows = incident_order(incidents)
    total = len(rows) if total is None else max(int(total), len(rows))
    out = []
    for row in rows.head(limit).itertuples(index=False):
        clock, state = sla_clock(row.due_at, row.overdue, now, lang)
        priority = 1 if _missing(row.priority) else int(row.priority)
        out.append(html.Div(className=f"sb-inc sb-inc--{state}", **{"data-incident": str(row.incident_id)}, children=[
            html.Span(t(f"prio_{priority}", lang), className=f"sb-inc__prio cw-prio-text-{priority}"),
            html.Span(_category(row, lang, category_names), className="sb-inc__cat"),
            html.Span(_text(row.title) or _text(row.address) or str(row.incident_id), className="sb-inc__title"),
            html.Span(clock, className=f"sb-inc__clock sb-clock--{state}"),
        ]))
    if total > min(limit, len(rows)):
        out.append(html.Div(t("sb_more", lang, n=total - min(limit, len(rows))), className="sb-more"))
    return out


def incident_points(incidents: pd.DataFrame, *, lang: str, tz: ZoneInfo,
                    category_names: Mapping[str, str]) -> dict[str, Any]:
    """The incidents as the incident map's points (same markers and popups as the street map)."""
    if incidents.empty:
        return EMPTY_FC
    frame = incidents.copy()
    for column in ("category_name", "category_name_en"):
        if column not in frame.columns:
            frame[column] = frame["category"].map(lambda c: category_names.get(c, c))
    for column, default in (("title", ""), ("address", ""), ("status", "reported"), ("priority", 1),
                            ("reported_at", None)):
        if column not in frame.columns:
            frame[column] = default
    frame["priority"] = frame["priority"].fillna(1).astype(int)
    frame["overdue"] = frame["overdue"].fillna(0).astype(int)
    return points_collection(frame, lang=lang, tz=tz)


# --- the checklist ---------------------------------------------------------------------------------

def step_state(row: Any) -> str | None:
    state = getattr(row, "state", None)
    return state if state in STEP_STATES else None


def create_step_info(row: Any, *, lang: str, tz: ZoneInfo) -> html.Div:
    """The refreshed part of one step: its state, who marked it and when, the comment."""
    state = step_state(row)
    who = _text(getattr(row, "principal", ""))
    at = getattr(row, "at", None)
    comment = _text(getattr(row, "comment", ""))
    symbol = {"done": "✔", "skipped": "↷"}.get(state or "", "○")
    return html.Div(className=f"sb-step__info sb-step__info--{state or 'open'}", **{"data-state": state or "open"},
                    children=[
        html.Span(symbol, className="sb-step__symbol"),
        html.Span(t(f"sb_step_{state or 'open'}", lang), className="sb-step__state"),
        html.Span(t("sb_step_by", lang, who=who, at=local_stamp(at, tz, "%H:%M")) if state else "",
                  className="sb-step__by"),
        html.Span(comment, className="sb-step__comment", title=comment) if comment else None,
    ])


def create_checklist_count(steps: pd.DataFrame, lang: str) -> html.Span:
    done = sum(1 for row in steps.itertuples(index=False) if step_state(row)) if not steps.empty else 0
    return html.Span(t("sb_checklist_n", lang, done=done, n=len(steps)), className="sb-count",
                     **{"data-done": str(done), "data-count": str(len(steps))})


def create_checklist(*, steps: pd.DataFrame, lang: str, tz: ZoneInfo, active: bool, can_mark: CanMark) -> html.Div:
    """Every step in order: its text, the role that does it, its state (refreshed each tick), and
    Done / Skip buttons for a viewer whose role may mark it (disabled when inactive or marked)."""
    if steps.empty:
        return html.Div(t("sb_no_steps", lang), className="cw-panel__empty")
    rows: list[Any] = []
    any_button = False
    for row in steps.itertuples(index=False):
        step = str(row.step_id)
        role = _text(row.role) or "supervisor"
        marked = step_state(row) is not None
        buttons = None
        if can_mark(role):
            any_button = True
            disabled = marked or not active
            buttons = html.Div(className="sb-step__buttons", children=[
                html.Button(t("sb_mark_done", lang), id=ids.step_id(ids.SB_STEP_DONE, step), n_clicks=0,
                            disabled=disabled, className="sb-button sb-button--done"),
                html.Button(t("sb_mark_skip", lang), id=ids.step_id(ids.SB_STEP_SKIP, step), n_clicks=0,
                            disabled=disabled, className="sb-button sb-button--skip"),
            ])
        rows.append(html.Li(className="sb-step", **{"data-step": step}, children=[
            html.Div(className="sb-step__text", children=[
                html.Span(_pick(row, "text", lang), className="sb-step__label"),
                html.Span(t("sb_step_role", lang, role=t(f"role_{role}", lang)), className="sb-step__role"),
            ]),
            html.Div(static_panel(create_step_info(row, lang=lang, tz=tz)), id=ids.step_id(ids.SB_STEP_INFO, step),
                     className="sb-step__infobox"),
            buttons,
        ]))
    controls = None
    if any_button:
        controls = html.Div(className="sb-marks", children=[
            dcc.Input(id=ids.SB_COMMENT, type="text", maxLength=500, debounce=False,
                      placeholder=t("sb_comment", lang), className="sb-marks__comment"),
            html.Div(id=ids.SB_MARK_RESULT, className="sb-marks__result"),
        ])
    return html.Div([html.Ol(rows, className="sb-steps"), controls], className="sb-checklist")


# --- the map ----------------------------------------------------------------------------------------

def create_board_map(*, area: Area, geometry: MapGeometry, points: dict[str, Any], markers: dict[str, Any],
                     lang: str, tile_url: str = "", tile_attribution: str = "") -> html.Div:
    """The area (its children's outlines), the open incidents (clustered, the street map's markers
    and popups) and the resources (clustered markers by type and status)."""
    key = ids.SB_MAP_KEY
    labels = map_labels(lang)
    layers: list[Any] = []
    if tile_url:
        layers.append(dl.TileLayer(url=tile_url, attribution=tile_attribution or None))
    layers += [
        dl.GeoJSON(data=geometry.areas, hideout={"counts": {}, "breaks": [], "labels": labels, "permanent": False,
                                                 "self": area.level == "street"},
                   style={"variable": "citywallMap.styleArea"}, interactive=False),
        dl.GeoJSON(id=ids.SB_POINTS, data=points, hideout={"labels": labels}, cluster=True,
                   superClusterOptions={"radius": 48, "maxZoom": 17},
                   pointToLayer={"variable": "citywallMap.pointToLayer"},
                   clusterToLayer={"variable": "citywallMap.clusterToLayer"},
                   onEachFeature={"variable": "citywallMap.pointEach"}, zoomToBoundsOnClick=True),
        create_resource_layer(key=key, features=markers, lang=lang, radius=RESOURCE_CLUSTER_PX),
    ]
    bounds = geometry.bounds or [[30.7, 120.9], [31.9, 122.0]]
    return html.Div(className="cw-map sb-map", **{"data-level": area.level, "data-code": area.area_code}, children=[
        dl.Map(id=ids.SB_MAP, bounds=bounds, children=layers, zoomSnap=0.25, zoomDelta=0.5, minZoom=6,
               maxZoom=19, boundsOptions={"padding": [12, 12]}, trackViewport=False, attributionControl=bool(tile_url),
               scrollWheelZoom=True, className="cw-map__leaflet", style={"height": "100%", "width": "100%"}),
        html.Div(static_panel(create_resource_legend(lang)), className="cw-legend sb-map__legend"),
    ])


# --- every refreshed part at once ----------------------------------------------------------------

@dataclass(frozen=True)
class BoardParts:
    """What the board shows that changes with the ticks, built once for the layout and the refresh."""
    parts: dict[str, Any]  # PARTS -> component (or GeoJSON for "points" / "markers")
    step_infos: dict[str, Any]  # step_id -> its info component
    step_marked: dict[str, bool]  # step_id -> already marked in this activation
    active: bool

    def digests(self) -> dict[str, str]:
        out = {name: digest(value) for name, value in self.parts.items()}
        out.update({f"step:{k}": digest(v) for k, v in self.step_infos.items()})
        return out


def board_parts(*, board: ScenarioBoard, resources: pd.DataFrame, lang: str, tz: ZoneInfo, now: datetime,
                type_names: TypeNames, category_names: Mapping[str, str],
                area_names: Mapping[str, str] | None = None) -> BoardParts:
    """Every refreshed part of ``board`` at ``now``; ``resources`` is ``board.resources`` with
    its staleness decided (``age_s``, ``stale``, ``has_position``)."""
    total = getattr(board, "incidents_total", None) if getattr(board, "incidents_total", 0) else None
    overdue = getattr(board, "incidents_overdue", None) if total is not None else None
    parts = {
        "status": create_status(board=board, lang=lang, tz=tz, now=now, area_names=area_names),
        "reason": static_panel(create_reason(board=board, lang=lang, tz=tz, category_names=category_names)),
        # As components, not a static panel: a few tiles, and their charts are images (data URIs).
        "indicators": create_indicator_tiles(board=board, lang=lang),
        "incidents": static_panel(create_incident_list(board.incidents, lang=lang, now=now,
                                                       category_names=category_names, total=total)),
        "incidents_n": create_incident_count(board.incidents, lang, total=total, overdue=overdue),
        "resources": static_panel(create_resource_list(resources, names=type_names, lang=lang)),
        "resources_n": create_resource_counts(resources, lang),
        "readiness": static_panel(create_readiness(board.readiness, lang)),
        "checklist_n": create_checklist_count(board.steps, lang),
        "points": incident_points(board.incidents, lang=lang, tz=tz, category_names=category_names),
        "markers": resource_features(resources, names=type_names, lang=lang),
    }
    infos, marked = {}, {}
    for row in board.steps.itertuples(index=False) if not board.steps.empty else ():
        infos[str(row.step_id)] = static_panel(create_step_info(row, lang=lang, tz=tz))
        marked[str(row.step_id)] = step_state(row) is not None
    return BoardParts(parts=parts, step_infos=infos, step_marked=marked, active=board.activation is not None)


def _panel(title: str, body: Any, css: str, *, count: Any = None) -> html.Section:
    return html.Section(className=f"cw-panel sb-panel {css}", children=[
        html.H2([html.Span(title), count], className="cw-panel__title sb-panel__title"), body])


def create_scenario_board(*, board: ScenarioBoard, parts: BoardParts, lang: str, level_word: str, tz: ZoneInfo,
                          timezone: str, refresh_s: float, geometry: MapGeometry, scope: dict[str, Any],
                          can_mark: CanMark, form: dict[str, Any] | None, kiosk: bool = False,
                          tile_url: str = "", tile_attribution: str = "",
                          extra: list[Any] | None = None) -> html.Div:
    """The whole board, sized for a wall (1920x1080 and 3840x2160 alike, no scrollbars)."""
    p = parts.parts
    # The history runs since the activation here, or below here (a city board of a district's rainstorm).
    since_activation = parts.active or bool(getattr(board, "active_below", ()))
    active_title = t("sb_indicators" if since_activation else "sb_indicators_hour", lang)
    back = None if kiosk else html.Nav(className="nav", children=[dcc.Link(
        t("sb_back", lang), href=wall_href(board.area.area_code if board.area.level != "city" else None,
                                           lang=scope.get("lang_param")), className="nav__link")])
    header = create_status_bar(title=board_title(board=board, lang=lang),
                               subtitle=f"{level_word} · {t('sb_subtitle', lang)}", lang=lang, timezone=timezone,
                               refresh_s=refresh_s, nav=back)
    left = html.Div(className="sb-col sb-col--left", children=[
        _panel(active_title, html.Div(p["indicators"], id=ids.SB_INDICATORS,
                                      className="sb-tiles" + (" sb-tiles--wide" if len(board.indicators) <= 3 else "")),
               "sb-panel--ind"),
        _panel(t("sb_readiness", lang), html.Div(p["readiness"], id=ids.SB_READINESS, className="sb-readiness"),
               "sb-panel--ready"),
    ])
    center = html.Div(className="sb-col sb-col--center", children=[
        create_board_map(area=board.area, geometry=geometry, points=p["points"], markers=p["markers"], lang=lang,
                         tile_url=tile_url, tile_attribution=tile_attribution),
        _panel(t("res_title", lang), html.Div(p["resources"], id=ids.SB_RESOURCES, className="sb-resources"),
               "sb-panel--res", count=html.Span(p["resources_n"], id=ids.SB_RESOURCES_N)),
    ])
    right = html.Div(className="sb-col sb-col--right", children=[
        _panel(t("sb_checklist", lang),
               create_checklist(steps=board.steps, lang=lang, tz=tz, active=parts.active, can_mark=can_mark),
               "sb-panel--steps", count=html.Span(p["checklist_n"], id=ids.SB_CHECKLIST_N)),
        _panel(t("sb_incidents", lang), html.Div(p["incidents"], id=ids.SB_INCIDENTS, className="sb-incidents"),
               "sb-panel--inc", count=html.Span(p["incidents_n"], id=ids.SB_INCIDENTS_N)),
    ])
    return html.Div(className="sb" + (" sb--kiosk wall--kiosk" if kiosk else ""),
                    **{"data-scenario": str(board.scenario.get("scenario_id")), "data-area": board.area.area_code},
                    children=[
        header,
        html.Div(className="sb-state", children=[
            html.Div(p["status"], id=ids.SB_STATUS, className="sb-state__status"),
            html.Div(p["reason"], id=ids.SB_REASON, className="sb-state__reason"),
        ]),
        html.Div(id=ids.SB_ERROR, className="cw-page__error sb-error"),
        html.Main([left, center, right], className="sb-body"),
        dcc.Store(id=ids.SB_SCOPE, data=scope),
        dcc.Store(id=ids.SB_SIGS, data=parts.digests()),
        dcc.Store(id=ids.SB_FORM, data=form or {}),
        dcc.Interval(id=ids.SB_INTERVAL, interval=int(refresh_s * 1000)),
        *(extra or []),
    ])
