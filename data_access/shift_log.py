"""The shift log (issue 15, ``/log``): what happened between two moments, in time order, from the
views only. Five kinds of entry:

``alarm``     an indicator's minute status changed (v_vitals_recent: normal / warn / alarm), with
              the value before and after;
``scenario``  a scenario started or ended in an area (the scenario state's own forward scan:
              ``data_access.scenarios.scenario_history``);
``action``    an operator action (v_operator_actions: acknowledgements, checklist marks, manual
              starts and ends): who and when;
``overdue``   an incident passed its deadline before it was closed (v_incident_history);
``wall``      a wall screen went OFFLINE or came back (the fleet's events, handed in by the reader:
              they live in the shared tick cache, not in the database).

One frame of ``COLUMNS``, oldest first; the page, its CSV and the handover page all render that
frame. No Dash here.
"""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.engine import Engine

from data_access.areas import areas_below, valid_code
from data_access.models import LOG_KINDS as KINDS
from data_access.models import ScenarioState, ShiftLog, ShiftWindow
from data_access.operator_actions import recent_actions
from data_access.replay import ReplayError, parse_at
from data_access.scenarios import KEPT_WINDOW, scenario_catalogue, scenario_history
from data_access.sql import SQL_CHUNK, read_frame, utc_text
from data_access.vitals import indicator_catalogue

COLUMNS = ("at", "kind", "event", "area_code", "subject", "value", "status_from", "value_from", "status_to",
           "principal", "detail", "step_id")
SHIFT = timedelta(hours=8)  # the default window: one shift, ending now
MAX_SPAN = KEPT_WINDOW  # what the minute history keeps (alarm transitions, scenario changes)
MAX_ROWS = 5000  # entries a page shows at most (the totals count all of them)
MAX_INPUT = 64  # characters of a from/to value the page keeps (parse_at refuses more than 40)
_RANK = {"normal": 0, "warn": 1, "alarm": 2}
_WALL_COLUMNS = ("at", "kind", "screen", "page", "scope_code")


class ShiftLogError(ValueError):
    """A from/to the log cannot show; ``code``: 'malformed' | 'future' | 'before_history' | 'order' | 'span'."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- the window ----------------------------------------------------------------------------------

def _moment(value: object, *, tz: ZoneInfo, now: datetime) -> datetime | None:
    """A from/to by the replay's one rule for a moment (data_access.replay.parse_at: ISO-8601, naive
    values in the city's zone, an offset kept, floored to the minute, never in the future); None for
    a missing value."""
    try:
        return parse_at(value, tz=tz, now=now, kept_from=None)
    except ReplayError as exc:
        raise ShiftLogError(exc.code, str(exc)) from None


def parse_window(start: object, end: object, *, tz: ZoneInfo, now: datetime) -> ShiftWindow:
    """The window of ``?from=&to=``: both missing, the last shift (8 h) up to now; one missing, a
    shift from ``from`` (at most up to now) or up to ``to``. ShiftLogError when a value is not a time,
    in the future, before the kept 24 h, ``from`` is not before ``to``, or they are over 24 h apart."""
    minute = now.replace(second=0, microsecond=0)
    since, until = _moment(start, tz=tz, now=now), _moment(end, tz=tz, now=now)
    if since is None and until is None:
        return ShiftWindow(since=minute - SHIFT, until=minute, default=True)
    if until is None:
        until = min(since + SHIFT, minute)  # type: ignore[operator]
    if since is None:
        since = until - SHIFT
    if since >= until:
        raise ShiftLogError("order", "from is not before to")
    if until - since > MAX_SPAN:
        raise ShiftLogError("span", "more than 24 h")
    if since < minute - KEPT_WINDOW:
        raise ShiftLogError("before_history", "before the kept history")
    return ShiftWindow(since=since, until=until)


def parse_kinds(value: object) -> tuple[str, ...]:
    """``?kind=alarm,action`` (or the key repeated): the known kinds named, in KINDS order; none
    named (or none known): every kind."""
    parts: list[str] = []
    for item in value if isinstance(value, list | tuple) else [value]:
        if isinstance(item, str):
            parts.extend(p.strip() for p in item[:200].split(","))
    chosen = tuple(k for k in KINDS if k in parts)
    return chosen or KINDS


# --- the entries ---------------------------------------------------------------------------------

# Status changes of every series between two minutes: each minute row against the series' previous
# one (looked for up to 2 x the longest period before the window, so the first change in the window
# is one too); a series' first known minute, or a minute without a value, is no change.
_TRANSITIONS_SQL = """
    SELECT indicator_id, area_code, minute, value, status, previous, previous_value FROM (
        SELECT v.indicator_id, v.area_code, v.minute, v.value, v.status,
               LAG(v.status) OVER (PARTITION BY v.indicator_id, v.area_code ORDER BY v.minute) AS previous,
               LAG(v.value) OVER (PARTITION BY v.indicator_id, v.area_code ORDER BY v.minute) AS previous_value
        FROM v_vitals_recent v
        WHERE v.minute >= :lookback AND v.minute <= :until AND v.value IS NOT NULL{areas}
    ) c
    WHERE minute >= :since AND previous IS NOT NULL AND status <> previous
    ORDER BY minute, indicator_id, area_code"""


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "at" else object) for c in COLUMNS})


def alarm_transitions(*, engine: Engine, window: ShiftWindow, areas: Collection[str] | None,
                      catalogue: pd.DataFrame) -> pd.DataFrame:
    """Every status change of an indicator x area in the window (``areas``: only those; None: all)."""
    periods = pd.to_numeric(catalogue.get("period_s", pd.Series(dtype=float)), errors="coerce").dropna()
    lookback = timedelta(seconds=max(600.0, 2 * float(periods.max()) if not periods.empty else 0.0))
    params: dict[str, object] = {"lookback": utc_text(window.since - lookback), "since": utc_text(window.since),
                                 "until": utc_text(window.until)}
    frames = []
    chunks = [None] if areas is None else [sorted(areas)[i:i + SQL_CHUNK] for i in range(0, len(areas), SQL_CHUNK)]
    for chunk in chunks:
        if chunk is None:
            frames.append(read_frame(engine, _TRANSITIONS_SQL.format(areas=""), params, times_in=("minute",)))
        elif chunk:
            frames.append(read_frame(engine, _TRANSITIONS_SQL.format(areas=" AND v.area_code IN :areas"),
                                     {**params, "areas": chunk}, times_in=("minute",), expanding=("areas",)))
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if rows.empty:
        return _empty()
    worse = rows["status"].map(_RANK).fillna(0) > rows["previous"].map(_RANK).fillna(0)
    return pd.DataFrame({
        "at": rows["minute"], "kind": "alarm", "event": worse.map({True: "raised", False: "cleared"}),
        "area_code": rows["area_code"].astype(str), "subject": rows["indicator_id"].astype(str),
        "value": pd.to_numeric(rows["value"], errors="coerce"), "status_from": rows["previous"],
        "value_from": pd.to_numeric(rows["previous_value"], errors="coerce"), "status_to": rows["status"],
        "principal": None, "detail": None,
    }, columns=list(COLUMNS))


def scenario_changes(*, engine: Engine, window: ShiftWindow, state: ScenarioState | None = None) -> pd.DataFrame:
    """Every scenario start and end in the window (the scenario state's scan at its end)."""
    changes = scenario_history(engine=engine, since=window.since, until=window.until, state=state)
    if not changes:
        return _empty()
    return pd.DataFrame([{
        "at": c.at, "kind": "scenario", "event": c.kind, "area_code": c.area_code, "subject": c.scenario_id,
        "value": None, "status_from": None, "value_from": None, "status_to": None, "principal": c.by,
        "detail": c.reason} for c in changes], columns=list(COLUMNS))


def operator_actions(*, engine: Engine, window: ShiftWindow) -> pd.DataFrame:
    """Every operator action in the window: who, when, what (a step: which and how, with its comment)."""
    rows = recent_actions(engine, since=window.since, until=window.until + timedelta(minutes=1))
    rows = rows[rows["at"] < pd.Timestamp(window.until + timedelta(minutes=1))]
    if rows.empty:
        return _empty()
    return pd.DataFrame({  # a checklist mark: its step, its state ('done'|'skipped') as status_to, its comment
        "at": rows["at"], "kind": "action", "event": rows["kind"].astype(str),
        "area_code": rows["area_code"], "subject": rows["scenario_id"], "value": None, "status_from": None,
        "value_from": None, "status_to": rows["step_state"], "principal": rows["principal"],
        "detail": rows["comment"], "step_id": rows["step_id"],
    }, columns=list(COLUMNS))


def overdue_incidents(*, engine: Engine, window: ShiftWindow) -> pd.DataFrame:
    """Incidents whose deadline passed in the window while they were still open (open now, or
    closed after their deadline): v_incident_history, one range of its due times."""
    rows = read_frame(engine, "SELECT incident_id, category, title, street_code, district_code, due_at"
                              " FROM v_incident_history WHERE due_at >= :since AND due_at <= :until"
                              " AND (closed_at IS NULL OR closed_at > due_at)"
                              " ORDER BY due_at, incident_id",
                      {"since": utc_text(window.since), "until": utc_text(window.until)}, times_in=("due_at",))
    if rows.empty:
        return _empty()
    area = rows["street_code"].where(rows["street_code"].notna(), rows["district_code"])
    return pd.DataFrame({
        "at": rows["due_at"], "kind": "overdue", "event": "overdue", "area_code": area,
        "subject": rows["incident_id"].astype(str), "value": None, "status_from": None, "value_from": None,
        "status_to": None, "principal": None, "detail": rows["title"],
    }, columns=list(COLUMNS))


def wall_events(*, fleet: pd.DataFrame | None, window: ShiftWindow) -> pd.DataFrame:
    """The fleet's OFFLINE / back events of the window (``fleet``: at, kind, screen, page, scope_code)."""
    if fleet is None or fleet.empty:
        return _empty()
    rows = fleet.reindex(columns=list(_WALL_COLUMNS)).copy()
    rows["at"] = pd.to_datetime(rows["at"], errors="coerce")
    end = pd.Timestamp(window.until + timedelta(minutes=1))
    rows = rows[(rows["at"] >= pd.Timestamp(window.since)) & (rows["at"] < end)]
    if rows.empty:
        return _empty()
    return pd.DataFrame({
        "at": rows["at"], "kind": "wall", "event": rows["kind"].astype(str).str.replace("wall_", "", regex=False),
        "area_code": rows["scope_code"], "subject": rows["screen"], "value": None, "status_from": None,
        "value_from": None, "status_to": None, "principal": None, "detail": rows["page"],
    }, columns=list(COLUMNS))


def _given(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and str(value) != ""


def _in_area(frame: pd.DataFrame, areas: set[str] | None, city_code: str | None) -> pd.DataFrame:
    """The rows of ``areas`` (None: every row; an entry without an area counts as the city's)."""
    if areas is None or frame.empty:
        return frame
    codes = frame["area_code"].where(frame["area_code"].notna(), city_code)
    return frame[codes.astype(str).isin(areas)]


_KIND_ORDER = {k: n for n, k in enumerate(KINDS)}
_EVENT_ORDER = {"end": 0, "cleared": 0, "back": 0}  # at one minute: what ended, before what began


def load_shift_log(*, engine: Engine, window: ShiftWindow, area_code: str | None = None,
                   kinds: Collection[str] = KINDS, fleet: pd.DataFrame | None = None,
                   state: ScenarioState | None = None, limit: int = MAX_ROWS) -> ShiftLog:
    """The shift log of ``window`` for ``area_code`` (None: the city; the area and everything below
    it) and ``kinds``, oldest first (ties: kind, then area and subject), with display names.
    ``fleet``: the fleet's events (None: not known here); ``state``: the scenario state at
    ``window.until`` when the caller has it."""
    chosen = tuple(k for k in KINDS if k in kinds) or KINDS
    city = read_frame(engine, "SELECT area_code FROM v_areas WHERE level = 'city'")
    city_code = None if city.empty else str(city.iloc[0]["area_code"])
    areas = None
    if area_code is not None and area_code != city_code:
        areas = areas_below(engine=engine, area_code=area_code) if valid_code(area_code) else set()
    catalogue = indicator_catalogue(engine=engine)
    parts = []
    if "alarm" in chosen:
        parts.append(alarm_transitions(engine=engine, window=window, areas=areas, catalogue=catalogue))
    if "scenario" in chosen:
        parts.append(scenario_changes(engine=engine, window=window, state=state))
    if "action" in chosen:
        parts.append(operator_actions(engine=engine, window=window))
    if "overdue" in chosen:
        parts.append(overdue_incidents(engine=engine, window=window))
    if "wall" in chosen:
        parts.append(wall_events(fleet=fleet, window=window))
    frames = [_in_area(p, areas, city_code) for p in parts]
    frames = [f for f in frames if not f.empty]
    entries = pd.concat(frames, ignore_index=True) if frames else _empty()
    entries["at"] = pd.to_datetime(entries["at"], errors="coerce")
    order = entries.assign(_k=entries["kind"].map(_KIND_ORDER), _e=entries["event"].map(_EVENT_ORDER).fillna(1),
                           _a=entries["area_code"].fillna("").astype(str), _s=entries["subject"].fillna("").astype(str))
    entries = order.sort_values(["at", "_k", "_e", "_a", "_s"], kind="stable").drop(columns=["_k", "_e", "_a", "_s"])
    entries = entries.reset_index(drop=True)
    totals: dict[str, dict[str, int]] = {k: {} for k in chosen}
    for (kind, event), n in entries.groupby(["kind", "event"]).size().items():
        totals.setdefault(str(kind), {})[str(event)] = int(n)
    shown = _named(engine, entries.head(limit).reset_index(drop=True), catalogue)
    return ShiftLog(window=window, area_code=area_code, kinds=chosen, entries=shown, total=len(entries),
                    totals=totals, walls_known=fleet is not None)


def _named(engine: Engine, entries: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """The entries with the names a reader needs: area_name(_en), subject_name(_en), unit(_en), decimals."""
    areas = read_frame(engine, "SELECT area_code, name, name_en FROM v_areas")
    area_names = {str(c): (n, e) for c, n, e in zip(areas["area_code"], areas["name"], areas["name_en"], strict=True)}
    scenario_rows = scenario_catalogue(engine=engine)
    scenarios = scenario_rows.scenarios
    steps = {(str(r.scenario_id), str(r.step_id)): (r.text, r.text_en) for r in scenario_rows.steps.itertuples()}
    subject: dict[tuple[str, str], tuple[Any, Any]] = {}
    for r in catalogue.itertuples(index=False):
        subject[("alarm", str(r.indicator_id))] = (r.name, r.name_en)
    if not scenarios.empty:
        for r in scenarios.itertuples(index=False):
            for kind in ("scenario", "action"):
                subject[(kind, str(r.scenario_id))] = (r.name, r.name_en)
    units = {str(r.indicator_id): (r.unit, getattr(r, "unit_en", None), getattr(r, "decimals", None))
             for r in catalogue.itertuples(index=False)}
    out = entries.copy()
    out["area_name"] = [area_names.get(str(c), (None, None))[0] if _given(c) else None for c in out["area_code"]]
    out["area_name_en"] = [area_names.get(str(c), (None, None))[1] if _given(c) else None for c in out["area_code"]]
    named = [subject.get((str(k), str(s))) for k, s in zip(out["kind"], out["subject"], strict=True)]
    out["subject_name"] = [n[0] if n else None for n in named]
    out["subject_name_en"] = [n[1] if n else None for n in named]
    unit = [units.get(str(s)) if k == "alarm" else None for k, s in zip(out["kind"], out["subject"], strict=True)]
    out["unit"] = [u[0] if u else None for u in unit]
    out["unit_en"] = [u[1] if u else None for u in unit]
    out["decimals"] = [u[2] if u else None for u in unit]
    step = [steps.get((str(s), str(p))) if _given(p) else None
            for s, p in zip(out["subject"], out.get("step_id", [None] * len(out)), strict=True)]
    out["step_name"] = [n[0] if n else None for n in step]
    out["step_name_en"] = [n[1] if n else None for n in step]
    return out
