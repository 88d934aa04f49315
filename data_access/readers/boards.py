"""The scenario board's render, cached: what a board shows in one language is built once per tick
for every screen showing it (the page hands in the pure build, as the wall's render does). The
scope is checked first, so a principal scoped elsewhere never gets the cached value."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from data_access.areas import require_within
from data_access.readers import keys
from data_access.runtime import CityWallRuntime

T = TypeVar("T")


def read_board_render(*, runtime: CityWallRuntime, scope: str | None, scenario_id: str, area_code: str, lang: str,
                      render: Callable[[], T]) -> T:
    require_within(runtime.lineage, area_code, scope)
    return runtime.cache.read(keys.scenario_board_render_key(scenario_id, area_code, lang), render, immutable=True)
