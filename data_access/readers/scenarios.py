"""The scenario state, read once per tick for every screen (the wall's takeover, the banner, the
boards), and one scenario board per scenario x area and tick, after the scope check."""
from __future__ import annotations

from data_access.areas import require_within, valid_code
from data_access.db import utc_now
from data_access.models import ScenarioBoard, ScenarioCatalogue, ScenarioState, valid_scenario_id
from data_access.readers import keys
from data_access.readers.areas import read_area
from data_access.runtime import CityWallRuntime
from data_access.scenarios import load_scenario_board, load_scenario_state, scenario_catalogue


def read_scenario_state(*, runtime: CityWallRuntime) -> ScenarioState:
    """This tick's scenario state (computed once per tick for every screen, kept warm: the banner
    must show within two ticks of an episode's start). Every principal may read it: what it
    reveals of another scope is filtered by the caller with ``active_in``/``takeovers``."""
    return runtime.cache.read(keys.scenario_state_key(),
                              lambda: load_scenario_state(engine=runtime.engine, now=utc_now(),
                                                          memo=runtime.change_points), warm=True)


def read_scenario_catalogue(*, runtime: CityWallRuntime) -> ScenarioCatalogue:
    """The scenario catalogue (names, rules, steps), once per tick."""
    return runtime.cache.read(keys.scenario_catalogue_key(), lambda: scenario_catalogue(engine=runtime.engine))


def read_scenario_board(*, runtime: CityWallRuntime, scope: str | None, scenario_id: object,
                        area_code: object) -> ScenarioBoard:
    """One scenario's board for ``area_code``, read once per tick for every screen showing it, after
    the scope check (OutsideScope). LookupError for a malformed or unknown scenario or area."""
    if not valid_code(area_code):
        raise LookupError(f"no area {str(area_code)[:40]!r}")
    require_within(runtime.lineage, area_code, scope)  # type: ignore[arg-type]
    if not valid_scenario_id(scenario_id):
        raise LookupError(f"no scenario {str(scenario_id)[:64]!r}")
    if read_area(runtime=runtime, scope=scope, code=area_code) is None:
        raise LookupError(f"no area {str(area_code)[:40]!r}")
    state = read_scenario_state(runtime=runtime)
    return runtime.cache.read(
        keys.scenario_board_key(scenario_id, str(area_code)),
        lambda: load_scenario_board(engine=runtime.engine, scenario_id=scenario_id, area_code=str(area_code),
                                    state=state, now=utc_now()))
