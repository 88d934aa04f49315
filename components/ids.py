"""Every component id of CityWall, and every pattern-matching id factory: layouts, callbacks,
assets/*.js (by value), tests and bench/ refer to these values.

Pattern-matching ids are ``{"type": <kind>, "id": <key>}``: the map, the level panels and the
incident list of one page share one key, so several can sit on one page and one MATCH callback
serves them all."""
from __future__ import annotations

from typing import Any

# --- the wall (plain ids: one wall per page) ------------------------------------------------------
WALL_INTERVAL = "wall-interval"
WALL_SCOPE = "wall-scope"
WALL_PANELS = "wall-panels"
WALL_STRIP = "wall-strip"
WALL_HEALTH = "wall-health"
WALL_ALARMS = "wall-alarms"
WALL_APPLIED = "wall-applied"  # {"tick": k}: the last tick this screen applied
WALL_DELTA = "wall-delta"  # what changed since then (assets/citywall.js applyWall writes it in)
WALL_APPLY_TARGET = "wall-apply-target"
WALL_POLL = "wall-poll"  # a counter the browser's poll scheduler raises: the wall refresh's input
WALL_POLL_CONFIG = "wall-poll-config"
HEALTH_OVERALL = "health-overall"
KIOSK_STORE = "kiosk-store"
KIOSK_TIMER = "kiosk-timer"
RETRY_INTERVAL = "retry-interval"
RETRY_TARGET = "retry-target"
# The takeover (issue 13, item 4): the scenarios of the wall's scope, sent with the wall's reply.
WALL_TAKEOVER = "wall-takeover"  # {"items": [...], "marked": [...], "board": href | None}
WALL_TAKEOVER_TARGET = "wall-takeover-target"
WALL_TAKEOVER_BANNER = "wall-takeover-banner"
WALL_TAKEOVER_ITEMS = "wall-takeover-items"  # assets/citywall.js applyTakeover writes the banner here
WALL_ACK = "wall-ack"  # the supervisor's acknowledge button (only in a supervisor's layout)
WALL_ACK_FORM = "wall-ack-form"  # {"token", "request_id"}: the action's form token
WALL_ACK_RESULT = "wall-ack-result"
WALL_ACK_REFRESH = "wall-ack-refresh"  # new form tokens before the old ones go stale (10 minutes)
# A kiosk wall showing a scenario board: goes back to its wall when the takeover ends.
TAKEOVER_RETURN = "takeover-return"  # {"scenario_id", "area_code", "scope_code", "back"}
TAKEOVER_RETURN_POLL = "takeover-return-poll"
TAKEOVER_RETURN_STATE = "takeover-return-state"  # {"pending": bool}
TAKEOVER_RETURN_TARGET = "takeover-return-target"

# --- the replay (issue 15: ?at= on the wall and the level pages; the wall's replay control) --------
REPLAY_BANNER = "replay-banner"  # the banner every replayed page shows (REPLAY / 回放 and the moment)
REPLAY_MOMENT = "replay-moment"  # the moment shown, in the city's time zone (assets/replay.js writes it)
REPLAY_CONFIG = "replay-config"  # {"start_ms", "end_ms", "at_ms", "speed", "tz", "lang", ...}: the control's
REPLAY_SLIDER = "replay-slider"  # minutes since the window's start (the last 24 h of kept history)
REPLAY_PLAY = "replay-play"  # play / pause
REPLAY_SPEEDS = "replay-speeds"  # the box of the speed buttons
REPLAY_SPEED = "replay-speed"  # pattern kind: one speed's button ({"type": REPLAY_SPEED, "id": 10})
REPLAY_LIVE = "replay-live"  # back to the live page (the same page without ?at=)
REPLAY_TIMER = "replay-timer"  # the play clock (disabled while paused)
REPLAY_TARGET = "replay-target"
REPLAY_ERROR = "replay-error"  # the message for a moment or speed the page cannot show
REPLAY_DROP = "replay-drop"  # a kiosk URL carrying ?at=: the live wall, the parameters taken out of the URL
REPLAY_DROP_TARGET = "replay-drop-target"

# --- the status bar (every page with one) -------------------------------------------------------
STATUS_STORE = "status-store"
CONNECTION_STORE = "connection-store"
CLOCK_INTERVAL = "clock-interval"
CLOCK = "clock"
DATA_AS_OF = "data-as-of"
CONNECTION_BADGE = "connection-badge"

# --- the map (pattern-matching kinds) -------------------------------------------------------------
MAP, MAP_AREAS, MAP_CELLS, MAP_POINTS, MAP_HIGHLIGHT = ("cw-map", "cw-map-areas", "cw-map-cells", "cw-map-points",
                                                        "cw-map-highlight")
MAP_LEGEND, MAP_MISSING, MAP_SCOPE, MAP_SIG, MAP_ERROR = ("cw-map-legend", "cw-map-missing", "cw-map-scope",
                                                          "cw-map-sig", "cw-map-error")
# The map's poll (its refresh listens to it, its tick raises it unless push brings the counts) and
# the pushed message the browser hands to the map (pages/_push_map.py, assets/map_push.js).
MAP_POLL, MAP_PUSH = "cw-map-poll", "cw-map-push"
TICK = "cw-tick"

# --- the level pages' panels (pattern-matching kinds) -----------------------------------------------
LVL_KPIS, LVL_RANK, LVL_CATS, LVL_FUNNEL = "cw-lvl-kpis", "cw-lvl-rank", "cw-lvl-cats", "cw-lvl-funnel"
LVL_VITALS, LVL_VITALS_BOX, LVL_ERROR = "cw-lvl-vitals", "cw-lvl-vitals-box", "cw-lvl-error"
LVL_RANK_BOX, LVL_LIST_BOX, LVL_MOUNT = "cw-lvl-rank-box", "cw-lvl-list-box", "cw-lvl-mount"

# --- the incident list (pattern-matching kinds) ---------------------------------------------------
LIST_GRID, LIST_CATEGORY, LIST_STATUS, LIST_PRIORITY = ("cw-grid", "cw-list-category", "cw-list-status",
                                                        "cw-list-priority")
LIST_OVERDUE, LIST_SEARCH, LIST_EXPORT, LIST_DOWNLOAD = ("cw-list-overdue", "cw-list-search", "cw-list-export",
                                                         "cw-list-download")
LIST_SCOPE, LIST_COUNT, LIST_ERROR, LIST_SELECTED, LIST_VERSION = ("cw-list-scope", "cw-list-count", "cw-list-error",
                                                                   "cw-list-selected", "cw-list-version")

# --- page roots, breadcrumb, not-found block ------------------------------------------------------
PAGE_CITY = "cw-page-city"
PAGE_INCIDENTS = "cw-page-incidents"
CRUMB_TAIL = "cw-crumb-tail"
NF_INSTEAD, NF_UP, NF_MESSAGE = "cw-nf-instead", "cw-nf-up", "cw-nf-message"

# --- the vitals explorer --------------------------------------------------------------------------
VX_ITEM = "vx-item"  # pattern-matching kind: one indicator's link
VX_AREA, VX_CHART, VX_SEARCH, VX_ITEMS, VX_STATE, VX_LOCATION = ("vx-area", "vx-chart", "vx-search", "vx-items",
                                                                 "vx-state", "vx-location")

# --- the scenario board (plain ids: one board per page) and the field-resource layer ---------------
SB_INTERVAL = "sb-interval"
SB_SCOPE = "sb-scope"  # {"scenario_id", "area_code", "lang", "lang_param"}: the gate checks the area
SB_SIGS = "sb-sigs"  # the digest of every part the screen shows: unchanged parts are not sent again
SB_STATUS, SB_REASON, SB_INDICATORS = "sb-status", "sb-reason", "sb-indicators"
SB_INCIDENTS, SB_INCIDENTS_N, SB_RESOURCES, SB_RESOURCES_N = ("sb-incidents", "sb-incidents-n", "sb-resources",
                                                              "sb-resources-n")
SB_READINESS, SB_CHECKLIST_N, SB_ERROR = "sb-readiness", "sb-checklist-n", "sb-error"
SB_COMMENT, SB_FORM, SB_MARK_RESULT = "sb-comment", "sb-form", "sb-mark-result"
SB_STEP_INFO, SB_STEP_DONE, SB_STEP_SKIP = "sb-step-info", "sb-step-done", "sb-step-skip"  # pattern kinds: step_id
SB_POINTS = "sb-points"  # the board's incident points (its own id: no incident list's callback matches it)
SB_MAP = "sb-map"
SB_MAP_KEY = "scenario"  # the key of the board's map parts (pattern-matching, like every map's)
RES_LAYER = "cw-res-layer"  # pattern kind: one map's resource markers (GeoJSON, clustered)
RES_LIST = "cw-res-list"  # pattern kind: a street page's resource list

# --- the shift log and its handover page (issue 15, pages/log.py, pages/handover.py) -------------------
LOG_PAGE, LOG_HANDOVER = "log-page", "log-handover"  # page roots
LOG_FROM, LOG_TO, LOG_AREA, LOG_KINDS, LOG_APPLY = "log-from", "log-to", "log-area", "log-kinds", "log-apply"
LOG_LOCATION, LOG_STATE, LOG_MESSAGE = "log-location", "log-state", "log-message"
LOG_EXPORT, LOG_DOWNLOAD, LOG_EXPORT_NOTE = "log-export", "log-download", "log-export-note"
LOG_TABLE, LOG_TOTALS, LOG_PRINT = "log-table", "log-totals", "log-print"


# --- the wall fleet (issue 15, item 4): each screen's fleet store, the goodbye, the /walls page ------
FLEET_SEED = "cw-fleet-seed"  # pattern kind (mid): the fleet store the page's layout made for this screen
FLEET_SCREEN = "cw-fleet-screen"  # pattern kind (mid): the same with the tab's own screen id (assets/fleet.js)
FLEET_BYE, FLEET_BYE_TARGET = "cw-fleet-bye", "cw-fleet-bye-target"  # the goodbye a closing tab sends (fleet.js)
PAGE_WALLS, WALLS_INTERVAL, WALLS_LANG = "cw-page-walls", "cw-walls-interval", "cw-walls-lang"
WALLS_SUMMARY, WALLS_TABLE, WALLS_ERROR = "cw-walls-summary", "cw-walls-table", "cw-walls-error"


def mid(kind: str, key: Any) -> dict[str, Any]:
    """The pattern-matching id of one part (``kind``) of the map, panels or list ``key`` (or MATCH)."""
    return {"type": kind, "id": key}



def tick_id(key: Any) -> dict[str, Any]:
    """The id of a map's refresh interval: other panels of the page listen to it too."""
    return mid(TICK, key)


def kpi(key: str) -> dict[str, str]:
    """Pattern-matching ID of one incident KPI of the wall's strip."""
    return {"type": "kpi", "id": key}


def vx_item(indicator_id: str) -> dict[str, str]:
    return {"type": VX_ITEM, "id": indicator_id}


def crumb(level: str) -> str:
    return f"cw-crumb-{level}"


def step_id(kind: str, step: Any) -> dict[str, Any]:
    """The id of one checklist step's part (``SB_STEP_INFO``, ``SB_STEP_DONE``, ``SB_STEP_SKIP``)."""
    return {"type": kind, "id": step}


def level_page(level: str, code: str | None) -> str:
    """The root of a district or street page (``code`` None: its not-found block)."""
    return f"cw-page-{level}-{code or 'notfound'}"
