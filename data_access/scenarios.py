"""Scenarios (应用场景, issue 13): the catalogue, the state (which scenarios are active in which
areas, since when and why) and one scenario's board. Reads over the ``v_*`` views only.

Why the state is a reader over views and not a view ``v_scenario_state``: the rules are a forward
scan with memory (a run of N alarm minutes, N reports within M minutes, an end that needs K normal
minutes, manual starts and ends, and an automatic rule that re-arms only after a manual end once its
condition has cleared). SQL for that is a recursive query per dialect that a city on its own
database would have to rewrite over its own tables. Here the city provides only plain views it
already has the data for (v_vitals_recent, v_incident_reports_recent, v_operator_actions and the
catalogue views 40-44), and the one implementation of the rules, ``evaluate_scenarios``, is pure
(DataFrames in, a ScenarioState out) and tested on both dialects against a hand-made fixture.

The kept window is the views' (24 h). An activation that began before it (its alarm run, its
reports or its manual start are older than the window can tell) has ``since=None``, never the
sliding window start: acknowledgements and checklist marks belong to an activation when their
``at >= since`` (None: always), so their keys never slide as the window moves.
"""
from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from data_access.areas import area_by_code, area_chain, areas_below
from data_access.db import utc_now
from data_access.models import (
    EMPTY_SCENARIO_STATE,
    ScenarioActivation,
    ScenarioBoard,
    ScenarioCatalogue,
    ScenarioChange,
    ScenarioEnded,
    ScenarioState,
    step_marking_role,
)
from data_access.resources import resources_in_area
from data_access.sql import read_frame, utc_text
from data_access.vitals import vitals_for_scope, vitals_trends, with_optional_columns

KEPT_WINDOW = timedelta(hours=24)  # what v_vitals_recent and v_incident_reports_recent keep
BOARD_HISTORY = timedelta(hours=1)  # an inactive board's indicator history
BOARD_INCIDENTS = 500  # open incidents listed on a board at most (the counts are exact)
DEFAULT_END_WINDOW_MIN = 60  # the end rule's incident window when the scenario names none
BAD = {"alarm": frozenset({"alarm"}), "warn": frozenset({"warn", "alarm"})}
MINUTE = timedelta(minutes=1)
_UNKNOWN = datetime.min  # a run that began before the kept window


# --- the catalogue -------------------------------------------------------------------------------

def scenario_catalogue(*, engine: Engine) -> ScenarioCatalogue:
    """The scenario catalogue from v_scenarios and its companion views, in display order."""
    indicators = read_frame(engine, "SELECT scenario_id, indicator_id, triggers, sort_order FROM v_scenario_indicators"
                                    " ORDER BY scenario_id, sort_order, indicator_id")
    indicators["triggers"] = indicators["triggers"].map(_truthy).astype(bool)
    return ScenarioCatalogue(
        scenarios=read_frame(engine, "SELECT * FROM v_scenarios ORDER BY sort_order, scenario_id"),
        indicators=indicators,
        categories=read_frame(engine, "SELECT scenario_id, category, subcategory FROM v_scenario_categories"
                                      " ORDER BY scenario_id, category, subcategory"),
        resource_types=read_frame(engine, "SELECT scenario_id, resource_type FROM v_scenario_resource_types"
                                          " ORDER BY scenario_id, resource_type"),
        steps=read_frame(engine, "SELECT scenario_id, step_id, sort_order, text, text_en, role FROM v_scenario_steps"
                                 " ORDER BY scenario_id, sort_order, step_id"),
    )


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true", "yes")
    return bool(value) and not pd.isna(value)


def _num(row: dict[str, Any], column: str) -> int | None:
    value = row.get(column)
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return int(value)


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _moment(value: object) -> datetime:
    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=None)


# --- the rules -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Rule:
    """One scenario's rules, read from its v_scenarios row and companions."""
    scenario_id: str
    level: str
    kind: str
    bad: frozenset[str]
    n_minutes: int  # indicators rule: this many minutes at bad status (1: at once)
    n_incidents: int | None
    window: timedelta | None  # incidents rule's M
    k_minutes: int | None  # end: triggering indicators normal this many minutes (None: not part of the end rule)
    below: int | None  # end: fewer than this many reports in the end window (None: not part)
    end_window: timedelta
    triggering: tuple[str, ...]
    categories: tuple[tuple[str, str | None], ...]

    @classmethod
    def of(cls, row: dict[str, Any], catalogue: ScenarioCatalogue) -> _Rule:
        sid = str(row["scenario_id"])
        ind = catalogue.of(catalogue.indicators, sid)
        cats = catalogue.of(catalogue.categories, sid)
        kind = str(row["activation_kind"])
        window_min = _num(row, "activation_window_minutes")
        k = _num(row, "end_normal_minutes")
        below = _num(row, "end_incidents_below")
        n_incidents = _num(row, "activation_incidents")
        if kind == "indicators" and k is None:
            k = 1  # its indicators normal again
        if kind == "incidents" and below is None:
            below = n_incidents  # fewer than the activating count
        end_window = window_min or k or DEFAULT_END_WINDOW_MIN
        return cls(
            scenario_id=sid, level=str(row["area_level"]), kind=kind,
            bad=BAD.get(str(row.get("activation_status") or "alarm"), BAD["alarm"]),
            n_minutes=max(1, _num(row, "activation_minutes") or 1), n_incidents=n_incidents,
            window=timedelta(minutes=window_min) if window_min else None,
            k_minutes=None if k is None else max(1, k), below=below,
            end_window=timedelta(minutes=end_window),
            triggering=tuple(str(i) for i, t in zip(ind.get("indicator_id", []), ind.get("triggers", []),
                                                    strict=True) if t),
            categories=tuple((str(c), _text(s)) for c, s in zip(cats.get("category", []),
                                                                 cats.get("subcategory", []), strict=True)),
        )

    def matches(self, category: object, subcategory: object) -> bool:
        return any(category == c and (s is None or subcategory == s) for c, s in self.categories)


@dataclass
class _Series:
    """One indicator of one area as its change points: each point starts a run of its status."""
    minutes: list[datetime]
    statuses: list[str | None]
    latest_value: float | None
    latest_status: str | None
    bad_start: list[datetime | None] = field(default_factory=list)

    def at(self, t: datetime) -> int:
        return bisect_right(self.minutes, t) - 1


def _series_of(minutes: pd.DataFrame) -> dict[tuple[str, str], _Series]:
    """The minute rows as change points per (indicator_id, area_code) (a pure function of the rows)."""
    if minutes.empty:
        return {}
    frame = minutes[["indicator_id", "area_code", "minute", "value", "status"]].copy()
    frame["minute"] = pd.to_datetime(frame["minute"], format="ISO8601", errors="coerce")
    frame = frame.dropna(subset=["minute"]).sort_values(["indicator_id", "area_code", "minute"], kind="stable")
    frame = frame.reset_index(drop=True)
    status = frame["status"].where(frame["status"].notna(), None)
    key = frame["indicator_id"].astype(str) + "\x00" + frame["area_code"].astype(str)
    changed = (key != key.shift()) | (status.fillna("") != status.fillna("").shift())
    last = key != key.shift(-1)
    out: dict[tuple[str, str], _Series] = {}
    for i in frame.index[changed | last]:
        ident = (str(frame.at[i, "indicator_id"]), str(frame.at[i, "area_code"]))
        st = _text(status.at[i])
        value = frame.at[i, "value"]
        series = out.get(ident)
        if series is None:
            series = out[ident] = _Series([], [], None, None)
        if changed.at[i]:
            series.minutes.append(_moment(frame.at[i, "minute"]))
            series.statuses.append(st)
        series.latest_value = None if value is None or pd.isna(value) else float(value)
        series.latest_status = st
    return out


class _Area:
    """The rules of one scenario evaluated for one area over the kept window."""

    def __init__(self, rule: _Rule, series: dict[str, _Series], reports: list[datetime],
                 report_cats: list[tuple[datetime, str]], window_start: datetime) -> None:
        self.rule = rule
        self.series = series
        self.reports = reports
        self.report_cats = report_cats
        self.window_start = window_start
        for s in series.values():
            s.bad_start = []
            for j, st in enumerate(s.statuses):
                if st not in rule.bad:
                    s.bad_start.append(None)
                elif j > 0 and s.statuses[j - 1] in rule.bad:
                    s.bad_start.append(s.bad_start[j - 1])
                elif j == 0 and s.minutes[0] < window_start + rule.n_minutes * MINUTE:
                    s.bad_start.append(_UNKNOWN)  # it may have been bad for long before the window
                else:
                    s.bad_start.append(s.minutes[j])

    def events(self) -> set[datetime]:
        rule = self.rule
        out: set[datetime] = set()
        for s in self.series.values():
            out.update(s.minutes)
            out.update(b + (rule.n_minutes - 1) * MINUTE for b in s.bad_start if b not in (None, _UNKNOWN))
            if rule.k_minutes:
                out.update(m + (rule.k_minutes - 1) * MINUTE for m, st in zip(s.minutes, s.statuses, strict=True)
                           if st == "normal")
        for r in self.reports:
            out.add(r)
            if rule.window:
                out.add(r + rule.window)
            out.add(r + rule.end_window)
        return out

    def count(self, t: datetime, window: timedelta) -> int:
        return bisect_right(self.reports, t) - bisect_right(self.reports, t - window)

    def fires(self, t: datetime) -> tuple[bool, bool, str | None]:
        """(the activation rule holds at t, it held since before the window, the firing indicator)."""
        rule = self.rule
        if rule.kind == "indicators":
            fired, unknown, first = False, False, None
            for indicator_id in rule.triggering:
                s = self.series.get(indicator_id)
                j = s.at(t) if s else -1
                if j < 0 or s is None or s.bad_start[j] is None:
                    continue
                start = s.bad_start[j]
                if start is _UNKNOWN or t >= start + (rule.n_minutes - 1) * MINUTE:
                    fired = True
                    first = first or indicator_id
                    unknown = unknown or start is _UNKNOWN
            return fired, unknown, first
        if rule.kind == "incidents" and rule.window and rule.n_incidents:
            fired = self.count(t, rule.window) >= rule.n_incidents
            return fired, fired and t < self.window_start + rule.window, None
        return False, False, None

    def ends(self, t: datetime) -> bool:
        """The end rule holds at t: its triggering indicators normal for K minutes (each that has
        reported by then) and fewer than ``below`` of its categories' reports in the end window."""
        rule = self.rule
        if rule.k_minutes:
            for indicator_id in rule.triggering:
                s = self.series.get(indicator_id)
                j = s.at(t) if s else -1
                if s is None or j < 0:
                    continue
                if s.statuses[j] != "normal":
                    return False
                began_unknown = j == 0 and s.minutes[0] < self.window_start + rule.k_minutes * MINUTE
                if not began_unknown and t < s.minutes[j] + (rule.k_minutes - 1) * MINUTE:
                    return False
        return rule.below is None or self.count(t, rule.end_window) < rule.below

    def category_counts(self, t: datetime, window: timedelta) -> tuple[tuple[str, float | None, str | None], ...]:
        counts: dict[str, int] = {}
        for at, category in self.report_cats:
            if t - window < at <= t:
                counts[category] = counts.get(category, 0) + 1
        return tuple((c, float(n), None) for c, n in sorted(counts.items()))


def _manual_actions(actions: pd.DataFrame, scenario_id: str, area_code: str, now: datetime
                    ) -> list[tuple[datetime, str, str | None]]:
    """(at, kind, principal) of the manual starts and ends of one scenario x area up to ``now``, in order."""
    if actions.empty:
        return []
    rows = actions[(actions["scenario_id"] == scenario_id) & (actions["area_code"] == area_code)
                   & actions["kind"].isin(("manual_start", "manual_end"))]
    out = [(_moment(r.at), str(r.kind), _text(r.principal)) for r in rows.itertuples()
           if not pd.isna(r.at) and _moment(r.at) <= now]
    return sorted(out, key=lambda x: (x[0], 0 if x[1] == "manual_start" else 1))


def _scan(area: _Area, area_code: str, manual: list[tuple[datetime, str, str | None]], now: datetime,
          changes: list[ScenarioChange] | None = None) -> tuple[ScenarioActivation | None, ScenarioEnded | None]:
    """The forward scan of one scenario x area over the kept window: its activation now (or None)
    and its newest ended activation; every start and end it passes is appended to ``changes``."""
    rule = area.rule
    start = area.window_start
    active: dict[str, Any] | None = None
    ended: ScenarioEnded | None = None
    armed = True  # an automatic rule re-arms after a manual end only once its condition has cleared
    before = [m for m in manual if m[0] < start]
    log = changes if changes is not None else []

    def started(t: datetime | None, reason: str, by: str | None) -> None:
        log.append(ScenarioChange(rule.scenario_id, area_code, "start", t, reason, by))

    if before and before[-1][1] == "manual_start":  # manually started before the window, never ended
        active = {"since": None, "reason": "manual", "by": before[-1][2], "manual": True, "first": None}
        started(None, "manual", before[-1][2])
    if before and before[-1][1] == "manual_end":
        armed = False
    inside = [m for m in manual if m[0] >= start]
    times = sorted({t for t in area.events() if start <= t <= now} | {m[0] for m in inside} | {now})
    actions_at: dict[datetime, list[tuple[datetime, str, str | None]]] = {}
    for m in inside:
        actions_at.setdefault(m[0], []).append(m)

    def end(t: datetime, by: str | None = None, manual: bool = False) -> None:
        nonlocal active, ended
        assert active is not None
        ended = ScenarioEnded(scenario_id=rule.scenario_id, area_code=area_code, since=active["since"], ended=t)
        active = None
        log.append(ScenarioChange(rule.scenario_id, area_code, "end", t, "manual" if manual else "rule", by))

    for t in times:
        for _, kind, principal in actions_at.get(t, ()):
            if kind == "manual_start" and active is None:
                active = {"since": t, "reason": "manual", "by": principal, "manual": True, "first": None}
                started(t, "manual", principal)
            elif kind == "manual_end" and active is not None:
                end(t, principal, manual=True)
                armed = False
        if active is not None and not active["manual"] and area.ends(t):
            end(t)
        if active is None and rule.kind != "manual":
            fired, unknown, first = area.fires(t)
            if not armed:
                armed = not fired
            elif fired:
                active = {"since": None if unknown else t, "reason": rule.kind, "by": None, "manual": False,
                          "first": first, "counts": area.category_counts(t, rule.window or rule.end_window)}
                started(None if unknown else t, rule.kind, None)
    if active is None:
        return None, ended
    return ScenarioActivation(scenario_id=rule.scenario_id, area_code=area_code, since=active["since"],
                              reason=active["reason"], values=_values(area, active, now),
                              started_by=active["by"]), ended


def _values(area: _Area, active: dict[str, Any], now: datetime) -> tuple[tuple[str, float | None, str | None], ...]:
    """Why it is active: the triggering indicators now at the rule's status or worse (latest value
    and status; the one that fired when all are better again), or its reports per category."""
    rule = area.rule
    if active["reason"] == "indicators":
        out = tuple((i, area.series[i].latest_value, area.series[i].latest_status) for i in rule.triggering
                    if i in area.series and area.series[i].latest_status in rule.bad)
        first = active["first"]
        if not out and first in area.series:
            out = ((first, area.series[first].latest_value, area.series[first].latest_status),)
        return out
    if active["reason"] == "incidents":
        return area.category_counts(now, rule.window or rule.end_window) or active["counts"]
    return ()


def _report_code(level: str, city_code: str | None) -> str | None:
    return {"district": "district_code", "street": "street_code"}.get(level, "city" if city_code else None)


def evaluate_scenarios(*, catalogue: ScenarioCatalogue, minutes: pd.DataFrame, reports: pd.DataFrame,
                       actions: pd.DataFrame, now: datetime, city_code: str | None = None,
                       window: timedelta = KEPT_WINDOW) -> ScenarioState:
    """The scenario state at ``now`` (naive UTC): a pure forward scan over the kept window.

    ``minutes``: v_vitals_recent rows (indicator_id, area_code, minute, value, status) with the
    area's level as ``area_level`` (v_areas.level; without the column every row counts at every
    level); ``reports``: v_incident_reports_recent rows; ``actions``: v_operator_actions rows (the
    window's, and every manual start and end: one from before the window may still hold);
    ``city_code``: the city (for city-level scenarios' incidents rule, every report counts)."""
    window_start = now - window
    series = _series_of(minutes)
    levels: dict[str, str] = {}
    if not minutes.empty and "area_level" in minutes:
        pairs = minutes[["area_code", "area_level"]].drop_duplicates()
        levels = {str(a): str(lv) for a, lv in zip(pairs["area_code"], pairs["area_level"], strict=True)}
    report_rows = [] if reports.empty else [
        (_moment(r.reported_at), str(r.category), _text(r.subcategory), _text(r.district_code),
         _text(r.street_code)) for r in reports.itertuples() if not pd.isna(r.reported_at)]
    actions = actions if not actions.empty else pd.DataFrame(columns=["scenario_id", "area_code", "kind", "at"])
    if not actions.empty:
        actions = actions.assign(at=pd.to_datetime(actions["at"], format="ISO8601", errors="coerce"))
    active: list[ScenarioActivation] = []
    last_ended: list[ScenarioEnded] = []
    changes: list[ScenarioChange] = []
    for row in ([] if catalogue.scenarios.empty else catalogue.scenarios.to_dict("records")):
        rule = _Rule.of(row, catalogue)
        column = _report_code(rule.level, city_code)
        by_area: dict[str, list[tuple[datetime, str]]] = {}
        for at, category, sub, district, street in report_rows:
            if not rule.matches(category, sub):
                continue
            code = {"district_code": district, "street_code": street, "city": city_code}.get(column or "")
            if code and window_start <= at <= now:
                by_area.setdefault(code, []).append((at, category))
        series_by_area: dict[str, dict[str, _Series]] = {}
        for (indicator_id, code), s in series.items():
            if indicator_id in rule.triggering and levels.get(code, rule.level) == rule.level:
                series_by_area.setdefault(code, {})[indicator_id] = s
        manual_areas = set() if actions.empty else set(
            actions.loc[(actions["scenario_id"] == rule.scenario_id)
                        & actions["kind"].isin(("manual_start", "manual_end")), "area_code"].astype(str))
        for code in sorted(set(by_area) | set(series_by_area) | manual_areas):
            cats = sorted(by_area.get(code, []))
            area = _Area(rule, series_by_area.get(code, {}), [at for at, _ in cats], cats, window_start)
            activation, ended = _scan(area, code, _manual_actions(actions, rule.scenario_id, code, now), now,
                                      changes)
            if activation is not None:
                active.append(activation)
            if ended is not None:
                last_ended.append(ended)
    return ScenarioState(computed_at=now, active=tuple(active), last_ended=tuple(last_ended),
                         acks=_acks(actions, active, now), changes=_in_order(changes))


def _in_order(changes: list[ScenarioChange]) -> tuple[ScenarioChange, ...]:
    """Starts and ends in time order (a start from before the window first), an end before a start
    at the same minute (the rule that ends re-arms), then by scenario and area."""
    return tuple(sorted(changes, key=lambda c: (c.at or datetime.min, c.kind != "end", c.scenario_id,
                                                c.area_code)))


def _acks(actions: pd.DataFrame, active: Iterable[ScenarioActivation], now: datetime
          ) -> tuple[tuple[str, str, str, datetime], ...]:
    """The acknowledgements of the active activations: for the same scenario x area, at >= since."""
    if actions.empty:
        return ()
    since = {(a.scenario_id, a.area_code): a.since for a in active}
    out: list[tuple[str, str, str, datetime]] = []
    for r in actions[actions["kind"] == "ack_takeover"].itertuples():
        key = (str(r.scenario_id), str(r.area_code))
        if key not in since or pd.isna(r.at):
            continue
        at = _moment(r.at)
        begun = since[key]
        if at <= now and (begun is None or at >= begun):
            out.append((key[0], key[1], _text(r.scope_code) or "", at))
    return tuple(sorted(out, key=lambda x: (x[3], x[0], x[1], x[2])))


# --- the reads -----------------------------------------------------------------------------------

def _ids(frame: pd.DataFrame, column: str) -> list[str]:
    return sorted({str(v) for v in frame[column]}) if not frame.empty else []


# The minutes of the triggering series where the status changes, and each series' last minute (its
# latest value): the scan gives the same answer as over every minute (it keeps only these itself),
# and a day of minutes of every district's triggering indicators is ~100 times more rows.
# The triggering series' minutes over [start, end] (the rows both reads below are made of).
_SERIES_FROM = """
        FROM v_vitals_recent v JOIN v_areas a ON a.area_code = v.area_code
        WHERE v.indicator_id IN :ids AND a.level IN :levels AND v.minute >= :start AND v.minute <= :end"""
_CHANGE_POINTS_SQL = """
    SELECT indicator_id, area_code, area_level, minute, value, status FROM (
        SELECT v.indicator_id, v.area_code, a.level AS area_level, v.minute, v.value, v.status,
               ROW_NUMBER() OVER (PARTITION BY v.indicator_id, v.area_code ORDER BY v.minute) AS n,
               LAG(v.status) OVER (PARTITION BY v.indicator_id, v.area_code ORDER BY v.minute) AS previous,
               LEAD(v.minute) OVER (PARTITION BY v.indicator_id, v.area_code ORDER BY v.minute) AS following""" + \
    _SERIES_FROM + """
    ) c
    WHERE n = 1 OR following IS NULL OR COALESCE(status, '') <> COALESCE(previous, '')
    ORDER BY indicator_id, area_code, minute"""


_POINT_COLUMNS = ["indicator_id", "area_code", "area_level", "minute", "value", "status"]
# The same rows without the windows: a few minutes of every triggering series (change_points).
_ROWS_SQL = """
        SELECT v.indicator_id, v.area_code, a.level AS area_level, v.minute, v.value, v.status""" + _SERIES_FROM
# A tick reads again only the newest minutes (the running one is averaged from raw readings, and a
# reading may come a little late) and the window's first minutes as the 24 h window slides (each
# series' first row); the whole window at least every CHANGE_POINTS_REFRESH, so a reading backfilled
# further back, or a threshold changed, shows within that time.
CHANGE_POINTS_RECHECK = timedelta(minutes=3)
CHANGE_POINTS_HEAD = timedelta(minutes=10)
CHANGE_POINTS_REFRESH = timedelta(minutes=15)


@dataclass(frozen=True)
class ChangePoints:
    """The change points of the triggering series over [start, end], as the windowed read gives them."""
    ids: tuple[str, ...]
    levels: tuple[str, ...]
    start: datetime
    end: datetime
    read_whole_at: datetime  # the real clock when the whole window was last read
    frame: pd.DataFrame


class ChangePointsMemo:
    """The live tick's change points, kept for the next tick (one per app: data_access/runtime.py).
    Reading a day of minutes of every district's triggering series was ~1.3 s of every SQLite tick
    (issue 16: the 30-minute soak's profile); a tick now reads a few minutes of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: ChangePoints | None = None

    def last(self) -> ChangePoints | None:
        with self._lock:
            return self._last

    def keep(self, points: ChangePoints) -> None:
        with self._lock:
            if self._last is None or points.end >= self._last.end:
                self._last = points


def _compressed(rows: pd.DataFrame) -> pd.DataFrame:
    """_CHANGE_POINTS_SQL's rule on rows already read: each series' first and last row and every row
    whose status differs from the row before (NULL counts as its own status)."""
    rows = rows.sort_values(["indicator_id", "area_code", "minute"], kind="stable").reset_index(drop=True)
    key = ["indicator_id", "area_code"]
    status = rows["status"].astype(object).where(rows["status"].notna(), "")
    before = status.groupby([rows["indicator_id"], rows["area_code"]], sort=False).shift(1)
    keep = ~rows.duplicated(key, keep="first") | ~rows.duplicated(key, keep="last") | status.ne(before)
    return rows[keep].reset_index(drop=True)


def _minute_up(t: datetime) -> datetime:
    floor = t.replace(second=0, microsecond=0)
    return floor if floor == t else floor + MINUTE


def change_points(*, engine: Engine, ids: list[str], levels: list[str], start: datetime, end: datetime,
                  memo: ChangePointsMemo | None = None) -> pd.DataFrame:
    """The triggering series' change points over [start, end] (naive UTC): the rows of
    _CHANGE_POINTS_SQL. With ``memo`` holding an earlier tick's, only the minutes since it (less
    CHANGE_POINTS_RECHECK) and the window's first CHANGE_POINTS_HEAD are read, and the rest taken from
    it: every row left out has the status of the point before it, so the points are the same."""
    clock = utc_now()
    last = memo.last() if memo is not None else None
    whole = (last is None or (last.ids, last.levels) != (tuple(ids), tuple(levels)) or start < last.start
             or end < last.end or end - last.end > CHANGE_POINTS_REFRESH
             or clock - last.read_whole_at > CHANGE_POINTS_REFRESH)
    bounds = {"ids": ids, "levels": levels}
    if whole:
        points = read_frame(engine, _CHANGE_POINTS_SQL, {**bounds, "start": utc_text(start), "end": utc_text(end)},
                            times_in=("minute",), expanding=("ids", "levels"))
        read_whole_at = clock
    else:
        recheck = max(start, last.end - CHANGE_POINTS_RECHECK)

        def rows(since: datetime, until: datetime, *, until_included: bool = True) -> pd.DataFrame:
            out = read_frame(engine, _ROWS_SQL, {**bounds, "start": utc_text(since), "end": utc_text(until)},
                             times_in=("minute",), expanding=("ids", "levels"))
            return out if until_included else out[out["minute"] < until]

        kept = last.frame[(last.frame["minute"] >= start) & (last.frame["minute"] < recheck)]
        parts = [kept, rows(recheck, end)]
        if _minute_up(start) > _minute_up(last.start):  # a minute left the window: read its new first rows
            parts.append(rows(start, min(start + CHANGE_POINTS_HEAD, recheck), until_included=False))
        parts = [p for p in parts if not p.empty]
        joined = pd.concat(parts, ignore_index=True) if parts else last.frame.iloc[0:0]
        joined = joined.drop_duplicates(["indicator_id", "area_code", "minute"], keep="last")
        points = _compressed(joined) if not joined.empty else joined
        read_whole_at = last.read_whole_at
    points = points[_POINT_COLUMNS].reset_index(drop=True)
    if memo is not None:
        memo.keep(ChangePoints(ids=tuple(ids), levels=tuple(levels), start=start, end=end,
                               read_whole_at=read_whole_at, frame=points))
    return points


def load_scenario_state(*, engine: Engine, now: datetime, memo: ChangePointsMemo | None = None) -> ScenarioState:
    """The scenario state at ``now`` from the views (read once per tick: readers/scenarios.py).
    ``memo``: the live tick's change points of the tick before (``change_points``); None reads them whole."""
    catalogue = scenario_catalogue(engine=engine)
    if catalogue.scenarios.empty:
        return ScenarioState(computed_at=now, active=(), last_ended=(), acks=())
    # --- as of a past ``now`` (issue 15, replay): every read bounded by ``now``, and the window starts
    # where the views' own 24 h start (the real clock's), so a run or a report older than the views
    # keep is "before the window" (since=None), never dated at the first minute the views still hold.
    start = max(now - KEPT_WINDOW, utc_now() - KEPT_WINDOW)
    window = max(now - start, MINUTE)
    end = utc_text(now)
    # --- end of the as-of block
    triggering = _ids(catalogue.indicators[catalogue.indicators["triggers"]], "indicator_id")
    levels = _ids(catalogue.scenarios, "area_level")
    minutes = pd.DataFrame(columns=_POINT_COLUMNS)
    if triggering:
        minutes = change_points(engine=engine, ids=triggering, levels=levels, start=start, end=now, memo=memo)
    categories = _ids(catalogue.categories, "category")
    reports = pd.DataFrame(columns=["incident_id", "category", "subcategory", "district_code", "street_code",
                                    "reported_at", "closed_at"])
    if categories:
        reports = read_frame(
            engine,
            "SELECT incident_id, category, subcategory, district_code, street_code, reported_at, closed_at"
            " FROM v_incident_reports_recent WHERE category IN :cats AND reported_at >= :start AND reported_at <= :end",
            {"cats": categories, "start": utc_text(start), "end": end}, times_in=("reported_at", "closed_at"),
            expanding=("cats",))
    actions = read_frame(
        engine,
        "SELECT action_id, at, principal, kind, scenario_id, area_code, scope_code FROM v_operator_actions"
        " WHERE ((at >= :start AND kind = 'ack_takeover') OR kind IN ('manual_start', 'manual_end')) AND at <= :end"
        " ORDER BY at, action_id",
        {"start": utc_text(start), "end": end}, times_in=("at",))
    city = read_frame(engine, "SELECT area_code FROM v_areas WHERE level = 'city'")
    return evaluate_scenarios(catalogue=catalogue, minutes=minutes, reports=reports, actions=actions, now=now,
                              city_code=None if city.empty else str(city.iloc[0]["area_code"]), window=window)


def scenario_history(*, engine: Engine, since: datetime, until: datetime,
                     state: ScenarioState | None = None) -> tuple[ScenarioChange, ...]:
    """Every start and end of every scenario in every area from ``since`` to ``until`` (naive UTC,
    both included), in time order: the changes of the scenario state's own forward scan at ``until``
    (``state``: that state when the caller has it, e.g. this tick's). The scan keeps 24 h: changes
    before ``until - KEPT_WINDOW`` are not known (the shift log says so)."""
    if state is None or not until <= state.computed_at < until + MINUTE:  # (the tick's state: its minute)
        state = load_scenario_state(engine=engine, now=until)
    return tuple(c for c in state.changes if c.at is not None and since <= c.at <= until)


def _area_below(engine: Engine, area_code: str) -> set[str]:
    return areas_below(engine=engine, area_code=area_code)


def load_scenario_board(*, engine: Engine, scenario_id: str, area_code: str, state: ScenarioState | None,
                        now: datetime) -> ScenarioBoard:
    """One scenario's board for one area (LookupError: unknown scenario or area)."""
    catalogue = scenario_catalogue(engine=engine)
    scenario = catalogue.scenario(scenario_id)
    if scenario is None:
        raise LookupError(f"no scenario {scenario_id[:64]!r}")
    area = area_by_code(engine=engine, area_code=area_code)
    if area is None:
        raise LookupError(f"no area {area_code[:40]!r}")
    state = state or EMPTY_SCENARIO_STATE
    below = _area_below(engine, area.area_code)
    active_below = tuple(a for a in state.active if a.scenario_id == scenario_id and a.area_code in below)
    activation = state.activation(scenario_id, area.area_code)
    last_ended = state.ended(scenario_id, area.area_code)
    if last_ended is None:
        candidates = [e for e in state.last_ended if e.scenario_id == scenario_id and e.area_code in below]
        last_ended = max(candidates, key=lambda e: e.ended, default=None)

    # Indicators: each from the nearest area of the chain reporting it (a district's own, else the city's).
    ind = catalogue.of(catalogue.indicators, scenario_id)
    latest = vitals_for_scope(engine=engine, chain=area_chain(engine=engine, area_code=area.area_code), now=now)
    indicators = ind.merge(latest, on="indicator_id", how="left", suffixes=("", "_indicator")) if not ind.empty \
        else ind.assign(value=None, status=None, ts=None)
    if "sort_order_indicator" in indicators:
        indicators = indicators.drop(columns="sort_order_indicator")
    indicators = with_optional_columns(engine=engine, frame=indicators)  # the English unit of the board's tiles
    indicators = indicators.sort_values(["sort_order", "indicator_id"]).reset_index(drop=True)
    current = activation or (min(active_below, key=lambda a: a.since or datetime.min) if active_below else None)
    since = (current.since or now - KEPT_WINDOW) if current else now - BOARD_HISTORY
    series = [(str(i), str(s)) for i, s in zip(indicators.get("indicator_id", []),
                                                indicators.get("source_area", []), strict=True)
              if isinstance(s, str)]
    history = vitals_trends(engine=engine, series=series, since=since)

    incidents, total, overdue = _board_incidents(engine, catalogue.of(catalogue.categories, scenario_id), area)
    types = _ids(catalogue.of(catalogue.resource_types, scenario_id), "resource_type")
    resources = resources_in_area(engine=engine, area_code=area.area_code, types=types) if types else \
        resources_in_area(engine=engine, area_code=area.area_code, types=[])
    readiness = _readiness(engine, types, resources)
    steps = _steps(engine, catalogue.of(catalogue.steps, scenario_id), scenario_id, area.area_code,
                   activation, last_ended if activation is None else None)
    return ScenarioBoard(scenario=scenario, area=area, activation=activation, last_ended=last_ended,
                         indicators=indicators, history=history, incidents=incidents, resources=resources,
                         readiness=readiness, steps=steps, read_at=now, active_below=active_below,
                         incidents_total=total, incidents_overdue=overdue)


def _board_incidents(engine: Engine, categories: pd.DataFrame, area: Any) -> tuple[pd.DataFrame, int, int]:
    """Open incidents of the scenario's categories in the area, overdue first (the oldest due first),
    at most BOARD_INCIDENTS of them, and their exact total and overdue counts."""
    if categories.empty:
        return read_frame(engine, "SELECT * FROM v_open_incidents WHERE 1 = 0"), 0, 0
    clauses, params = [], {}
    for n, (cat, sub) in enumerate(zip(categories["category"], categories["subcategory"], strict=True)):
        params[f"c{n}"] = str(cat)
        if _text(sub) is None:
            clauses.append(f"category = :c{n}")
        else:
            params[f"s{n}"] = str(sub)
            clauses.append(f"(category = :c{n} AND subcategory = :s{n})")
    where = "(" + " OR ".join(clauses) + ")"
    if area.level != "city":
        where += f" AND {'district_code' if area.level == 'district' else 'street_code'} = :area_code"
        params["area_code"] = area.area_code
    frame = read_frame(engine, f"SELECT * FROM v_open_incidents WHERE {where}"
                               " ORDER BY overdue DESC, due_at, reported_at, incident_id LIMIT :limit",
                       {**params, "limit": BOARD_INCIDENTS}, times_in=("reported_at", "due_at"))
    counts = read_frame(engine, f"SELECT COUNT(*) AS n, SUM(overdue) AS o FROM v_open_incidents WHERE {where}",
                        params)
    n, o = counts.iloc[0]["n"], counts.iloc[0]["o"]
    return frame, int(n or 0), 0 if o is None or pd.isna(o) else int(o)


def _readiness(engine: Engine, types: list[str], resources: pd.DataFrame) -> pd.DataFrame:
    names = read_frame(engine, "SELECT resource_type, name, name_en, sort_order FROM v_resource_types")
    rows = []
    for t in types:
        mine = resources[resources["type"] == t] if not resources.empty else resources
        named = names[names["resource_type"] == t]
        rows.append({"resource_type": t,
                     "name": named.iloc[0]["name"] if not named.empty else t,
                     "name_en": named.iloc[0]["name_en"] if not named.empty else t,
                     "sort_order": int(named.iloc[0]["sort_order"]) if not named.empty else 0,
                     "idle": int((mine["status"] == "idle").sum()) if not mine.empty else 0,
                     "total": len(mine)})
    frame = pd.DataFrame(rows, columns=["resource_type", "name", "name_en", "sort_order", "idle", "total"])
    return frame.sort_values(["sort_order", "resource_type"]).reset_index(drop=True)


def _steps(engine: Engine, steps: pd.DataFrame, scenario_id: str, area_code: str,
           activation: ScenarioActivation | None, ended: ScenarioEnded | None) -> pd.DataFrame:
    """The checklist with each step's newest mark in this activation (at >= since; an inactive
    board: the last ended activation's marks, up to its end)."""
    out = steps.drop(columns=["scenario_id"], errors="ignore").assign(state=None, principal=None, at=None,
                                                                       comment=None)
    if "role" in out:  # the role that may mark it, as actions.service decides it (NULL/unknown: admin)
        out["role"] = out["role"].map(step_marking_role)
    if activation is None and ended is None:
        return out
    since = activation.since if activation else ended.since  # type: ignore[union-attr]
    marks = read_frame(engine, "SELECT step_id, step_state, principal, at, comment, action_id FROM v_operator_actions"
                               " WHERE kind = 'step' AND scenario_id = :sid AND area_code = :code"
                               + (" AND at >= :since" if since else "")
                               + (" AND at <= :until" if activation is None and ended else "")
                               + " ORDER BY at, action_id",
                       {"sid": scenario_id, "code": area_code,
                        **({"since": utc_text(since)} if since else {}),
                        **({"until": utc_text(ended.ended)} if activation is None and ended else {})},
                       times_in=("at",))
    newest = {str(m.step_id): m for m in marks.itertuples()}
    out = out.astype({"state": object, "principal": object, "at": object, "comment": object})
    for i, step_id in enumerate(out.get("step_id", [])):
        mark = newest.get(str(step_id))
        if mark is not None:
            out.at[i, "state"] = mark.step_state
            out.at[i, "principal"] = mark.principal
            out.at[i, "at"] = _moment(mark.at)
            out.at[i, "comment"] = _text(mark.comment)
    return out
