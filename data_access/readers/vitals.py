"""The vitals explorer's reads: the catalogue, and one series' history after the scope check (the
city's and the principal's own areas' vital signs, ancestors included)."""
from __future__ import annotations

from datetime import datetime

import pandas as pd

from data_access.areas import require_within
from data_access.runtime import CityWallRuntime
from data_access.vitals import indicator_catalogue, vitals_history


def read_catalogue(*, runtime: CityWallRuntime) -> pd.DataFrame:
    """Every indicator (uncached: the explorer's page loads and searches)."""
    return indicator_catalogue(engine=runtime.engine)


def read_vitals_history(*, runtime: CityWallRuntime, scope: str | None, indicator_id: str, area_code: str,
                        since: datetime, resolution: str) -> pd.DataFrame:
    """One series' history; OutsideScope unless ``area_code`` is inside ``scope`` or one of its ancestors."""
    require_within(runtime.lineage, area_code, scope, ancestors=True)
    return vitals_history(engine=runtime.engine, indicator_id=indicator_id, area_code=area_code, since=since,
                          resolution=resolution)
