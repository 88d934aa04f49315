"""What each page reads per tick, bundled and shared through the tick cache."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from data_access import queries
from data_access.db import utc_now
from data_access.runtime import CityWallRuntime


@dataclass(frozen=True)
class WallSnapshot:
    vitals: pd.DataFrame
    counts: queries.IncidentCounts | None
    newest_reading: datetime | None  # naive UTC; None when nothing was ever reported


def wall_snapshot(*, runtime: CityWallRuntime, area_code: str) -> WallSnapshot:
    """Everything one wall shows, read once per tick for all screens of the same scope."""
    def compute() -> WallSnapshot:
        vitals = queries.vitals_latest(engine=runtime.engine, area_code=area_code, now=utc_now(),
                                       on_wall_only=True)
        newest = vitals["ts"].max() if not vitals.empty else None
        return WallSnapshot(
            vitals=vitals,
            counts=queries.incident_counts(engine=runtime.engine, area_code=area_code),
            newest_reading=None if newest is None or pd.isna(newest) else newest.to_pydatetime(),
        )

    return runtime.cache.get_or_compute(f"wall:{area_code}", compute)


def city_area(*, runtime: CityWallRuntime) -> queries.Area | None:
    return runtime.cache.get_or_compute("city", lambda: queries.city_area(engine=runtime.engine))
