"""The wall's cached reads: one snapshot per scope and tick for every screen, the incident strip on
its own key (one tick behind at most), the catalogue, and the wall's render and replies (built by
the page from the snapshot: pages/wall.py hands in the pure render)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from data_access.areas import require_within
from data_access.db import utc_now
from data_access.models import ScenarioActivation, ScenarioState, WallIncidents, WallSnapshot
from data_access.readers import keys
from data_access.readers.areas import level_words, read_area, read_level_names
from data_access.readers.scenarios import read_scenario_catalogue, read_scenario_state
from data_access.runtime import CityWallRuntime
from data_access.vitals import indicator_catalogue
from data_access.wall import incident_category_names, load_wall, load_wall_incidents

T = TypeVar("T")


def read_wall(*, runtime: CityWallRuntime, scope: str | None, code: str) -> WallSnapshot:
    """The wall of the area ``code``, read once per tick for every screen showing it (after the scope
    check: a user scoped elsewhere gets OutsideScope, never the cached snapshot). Only the code comes
    from the caller: the area (its level, its names) is read here by code, so what every screen of
    that area is shown never depends on what one client sent (LookupError: no such area).

    The vital signs are this tick's; the incident strip is this tick's when it is already read,
    else the previous tick's while the tick warmer reads it (its views are the slow ones at
    100,000 open incidents: a new reading must not wait for them)."""
    require_within(runtime.lineage, code, scope)
    area = read_area(runtime=runtime, scope=scope, code=code)
    if area is None:
        raise LookupError(f"no area {code[:40]!r}")
    settings = runtime.settings
    words = level_words(read_level_names(runtime=runtime), area.level)

    def incidents() -> WallIncidents:
        return runtime.cache.latest(
            keys.wall_incidents_key(area.area_code),
            lambda: load_wall_incidents(engine=runtime.engine, area=area, hotline_source=settings.hotline_source))

    return runtime.cache.read(
        keys.wall_key(area.area_code),
        lambda: load_wall(engine=runtime.engine, area=area, now=utc_now(), hotline_source=settings.hotline_source,
                          incidents=incidents, level_words=words))


def read_wall_catalogue(*, runtime: CityWallRuntime) -> pd.DataFrame:
    """The indicators shown on walls (layout time; shared by all screens for a tick)."""
    def compute() -> pd.DataFrame:
        catalogue = indicator_catalogue(engine=runtime.engine)
        return catalogue[catalogue["on_wall"].astype(bool)].reset_index(drop=True)

    return runtime.cache.read(keys.wall_catalogue_key(), compute)


def read_wall_render(*, runtime: CityWallRuntime, scope: str | None, code: str, lang: str,
                     render: Callable[[int], T], usable: Callable[[T], bool],
                     signatures: Callable[[T], dict[str, str] | None]) -> T:
    """The wall of one scope and language at this tick, rendered once for every screen showing it
    and ready at each window's start (the tick warmer). ``render(tick)`` builds it (it reads
    through ``read_wall``); ``usable``: whether a previous tick's render may stand in (a failed
    read never does); the ``signatures`` of every render are remembered for a few ticks: the base
    of the next ticks' deltas (``read_wall_sent``). Keyed by ``code`` and ``lang`` only: ``render``
    must read everything else on the server (``read_wall``), never take it from the request."""
    require_within(runtime.lineage, code, scope)

    def compute() -> T:
        tick = runtime.cache.tick()
        value = render(tick)
        sent = signatures(value)
        if sent is not None:
            runtime.cache.remember(keys.wall_sent_key(code, lang, tick), sent)
        return value

    return runtime.cache.read(keys.wall_render_key(code, lang), compute, immutable=True, stale_ok=usable,
                              warm=True)


def read_wall_reply(*, runtime: CityWallRuntime, scope: str | None, code: str, lang: str, tick: int,
                    applied_tick: int | None, reply: Callable[[dict[str, str] | None], T]) -> T:
    """The reply for screens of one scope that last applied ``applied_tick``, built once per tick:
    ``reply`` gets the signatures remembered for that tick (None: unknown or expired, send all)."""
    require_within(runtime.lineage, code, scope)

    def compute() -> T:
        sent: Any = None
        if applied_tick is not None:
            sent = runtime.cache.recall(keys.wall_sent_key(code, lang, applied_tick))
        return reply(sent if isinstance(sent, dict) else None)

    return runtime.cache.read(keys.wall_reply_key(code, lang, tick, applied_tick), compute, immutable=True)


@dataclass(frozen=True)
class WallTakeovers:
    """The scenarios active in one wall's scope (``active``), those of them that still take the wall
    over (``pending``: not acknowledged for this scope since they started), and what names them
    (read only while one is active: a quiet city costs no read at all)."""

    active: tuple[ScenarioActivation, ...]
    pending: tuple[ScenarioActivation, ...]
    scenarios: pd.DataFrame
    scenario_indicators: pd.DataFrame
    indicators: pd.DataFrame
    categories: pd.DataFrame  # category, category_name, category_name_en (only with an incidents rule active)


def wall_scope_code(runtime: CityWallRuntime, code: str) -> str | None:
    """What a wall's takeovers and their acknowledgements are keyed by (operator_actions.scope_code):
    the wall's area, None for the city's wall (every activation is in its scope)."""
    return None if len(runtime.lineage(code)) == 1 else code


def read_wall_takeovers(*, runtime: CityWallRuntime, scope: str | None, code: str) -> WallTakeovers:
    """The takeovers of the wall of ``code`` at this tick, from the one scenario state every screen
    shares (``read_scenario_state``, once per tick): a scoped wall gets the scenarios inside its
    scope, the city wall every one. After the scope check, like every reader."""
    require_within(runtime.lineage, code, scope)
    return wall_takeovers_in(runtime=runtime, code=code, state=read_scenario_state(runtime=runtime))


def wall_takeovers_in(*, runtime: CityWallRuntime, code: str, state: ScenarioState) -> WallTakeovers:
    """The takeovers of the wall of ``code`` in one scenario ``state`` (this tick's, or a replayed
    minute's: readers/replay.py). The caller has checked the scope."""
    wall = wall_scope_code(runtime, code)
    active = tuple(state.active_in(runtime.lineage, wall))
    pending = tuple(state.takeovers(runtime.lineage, wall))
    if not active:
        empty = pd.DataFrame()
        return WallTakeovers(active=(), pending=(), scenarios=empty, scenario_indicators=empty, indicators=empty,
                             categories=empty)
    catalogue = read_scenario_catalogue(runtime=runtime)
    indicators = runtime.cache.read(keys.wall_indicator_names_key(),
                                    lambda: indicator_catalogue(engine=runtime.engine))
    categories = pd.DataFrame()
    if any(a.reason == "incidents" for a in active):
        categories = runtime.cache.read(keys.wall_category_names_key(),
                                        lambda: incident_category_names(engine=runtime.engine))
    return WallTakeovers(active=active, pending=pending, scenarios=catalogue.scenarios,
                         scenario_indicators=catalogue.indicators, indicators=indicators, categories=categories)


def read_takeover_pending(*, runtime: CityWallRuntime, scope: str | None, scope_code: str, scenario_id: str,
                          area_code: str) -> bool:
    """Whether the scenario's activation in ``area_code`` still takes the wall of ``scope_code``
    over at this tick (active, and not acknowledged for that scope): a kiosk wall showing its
    board goes back to its rotation once it does not."""
    require_within(runtime.lineage, scope_code, scope)
    state = read_scenario_state(runtime=runtime)
    return any(a.scenario_id == scenario_id and a.area_code == area_code
               for a in state.takeovers(runtime.lineage, wall_scope_code(runtime, scope_code)))
