"""Cached reads of field resources (``v_resources``) for the street page's map layer: one read per
area and tick for every screen showing it, after the scope check."""
from __future__ import annotations

import pandas as pd

from data_access.areas import require_within
from data_access.readers import keys
from data_access.resources import resource_types, resources_in_area
from data_access.runtime import CityWallRuntime


def read_area_resources(*, runtime: CityWallRuntime, scope: str | None, area_code: str) -> pd.DataFrame:
    """The resources of every type in ``area_code`` (those without a position included)."""
    require_within(runtime.lineage, area_code, scope)
    return runtime.cache.read(keys.area_resources_key(area_code),
                              lambda: resources_in_area(engine=runtime.engine, area_code=area_code), immutable=True)


def read_resource_types(*, runtime: CityWallRuntime) -> pd.DataFrame:
    """The resource types and their names (the markers' glyphs and popups), once per tick."""
    return runtime.cache.read(keys.resource_types_key(), lambda: resource_types(engine=runtime.engine),
                              immutable=True)
