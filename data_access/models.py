"""The values pages and components exchange: plain frozen dataclasses (pickled by the tick cache)
and the few domain constants both sides need. No reads here, no Dash."""
from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pandas as pd

from data_access.schema import STEP_ROLES

LANGUAGES = ("zh", "en")
LEVEL_CHILD = {"city": "district", "district": "street", "street": None}
OPEN_STATUSES = ("reported", "dispatched", "in_progress", "resolved")
PRIORITIES = (1, 2, 3)
STATUS_ORDER = {"alarm": 0, "warn": 1, "normal": 2}
EMPTY_FC: dict[str, Any] = {"type": "FeatureCollection", "features": []}


# --- areas and incidents ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Area:
    area_code: str
    level: str
    parent_code: str | None
    name: str
    name_en: str | None
    center_lat: float | None
    center_lon: float | None

    def label(self, lang: str) -> str:
        return (self.name_en or self.name) if lang == "en" else self.name


def child_level(area: Area) -> str | None:
    """The level a map or ranking of ``area`` shows (None: a street shows its grid cells)."""
    return LEVEL_CHILD.get(area.level)


@dataclass(frozen=True)
class IncidentCounts:
    area_code: str
    open: int
    overdue: int
    reported_today: int
    closed_today: int
    closed_on_time_today: int
    on_time_rate_30d: float | None  # None: nothing closed in the last 30 days


# --- the wall ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HealthScore:
    """Share of wall indicators that are fresh and normal (stale counts against the score)."""
    overall: float | None
    by_dimension: dict[str, float | None]
    trend: list[float | None]  # overall share per minute over the last hour, oldest first


@dataclass(frozen=True)
class Alarm:
    indicator_id: str
    area_code: str
    status: str
    value: float | None
    since: datetime | None  # naive UTC; None: not normal for 24 h (or no history)


@dataclass(frozen=True)
class WallIncidents:
    """The incident strip of one scope: read on its own, so its slower views never delay the vital signs."""
    counts: IncidentCounts | None
    hotline: dict[str, float | int | None]
    failed: bool = False
    newest_change: datetime | None = None  # naive UTC: the newest report or closure (v_incident_as_of)


@dataclass(frozen=True)
class WallSnapshot:
    area: Area
    vitals: pd.DataFrame  # one row per indicator, from the nearest area reporting it
    sparks: dict[str, list[float | None]]  # indicator_id -> minute values of the last hour
    health: HealthScore
    alarms: list[Alarm]  # worst first
    counts: IncidentCounts | None
    hotline: dict[str, float | int | None]
    newest_reading: datetime | None  # naive UTC
    read_at: datetime
    # Panels whose read failed this tick ("trends", "alarms", "strip"): they show their own error
    # state while the others update. The vitals read failing fails the whole snapshot.
    failed: frozenset[str] = frozenset()
    newest_incident_change: datetime | None = None  # naive UTC (v_incident_as_of): a wall without vital signs
    level_words: dict[str, str] = field(default_factory=dict)  # the area's level in each language ("区", "borough")


# --- the level pages -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PanelData:
    counts: IncidentCounts | None
    children: pd.DataFrame
    categories: pd.DataFrame
    funnel: pd.DataFrame
    vitals: pd.DataFrame


EMPTY_PANELS = PanelData(counts=None, children=pd.DataFrame(), categories=pd.DataFrame(), funnel=pd.DataFrame(),
                         vitals=pd.DataFrame())


# --- the map -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MapGeometry:
    areas: dict[str, Any]
    cells: dict[str, Any]
    bounds: list[list[float]] | None


@dataclass(frozen=True)
class MapUpdate:
    """What one tick sends to a map: counts and styles only."""

    areas_hideout: dict[str, Any]
    cells_hideout: dict[str, Any]
    points: dict[str, Any] | None  # street level only
    breaks: list[int]
    signature: str
    totals: dict[str, int] = field(default_factory=dict)
    points_signature: str = ""  # street level: the points' own hash (they are sent only when it changes)


def _int(value: object) -> int:
    """A count or priority from a view (NULL, a Decimal or a float from another database: an int)."""
    try:
        return 0 if value is None else int(value)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class MapCounts:
    """One tick's counts of every map of the city (``incident_map.map_count_rows``), grouped so that
    a map of any area takes its rows without another read: the children of each area, each area's
    own row, and the cells with open incidents per district and per street (cell id order kept)."""

    children: dict[str, list[tuple[str, int, int]]]
    own: dict[str, tuple[str, int, int]]
    cells: list[tuple[str, int, int, int]]
    cells_in: dict[str, list[tuple[str, int, int, int]]]

    @classmethod
    def of(cls, area_rows: list[tuple], cell_rows: list[tuple]) -> MapCounts:
        children: dict[str, list[tuple[str, int, int]]] = {}
        own: dict[str, tuple[str, int, int]] = {}
        for code, parent, n_open, n_overdue in area_rows:
            row = (str(code), _int(n_open), _int(n_overdue))
            own[row[0]] = row
            if parent is not None:
                children.setdefault(str(parent), []).append(row)
        cells: list[tuple[str, int, int, int]] = []
        cells_in: dict[str, list[tuple[str, int, int, int]]] = {}
        for cell, district, street, n_open, n_overdue, prio in cell_rows:
            row = (str(cell), _int(n_open), _int(n_overdue), _int(prio))
            cells.append(row)
            for code in {district, street} - {None}:
                cells_in.setdefault(str(code), []).append(row)
        return cls(children=children, own=own, cells=cells, cells_in=cells_in)

    def rows(self, area: Area) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int, int]]]:
        """(area rows, cell rows) of a map of ``area``: its children (a street: itself), its cells."""
        if child_level(area):
            area_rows = self.children.get(area.area_code, [])
        else:
            area_rows = [self.own.get(area.area_code, (area.area_code, 0, 0))]
        return area_rows, self.cells if area.level == "city" else self.cells_in.get(area.area_code, [])


@dataclass(frozen=True)
class MapState:
    """What a screen holding one signature has: the hideouts' counts and breaks, the points."""

    areas: dict[str, list[int]]
    cells: dict[str, list[int]]
    breaks: list[int]
    points_signature: str
    points: dict[str, Any] | None

    @classmethod
    def of(cls, update: MapUpdate) -> MapState:
        return cls(areas=update.areas_hideout["counts"], cells=update.cells_hideout["counts"],
                   breaks=update.breaks, points_signature=update.points_signature, points=update.points)


@dataclass(frozen=True)
class MapDelta:
    """From one signature to the next: counts to set and codes to drop, per layer; new breaks
    (None: unchanged); points to remove (whole features: Dash's Patch removes by value) and add."""

    areas_set: dict[str, list[int]]
    areas_del: list[str]
    cells_set: dict[str, list[int]]
    cells_del: list[str]
    breaks: list[int] | None
    points_remove: list[dict[str, Any]]
    points_add: list[dict[str, Any]]
    points_changed: bool


# --- the incident list -----------------------------------------------------------------------------

def _printable(text: str) -> str:
    """``text`` without what no database text may hold: lone surrogates (not UTF-8) and NUL."""
    return re.sub(r"[\ud800-\udfff\x00]", "", text)


@dataclass(frozen=True)
class IncidentFilter:
    """What the incident list shows; every field becomes a bound parameter."""

    area_level: str | None = None  # None or 'city': the whole city
    area_code: str | None = None
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    overdue: bool | None = None  # None: both
    search: str = ""
    nothing: bool = False  # categories were asked for and none of them is in the catalogue: no row matches

    @classmethod
    def from_values(cls, *, area_level: object = None, area_code: object = None, categories: object = None,
                    statuses: object = None, priorities: object = None, overdue: object = None,
                    search: object = None, known_categories: Collection[str] | None = None) -> IncidentFilter:
        """A filter from loose UI values (None, strings, lists); anything unusable is dropped.
        ``known_categories`` (the catalogue): categories outside it are dropped, so the filter is
        never larger than the catalogue whatever a browser sends; when only unknown ones were
        asked for, the filter matches nothing (``nothing``), as they would have."""
        from data_access.areas import valid_code  # the one rule of area codes

        def usable(value: object) -> list[str]:
            if value is None:
                return []
            items = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else []
            return [s for s in (str(v) for v in items if isinstance(v, str | int)) if s and len(s) <= 64]

        def strings(value: object) -> tuple[str, ...]:
            return tuple(sorted(set(usable(value))))

        level = area_level if area_level in ("city", "district", "street") else None
        code = area_code if level and valid_code(area_code) else None
        prios = tuple(sorted({int(p) for p in strings(priorities)
                              if p.isascii() and p.isdigit() and int(p) in PRIORITIES}))
        flag = {"1": True, "true": True, "yes": True, True: True,
                "0": False, "false": False, "no": False, False: False}.get(
            overdue.lower() if isinstance(overdue, str) else overdue if isinstance(overdue, bool) else None)
        text = _printable(search).strip()[:100] if isinstance(search, str) else ""
        nothing = False
        if known_categories is None:
            cats = strings(categories)
        else:  # checked against the catalogue before sorting: a made-up list of 100,000 is never sorted
            asked = usable(categories)
            cats = tuple(sorted({c for c in asked if c in known_categories}))
            nothing = bool(asked) and not cats
        return cls(area_level=level, area_code=code, categories=cats,
                   statuses=tuple(s for s in strings(statuses) if s in OPEN_STATUSES), priorities=prios,
                   overdue=flag, search=text, nothing=nothing)

    def scoped(self, *, area_level: str | None, area_code: str | None) -> IncidentFilter:
        return replace(self, area_level=area_level, area_code=area_code)

    @property
    def scope_code(self) -> str | None:
        """The area this filter is restricted to (None: the whole city), for the scope check."""
        return self.area_code if self.area_level in ("district", "street") else None


@dataclass(frozen=True)
class IncidentLocation:
    incident_id: str
    lat: float | None
    lon: float | None
    street_code: str | None
    district_code: str | None
    reported_at: datetime | None


# --- situations (issue 13) -------------------------------------------------------------------------

@dataclass(frozen=True)
class ScenarioCatalogue:
    """The scenario catalogue as the views give it (v_scenarios and its companions 41-45), one
    DataFrame each, ordered by sort_order; read once per tick with the state."""
    scenarios: pd.DataFrame  # v_scenarios
    indicators: pd.DataFrame  # v_scenario_indicators
    categories: pd.DataFrame  # v_scenario_categories
    resource_types: pd.DataFrame  # v_scenario_resource_types
    steps: pd.DataFrame  # v_scenario_steps

    def ids(self) -> tuple[str, ...]:
        return tuple(str(s) for s in self.scenarios["scenario_id"]) if not self.scenarios.empty else ()

    def scenario(self, scenario_id: str) -> dict[str, Any] | None:
        """The v_scenarios row of ``scenario_id`` (None: not in the catalogue)."""
        if self.scenarios.empty:
            return None
        rows = self.scenarios[self.scenarios["scenario_id"] == scenario_id]
        return None if rows.empty else rows.iloc[0].to_dict()

    def of(self, frame: pd.DataFrame, scenario_id: str) -> pd.DataFrame:
        """The rows of one companion frame (indicators, categories, ...) that belong to ``scenario_id``."""
        if frame.empty:
            return frame
        return frame[frame["scenario_id"] == scenario_id].reset_index(drop=True)



# A scenario's or checklist step's id, as the catalogue file and a city's own v_scenarios may write it
# (it appears in board URLs and form tokens): the one pattern the importer, readers, pages and
# actions.service check.
SCENARIO_ID = re.compile(r"^[0-9A-Za-z_.:-]{1,64}$")


def valid_scenario_id(value: object) -> bool:
    return isinstance(value, str) and bool(SCENARIO_ID.match(value))


def step_marking_role(role: object) -> str:
    """The least role that may mark a checklist step: its catalogue role, or admin when a city's own
    v_scenario_steps gives none or an unknown one (fail closed). The board and actions.service share it."""
    return role if isinstance(role, str) and role in STEP_ROLES else "admin"

@dataclass(frozen=True)
class ScenarioActivation:
    scenario_id: str
    area_code: str
    since: datetime | None  # naive UTC start of this activation; None: active for the whole kept window
    reason: str  # 'indicators' | 'incidents' | 'manual'
    # (indicator_id, latest value, status) that fired, or (category, count, None) for incidents
    values: tuple[tuple[str, float | None, str | None], ...]
    started_by: str | None = None  # manual: the principal

    @property
    def key(self) -> str:
        """This activation's id among the scenario's activations in its area: its start (ISO, to the
        second; "-" for one begun before the kept window). A checklist form names it (actions/tokens.py)."""
        return "-" if self.since is None else self.since.replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class ScenarioEnded:
    scenario_id: str
    area_code: str
    since: datetime | None  # None: it began before the kept window
    ended: datetime


def _acknowledged(activation: ScenarioActivation, scope_code: str | None,
                  acks: tuple[tuple[str, str, str, datetime], ...]) -> bool:
    """An acknowledgement belongs to an activation when it is for the same scenario x area x wall
    scope and made at or after the activation's ``since`` (None: any kept one)."""
    for scenario_id, area_code, ack_scope, at in acks:
        if (scenario_id, area_code) != (activation.scenario_id, activation.area_code):
            continue
        if (ack_scope or None) != (scope_code or None):
            continue
        if activation.since is None or at >= activation.since:
            return True
    return False


# --- the shift log (issue 15): a scenario's starts and ends ------------------------------------------

@dataclass(frozen=True)
class ScenarioChange:
    """One start or end of a scenario in an area, as the scenario state's forward scan saw it."""
    scenario_id: str
    area_code: str
    kind: str  # 'start' | 'end'
    at: datetime | None  # naive UTC; None: a start from before the kept window
    reason: str  # a start: 'indicators' | 'incidents' | 'manual'; an end: 'rule' | 'manual'
    by: str | None = None  # a manual start or end: the principal


@dataclass(frozen=True)
class ScenarioState:
    """Which scenarios are active in which areas, since when and why: one per tick for every
    screen (tick cache key ``keys.scenario_state_key()``)."""
    computed_at: datetime
    active: tuple[ScenarioActivation, ...]
    last_ended: tuple[ScenarioEnded, ...]  # the newest ended activation per scenario x area in the window
    acks: tuple[tuple[str, str, str, datetime], ...]  # (scenario_id, area_code, scope_code, at) of active ones
    # Every start and end the forward scan saw in its window, in time order (the shift log, issue 15).
    changes: tuple[ScenarioChange, ...] = ()

    def active_in(self, lineage: Any, scope_code: str | None) -> tuple[ScenarioActivation, ...]:
        """The activations in the scope: the area is ``scope_code`` or lies below it (None: the city,
        every activation). ``lineage`` is the runtime's (area code -> its codes up to the city)."""
        from data_access.areas import within_scope  # the one scope rule

        return tuple(a for a in self.active if within_scope(lineage, a.area_code, scope_code))

    def takeovers(self, lineage: Any, scope_code: str | None) -> tuple[ScenarioActivation, ...]:
        """``active_in`` minus the activations acknowledged for this wall scope since they began."""
        return tuple(a for a in self.active_in(lineage, scope_code)
                     if not _acknowledged(a, scope_code, self.acks))

    def activation(self, scenario_id: str, area_code: str) -> ScenarioActivation | None:
        for a in self.active:
            if (a.scenario_id, a.area_code) == (scenario_id, area_code):
                return a
        return None

    def ended(self, scenario_id: str, area_code: str) -> ScenarioEnded | None:
        for e in self.last_ended:
            if (e.scenario_id, e.area_code) == (scenario_id, area_code):
                return e
        return None


EMPTY_SCENARIO_STATE = ScenarioState(computed_at=datetime(1970, 1, 1), active=(), last_ended=(), acks=())


@dataclass(frozen=True)
class ScenarioBoard:
    """Everything one scenario board shows for one area (``load_scenario_board``)."""
    scenario: dict[str, Any]  # the v_scenarios row
    area: Area
    activation: ScenarioActivation | None  # None: inactive here
    last_ended: ScenarioEnded | None  # the newest ended activation in the kept window
    # One row per scenario indicator (its sort order): indicator_id, name, name_en, unit, decimals,
    # triggers, value, status, ts (the newest minute of the area's series; NaN/None: no data).
    indicators: pd.DataFrame
    # Minute values of those indicators in the area since the activation (inactive, or since None:
    # the last hour): indicator_id, minute, value, status, oldest first.
    history: pd.DataFrame
    incidents: pd.DataFrame  # v_open_incidents of its categories in the area, overdue first, then due_at
    resources: pd.DataFrame  # v_resources of its types in the area (incl. those without a position)
    # Readiness: one row per resource type of the scenario: resource_type, name, name_en, idle, total.
    readiness: pd.DataFrame
    # One row per checklist step: step_id, sort_order, text, text_en, role, and its mark in this
    # activation (state 'done'|'skipped'|None, principal, at, comment; the newest mark wins).
    steps: pd.DataFrame
    read_at: datetime
    # The scenario's activations in this area or below it (a city board of a district scenario).
    active_below: tuple[ScenarioActivation, ...] = ()
    incidents_total: int = 0  # exact counts of its open incidents in the area (the list stops at 500)
    incidents_overdue: int = 0


# --- the shift log (issue 15): its window and its entries ------------------------------------------

LOG_KINDS = ("alarm", "scenario", "action", "overdue", "wall")  # the kinds of entry, in display order


@dataclass(frozen=True)
class ShiftWindow:
    """The moments a log covers, naive UTC floored to the minute (``until`` included)."""
    since: datetime
    until: datetime
    default: bool = False  # neither from nor to was given: the last shift


@dataclass(frozen=True)
class ShiftLog:
    """One log: its entries (``COLUMNS`` plus display names, oldest first, at most ``MAX_ROWS``),
    their totals by kind and event (every entry, also beyond ``MAX_ROWS``), and what it covers."""
    window: ShiftWindow
    area_code: str | None
    kinds: tuple[str, ...]
    entries: pd.DataFrame
    total: int
    totals: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    walls_known: bool = True  # False: no fleet events to read (the fleet is not running here)

    @property
    def truncated(self) -> bool:
        return self.total > len(self.entries)
