"""The incident list's reads: the filter (scope-checked), a page of rows, the count (cached per
tick and filter), the export, the category choices."""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from data_access.areas import require_within
from data_access.incident_list import (
    category_options,
    count_incidents,
    iter_incidents,
    known_categories,
    list_incidents,
)
from data_access.models import IncidentFilter
from data_access.readers import keys
from data_access.runtime import CityWallRuntime

MAX_BLOCK = 1000


def scoped_filter(*, runtime: CityWallRuntime, scope: str | None, list_scope: Mapping[str, Any] | None,
                  categories: object, statuses: object, priorities: object, overdue: object,
                  search: object) -> IncidentFilter:
    """The list's filter from its controls and its store (``list_scope``: level and area code);
    raises OutsideScope when its area (None: the city) is outside ``scope``, so a forged or
    malformed store can never widen the list."""
    list_scope = list_scope if isinstance(list_scope, Mapping) else {}
    area = IncidentFilter.from_values(area_level=list_scope.get("level"), area_code=list_scope.get("area_code"))
    require_within(runtime.lineage, area.scope_code, scope)  # before any read, the catalogue's too
    return IncidentFilter.from_values(area_level=area.area_level, area_code=area.area_code, categories=categories,
                                      statuses=statuses, priorities=priorities,
                                      overdue=None if overdue in (None, "any") else overdue, search=search,
                                      known_categories=read_known_categories(runtime=runtime))


def read_known_categories(*, runtime: CityWallRuntime) -> frozenset[str]:
    """The categories of open incidents (the catalogue a filter is bounded to), once per tick."""
    return runtime.cache.read(keys.list_categories_key(), lambda: known_categories(engine=runtime.engine),
                              immutable=True)


def _check(runtime: CityWallRuntime, scope: str | None, filt: IncidentFilter) -> None:
    require_within(runtime.lineage, filt.scope_code, scope)


def read_incident_count(*, runtime: CityWallRuntime, scope: str | None, filt: IncidentFilter) -> int:
    _check(runtime, scope, filt)
    return runtime.cache.read(keys.list_count_key(filt), lambda: count_incidents(engine=runtime.engine, filt=filt))


def read_incident_rows(*, runtime: CityWallRuntime, scope: str | None, filt: IncidentFilter,
                       sort: Sequence[tuple[str, str]], start: int, end: int) -> pd.DataFrame:
    _check(runtime, scope, filt)
    return list_incidents(engine=runtime.engine, filt=filt, sort=sort, offset=start, limit=min(end - start, MAX_BLOCK))


def read_incident_export(*, runtime: CityWallRuntime, scope: str | None, filt: IncidentFilter,
                         sort: Sequence[tuple[str, str]]) -> Iterator[pd.DataFrame]:
    _check(runtime, scope, filt)
    return iter_incidents(engine=runtime.engine, filt=filt, sort=sort)


def read_category_options(*, runtime: CityWallRuntime, scope: str | None, area_code: str) -> pd.DataFrame:
    require_within(runtime.lineage, area_code, scope)
    return category_options(engine=runtime.engine, area_code=area_code)
