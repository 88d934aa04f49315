"""The level pages' panels of one area (KPIs, child ranking, categories, funnel, vital signs),
read once per tick for every screen."""
from __future__ import annotations

from sqlalchemy.engine import Engine

from data_access.areas import require_within
from data_access.db import utc_now
from data_access.incidents import (
    cell_counts,
    cells_ranked,
    child_areas_ranked,
    incident_counts,
    incident_funnel,
    open_incidents_by_category,
)
from data_access.models import Area, PanelData, child_level
from data_access.readers import keys
from data_access.runtime import CityWallRuntime
from data_access.vitals import vitals_latest


def load_panels(*, engine: Engine, area: Area) -> PanelData:
    """Everything the panels of one area show, uncached."""
    if child_level(area):
        children = child_areas_ranked(engine=engine, parent_code=area.area_code)
    else:  # a street's children are its grid cells: every one, by its name (the cell id when it has none), zeros
        children = cells_ranked(cell_counts(engine=engine, street_code=area.area_code))
    return PanelData(
        counts=incident_counts(engine=engine, area_code=area.area_code),
        children=children,
        categories=open_incidents_by_category(engine=engine, area_code=area.area_code),
        funnel=incident_funnel(engine=engine, area_code=area.area_code),
        vitals=vitals_latest(engine=engine, area_code=area.area_code, now=utc_now()),
    )


def read_panels(*, runtime: CityWallRuntime, scope: str | None, area: Area) -> PanelData:
    """The panels of ``area``, read once per tick for every screen (after the scope check: a user
    scoped elsewhere gets OutsideScope, never the cached panels)."""
    require_within(runtime.lineage, area.area_code, scope)
    return runtime.cache.read(keys.panels_key(area.area_code), lambda: load_panels(engine=runtime.engine, area=area))


def recent_panels(*, runtime: CityWallRuntime, scope: str | None, area: Area) -> PanelData | None:
    """The panels of ``area`` if a screen read them this tick or the last, else None (never reads)."""
    require_within(runtime.lineage, area.area_code, scope)
    found = runtime.cache.latest(keys.panels_key(area.area_code))
    return found if isinstance(found, PanelData) else None
