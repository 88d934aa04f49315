"""Cached reads of areas: the city, one area by code (after the scope check), its lineage."""
from __future__ import annotations

from data_access.areas import area_by_code, area_chain, areas_at_level, city_area, require_within, valid_code
from data_access.levels import LevelName, level_names
from data_access.models import Area
from data_access.readers import keys
from data_access.runtime import CityWallRuntime


def read_city(*, runtime: CityWallRuntime) -> Area | None:
    """The city (every principal may know which city it is: its name heads every page)."""
    return runtime.cache.read(keys.city_key(), lambda: city_area(engine=runtime.engine))


def read_level_names(*, runtime: CityWallRuntime) -> dict[str, LevelName]:
    """What the city calls its levels (v_level_names; CityWall's words where it says nothing)."""
    return runtime.cache.read(keys.level_names_key(), lambda: level_names(engine=runtime.engine),
                              warm=True)  # a map's tick asks (legend): the tick computer reads it, not the request


def level_words(names: dict[str, LevelName], level: str) -> dict[str, str]:
    """The word for ``level`` in each language, {"zh": "区", "en": "district"} (singular)."""
    found = names.get(level)
    return {lang: found.label(lang) for lang in ("zh", "en")} if found else {}


def read_area(*, runtime: CityWallRuntime, scope: str | None, code: object) -> Area | None:
    """The area ``code`` (None: malformed or unknown), after the scope check (OutsideScope)."""
    if not valid_code(code):
        return None
    require_within(runtime.lineage, code, scope)  # type: ignore[arg-type]
    # warm: every map's tick asks (pages/_map.scope_area): with the tick computer, never read in the request
    return runtime.cache.read(keys.area_key(code), lambda: area_by_code(engine=runtime.engine,  # type: ignore[arg-type]
                                                                         area_code=code),  # type: ignore[arg-type]
                              warm=True)


def read_lineage(*, runtime: CityWallRuntime, scope: str | None, code: object) -> list[Area]:
    """The area ``code`` and its ancestors, nearest first ([]: malformed or unknown; uncached: a
    page load's breadcrumb), after the scope check (a scoped principal: OutsideScope for an area
    outside its scope, and for an unknown one)."""
    if scope is not None:
        require_within(runtime.lineage, code, scope)  # type: ignore[arg-type]
    return area_chain(engine=runtime.engine, area_code=code)


def read_districts(*, runtime: CityWallRuntime) -> list[Area]:
    """Every district, in display order (names for pickers and playlists; uncached: page loads only)."""
    return areas_at_level(engine=runtime.engine, level="district")
