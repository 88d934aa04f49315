"""The replay's cached reads (issue 15): the as-of twins of the wall's, the level pages' and the
map's readers, keyed by the replayed minute and shared by every screen replaying it, after the same
scope checks as the live readers.

A minute settled long enough (``SETTLED``: the roll-up's late readings are in) does not change any
more: its value is remembered for ``KEEP_TICKS`` ticks, so screens replaying the same minute (a
paused replay, a shared link) cost one read, not one a tick. A minute closer to now is read once
per tick like a live panel. ``at`` is what ``data_access.replay.parse_at`` returned (naive UTC,
a whole minute); it is floored again here, so a key never carries seconds."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pandas as pd

from data_access.areas import require_within
from data_access.asof import (
    count_incidents_as_of,
    iter_incidents_as_of,
    list_incidents_as_of,
    load_map_counts_as_of,
    load_panels_as_of,
    load_wall_as_of,
    open_cell_shapes_as_of,
    open_incident_points_as_of,
)
from data_access.db import utc_now
from data_access.models import (
    Area,
    IncidentFilter,
    MapCounts,
    MapState,
    MapUpdate,
    PanelData,
    ScenarioState,
    WallSnapshot,
)
from data_access.readers import keys
from data_access.readers.areas import level_words, read_area, read_level_names
from data_access.readers.wall import WallTakeovers, wall_takeovers_in
from data_access.replay import kept_history_start
from data_access.runtime import CityWallRuntime
from data_access.scenarios import load_scenario_state

T = TypeVar("T")

SETTLED = timedelta(minutes=10)  # older minutes no longer change (late readings: 5 min, feeder/rollups.py)
KEEP_TICKS = 120  # how long a settled minute's read is kept (~10 minutes at 5 s)
KEPT_TICKS = 12  # how long the kept history's start is kept (~1 minute at 5 s)
MAX_BLOCK = 1000


def replay_minute(at: datetime) -> datetime:
    """``at`` as the whole minute (naive UTC) every replay key and read uses."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.replace(second=0, microsecond=0)


def _as_of(runtime: CityWallRuntime, key: str, at: datetime, compute: Callable[[], T]) -> T:
    """One read of ``key`` per tick for every screen; a settled minute's kept for KEEP_TICKS ticks."""
    settled = at <= utc_now() - SETTLED
    if settled:
        kept = runtime.cache.recall(key)
        if kept is not None:
            return kept
    value = runtime.cache.read(key, compute, immutable=True)
    if settled:
        runtime.cache.remember(key, value, ticks=KEEP_TICKS)
    return value


def read_kept_history_start(*, runtime: CityWallRuntime) -> datetime | None:
    """The oldest moment the database keeps history for (``replay.kept_history_start``), read at most
    once every KEPT_TICKS ticks: what ``parse_at`` bounds a replay moment by. (``False`` is kept
    for "no history", so an empty database is not asked again on every request.)"""
    key = keys.replay_kept_key()
    kept = runtime.cache.recall(key)
    if kept is None:
        kept = runtime.cache.read(key, lambda: kept_history_start(engine=runtime.engine) or False)
        runtime.cache.remember(key, kept, ticks=KEPT_TICKS)
    return kept or None


def read_wall_as_of(*, runtime: CityWallRuntime, scope: str | None, code: str, at: datetime) -> WallSnapshot:
    """The wall of the area ``code`` as it was at ``at`` (``asof.load_wall_as_of``), once per minute for
    every screen replaying it, after the scope check (OutsideScope; LookupError: no such area). Only
    the code comes from the caller, as for ``read_wall``."""
    require_within(runtime.lineage, code, scope)
    area = read_area(runtime=runtime, scope=scope, code=code)
    if area is None:
        raise LookupError(f"no area {code[:40]!r}")
    minute = replay_minute(at)
    settings = runtime.settings
    words = level_words(read_level_names(runtime=runtime), area.level)
    return _as_of(runtime, keys.replay_wall_key(area.area_code, minute), minute,
                  lambda: load_wall_as_of(engine=runtime.engine, area=area, at=minute,
                                          hotline_source=settings.hotline_source, level_words=words, tz=settings.tz))


def read_map_counts_as_of(*, runtime: CityWallRuntime, at: datetime) -> MapCounts:
    """Every map's counts as they were at ``at``, once per minute for all maps (no scope: callers take
    one area's rows from it after their own check, as ``read_map_counts``)."""
    minute = replay_minute(at)
    return _as_of(runtime, keys.replay_map_counts_key(minute), minute,
                  lambda: load_map_counts_as_of(engine=runtime.engine, at=minute))


def read_map_update_as_of(*, runtime: CityWallRuntime, scope: str | None, area: Area, lang: str, at: datetime,
                          build: Callable[[MapCounts], MapUpdate]) -> MapUpdate:
    """A map of ``area`` as it was at ``at``: ``build`` gets that minute's counts (as
    ``read_map_update``'s); its state is remembered under its signature too, so ``read_map_delta``
    serves a screen stepping from one replayed minute to the next the difference only."""
    require_within(runtime.lineage, area.area_code, scope)
    minute = replay_minute(at)

    def compute() -> MapUpdate:
        update = build(read_map_counts_as_of(runtime=runtime, at=minute))
        runtime.cache.remember(keys.map_sent_key(area, lang, update.signature), MapState.of(update))
        return update

    return _as_of(runtime, keys.replay_map_update_key(area, lang, minute), minute, compute)


def read_points_as_of(*, runtime: CityWallRuntime, scope: str | None, street_code: str, at: datetime) -> pd.DataFrame:
    """The street map's incident points at ``at`` (``asof.open_incident_points_as_of``)."""
    require_within(runtime.lineage, street_code, scope)
    minute = replay_minute(at)
    return _as_of(runtime, keys.replay_points_key(street_code, minute), minute,
                  lambda: open_incident_points_as_of(engine=runtime.engine, street_code=street_code, at=minute))


def read_open_cell_shapes_as_of(*, runtime: CityWallRuntime, scope: str | None, area: Area,
                                at: datetime) -> pd.DataFrame:
    """The shapes of the cells of ``area`` that held incidents open at ``at`` (a replayed map's cells)."""
    require_within(runtime.lineage, area.area_code, scope)
    minute = replay_minute(at)
    return _as_of(runtime, keys.replay_cells_key(area.area_code, minute), minute,
                  lambda: open_cell_shapes_as_of(engine=runtime.engine, area=area, at=minute))


def read_scenario_state_as_of(*, runtime: CityWallRuntime, at: datetime) -> ScenarioState:
    """The scenario state as it was at ``at`` (``load_scenario_state(now=at)``), once per minute for
    every screen (no scope, as ``read_scenario_state``: callers filter with ``active_in``)."""
    minute = replay_minute(at)
    return _as_of(runtime, keys.replay_scenario_state_key(minute), minute,
                  lambda: load_scenario_state(engine=runtime.engine, now=minute))


def read_panels_as_of(*, runtime: CityWallRuntime, scope: str | None, area: Area, at: datetime) -> PanelData:
    """A level page's panels of ``area`` as they were at ``at``, after the scope check."""
    require_within(runtime.lineage, area.area_code, scope)
    minute = replay_minute(at)
    return _as_of(runtime, keys.replay_panels_key(area.area_code, minute), minute,
                  lambda: load_panels_as_of(engine=runtime.engine, area=area, at=minute, tz=runtime.settings.tz))


def read_incident_count_as_of(*, runtime: CityWallRuntime, scope: str | None, filt: IncidentFilter,
                              at: datetime) -> int:
    """How many incidents open at ``at`` the list's filter matches (its scope checked first)."""
    require_within(runtime.lineage, filt.scope_code, scope)
    minute = replay_minute(at)
    return _as_of(runtime, keys.replay_list_count_key(filt, minute), minute,
                  lambda: count_incidents_as_of(engine=runtime.engine, filt=filt, at=minute))


def read_incident_rows_as_of(*, runtime: CityWallRuntime, scope: str | None, filt: IncidentFilter,
                             sort: Sequence[tuple[str, str]], start: int, end: int, at: datetime) -> pd.DataFrame:
    """One block of the list of incidents open at ``at`` (uncached, as ``read_incident_rows``)."""
    require_within(runtime.lineage, filt.scope_code, scope)
    return list_incidents_as_of(engine=runtime.engine, filt=filt, at=replay_minute(at), sort=sort, offset=start,
                                limit=min(end - start, MAX_BLOCK))


def read_incident_export_as_of(*, runtime: CityWallRuntime, scope: str | None, filt: IncidentFilter,
                               sort: Sequence[tuple[str, str]], at: datetime) -> Iterator[pd.DataFrame]:
    """The CSV export of the list of incidents open at ``at`` (its scope checked first)."""
    require_within(runtime.lineage, filt.scope_code, scope)
    return iter_incidents_as_of(engine=runtime.engine, filt=filt, at=replay_minute(at), sort=sort)


def read_wall_takeovers_as_of(*, runtime: CityWallRuntime, scope: str | None, code: str,
                              at: datetime) -> WallTakeovers:
    """The scenarios that were active in the wall's scope at ``at`` (``read_wall_takeovers`` over the
    replayed minute's scenario state), after the scope check."""
    require_within(runtime.lineage, code, scope)
    return wall_takeovers_in(runtime=runtime, code=code, state=read_scenario_state_as_of(runtime=runtime, at=at))
