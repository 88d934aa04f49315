"""The shift log, read once per tick and window for every screen asking, after the scope check."""
from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

import pandas as pd

from data_access.areas import require_within
from data_access.db import utc_now
from data_access.fleet import fleet_events
from data_access.readers import keys
from data_access.readers.replay import KEEP_TICKS, SETTLED
from data_access.readers.scenarios import read_scenario_state
from data_access.runtime import CityWallRuntime
from data_access.shift_log import KINDS, ShiftLog, ShiftWindow, load_shift_log


def read_fleet_events(*, runtime: CityWallRuntime, window: ShiftWindow) -> pd.DataFrame | None:
    """The wall fleet's OFFLINE / back events of the window (its last minute included): the one place
    the log asks the fleet (data_access.fleet.fleet_events, kept in the shared tick cache)."""
    return fleet_events(runtime=runtime, since=window.since, until=window.until + timedelta(minutes=1))


def read_shift_log(*, runtime: CityWallRuntime, scope: str | None, window: ShiftWindow, area_code: str | None,
                   kinds: Collection[str] = KINDS) -> ShiftLog:
    """The log of ``window`` for ``area_code`` (None: the city); OutsideScope when the area is not
    inside ``scope`` (a scoped supervisor reads their own area's log only)."""
    require_within(runtime.lineage, area_code, scope)
    chosen = tuple(k for k in KINDS if k in kinds) or KINDS
    key = keys.shift_log_key(window.since.isoformat(), window.until.isoformat(), area_code, chosen)

    def load() -> ShiftLog:
        # A window ending this minute: the scenario changes of this tick's state (one scan for all).
        state = read_scenario_state(runtime=runtime) if "scenario" in chosen else None
        return load_shift_log(engine=runtime.engine, window=window, area_code=area_code, kinds=chosen, state=state,
                              fleet=read_fleet_events(runtime=runtime, window=window) if "wall" in chosen else None)

    # A window that ended long enough ago (late readings in: readers/replay.py SETTLED) no longer
    # changes: kept KEEP_TICKS ticks, so a handover page, its print and its CSV read it once.
    settled = window.until <= utc_now() - SETTLED
    if settled:
        kept = runtime.cache.recall(key)
        if isinstance(kept, ShiftLog):
            return kept
    value = runtime.cache.read(key, load, immutable=True)
    if settled:
        runtime.cache.remember(key, value, ticks=KEEP_TICKS)
    return value
