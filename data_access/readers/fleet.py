"""The wall fleet for the /walls page (issue 15, item 4): read once per tick for every supervisor
watching it, then filtered by the principal's scope (a district's supervisor sees the screens
showing its district and the areas inside it)."""
from __future__ import annotations

import pandas as pd

from data_access.areas import within_scope
from data_access.fleet import fleet_screens
from data_access.readers import keys
from data_access.runtime import CityWallRuntime


def read_fleet(*, runtime: CityWallRuntime, scope: str | None) -> pd.DataFrame:
    """Every screen of the fleet now (data_access.fleet.SCREEN_COLUMNS) whose scope is within ``scope``."""
    frame = runtime.cache.read(keys.fleet_key(), lambda: fleet_screens(runtime=runtime), immutable=True)
    if scope is None or frame.empty:
        return frame
    inside = [isinstance(code, str) and within_scope(runtime.lineage, code, scope) for code in frame["scope_code"]]
    return frame[inside].reset_index(drop=True)
