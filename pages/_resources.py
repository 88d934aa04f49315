"""The field-resource layer on a level page's map (the street page): the same builders as the
scenario board's (components/resource_layer.py), read through the cached reader, refreshed on the
map's own tick by a MATCH callback (registered once per app by pages/_callbacks.py)."""
from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from dash import no_update
from sqlalchemy.exc import SQLAlchemyError

from components.resource_layer import TypeNames, create_resource_layer, resource_features
from data_access.db import utc_now
from data_access.errors import first_line
from data_access.models import Area
from data_access.readers.resources import read_area_resources, read_resource_types
from data_access.runtime import CityWallRuntime
from data_access.vitals import mark_position_staleness
from pages._map import scope_area
from pages._runtime import current_runtime
from security import current_principal

log = logging.getLogger(__name__)


def type_names(runtime: CityWallRuntime) -> TypeNames:
    """resource_type -> (name, name_en), from v_resource_types."""
    frame = read_resource_types(runtime=runtime)
    return {str(r.resource_type): (str(r.name), None if pd.isna(r.name_en) else str(r.name_en))
            for r in frame.itertuples(index=False)}


def area_features(runtime: CityWallRuntime, area: Area, lang: str) -> dict[str, Any]:
    resources = read_area_resources(runtime=runtime, scope=current_principal().scope, area_code=area.area_code)
    marked = mark_position_staleness(resources, now=utc_now())
    return resource_features(marked, names=type_names(runtime), lang=lang)


def resource_layers(runtime: CityWallRuntime, *, key: str, area: Area, lang: str) -> list[Any]:
    """The street map's extra layer (raises SQLAlchemyError when the database is down)."""
    return [create_resource_layer(key=key, features=area_features(runtime, area, lang), lang=lang)]


def refresh_resources(_n: int | None, scope: dict | None) -> Any:
    try:
        area, lang = scope_area(scope)
        if area is None:
            return no_update
        return area_features(current_runtime(), area, lang)
    except SQLAlchemyError as exc:  # the map's own refresh says the database is away
        log.warning("resource layer refresh failed: %s", first_line(exc))
        return no_update
