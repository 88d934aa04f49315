"""Every key of the tick cache, built here and nowhere else (readers that must agree on a key call
the same function). ``read``/``latest`` keys get the tick appended by the cache; ``remember`` keys
carry what makes them unique themselves (a signature, a tick)."""
from __future__ import annotations

import hashlib

from data_access.models import Area


def city_key() -> str:
    return "city"


def area_key(code: str) -> str:
    return f"area:{code}"


def area_resources_key(code: str) -> str:
    """The field resources of one area (the street page's map layer)."""
    return f"area-resources:{code}"


def resource_types_key() -> str:
    return "resource-types"


def level_names_key() -> str:
    return "level-names"


def scenario_board_render_key(scenario_id: str, code: str, lang: str) -> str:
    """A board's refreshed parts in one language, built once per tick for every screen showing it."""
    return f"scenario-board-render:{scenario_id}:{code}:{lang}"


def wall_catalogue_key() -> str:
    return "wall-catalogue"


def wall_key(code: str) -> str:
    return f"wall:{code}"


def wall_incidents_key(code: str) -> str:
    return f"wall-incidents:{code}"


def wall_render_key(code: str, lang: str) -> str:
    return f"wall-render:{code}:{lang}"


def wall_sent_key(code: str, lang: str, tick: int) -> str:
    return f"wall-sent:{code}:{lang}:{tick}"


def wall_reply_key(code: str, lang: str, tick: int, applied_tick: int | None) -> str:
    return f"wall-reply:{code}:{lang}:{tick}:{applied_tick}"


def wall_indicator_names_key() -> str:
    return "wall-indicator-names"


def wall_category_names_key() -> str:
    return "wall-category-names"


def panels_key(code: str) -> str:
    return f"panels:{code}"


def map_counts_key() -> str:
    return "mapcounts"


def map_update_key(area: Area, lang: str) -> str:
    return f"map:{area.level}:{area.area_code}:{lang}"


def map_sent_key(area: Area, lang: str, signature: str) -> str:
    return f"mapsent:{area.level}:{area.area_code}:{lang}:{signature}"


def map_delta_key(area: Area, lang: str, old: str, new: str) -> str:
    return f"mapdelta:{area.level}:{area.area_code}:{lang}:{old}>{new}"


def geometry_key(code: str, lang: str, lang_param: str | None) -> str:
    return f"mapgeo:{code}:{lang}:{lang_param}"


def prefetch_key(code: str, lang: str, lang_param: str | None) -> str:
    return f"mapprefetch:{code}:{lang}:{lang_param}"


PREFETCH_BUDGET = "prefetch"


def digest(value: object) -> str:
    """A short, stable name for a value a browser chose (a filter): keys never carry the value
    itself, so a huge request cannot make a huge key (issue 12, item 3)."""
    return hashlib.sha256(repr(value).encode("utf-8", "backslashreplace")).hexdigest()[:32]


def list_count_key(filt: object) -> str:
    return f"list-count:{digest(filt)}"


def list_categories_key() -> str:
    return "list-categories"


def scenario_state_key() -> str:
    return "scenario-state"


def scenario_board_key(scenario_id: str, code: str) -> str:
    return f"scenario-board:{scenario_id}:{code}"


def scenario_catalogue_key() -> str:
    return "scenario-catalogue"


# --- the shift log (issue 15) ----------------------------------------------------------------------

def shift_log_key(since: str, until: str, area_code: str | None, kinds: tuple[str, ...]) -> str:
    """One shift log (window, area, kinds), read once per tick for every supervisor asking."""
    return f"shift-log:{since}:{until}:{area_code or 'city'}:{','.join(kinds)}"


# --- replay (issue 15, the black box): as-of reads, keyed by the replayed minute ---------------------

def _minute_text(minute: object) -> str:
    return f"{minute:%Y%m%d%H%M}" if hasattr(minute, "strftime") else str(minute)


def replay_kept_key() -> str:
    return "replay-kept"


def replay_wall_key(code: str, minute: object) -> str:
    return f"replay-wall:{code}:{_minute_text(minute)}"


def replay_map_counts_key(minute: object) -> str:
    return f"replay-mapcounts:{_minute_text(minute)}"


def replay_map_update_key(area: Area, lang: str, minute: object) -> str:
    return f"replay-map:{area.level}:{area.area_code}:{lang}:{_minute_text(minute)}"


def replay_scenario_state_key(minute: object) -> str:
    return f"replay-scenario-state:{_minute_text(minute)}"


def replay_panels_key(code: str, minute: object) -> str:
    return f"replay-panels:{code}:{_minute_text(minute)}"


def replay_points_key(code: str, minute: object) -> str:
    return f"replay-points:{code}:{_minute_text(minute)}"


def replay_cells_key(code: str, minute: object) -> str:
    return f"replay-cells:{code}:{_minute_text(minute)}"


def replay_list_count_key(filt: object, minute: object) -> str:
    return f"replay-list-count:{digest(filt)}:{_minute_text(minute)}"


# --- the wall fleet (issue 15, item 4) ---------------------------------------------------------------

def fleet_key() -> str:
    """The wall fleet as the /walls page shows it (every screen; each page filters it by scope)."""
    return "fleet"
