"""Component IDs shared between layouts and callbacks."""
WALL_INTERVAL = "wall-interval"
WALL_SCOPE = "wall-scope"
WALL_PANELS = "wall-panels"
WALL_STRIP = "wall-strip"
STATUS_STORE = "status-store"
CONNECTION_STORE = "connection-store"
CLOCK_INTERVAL = "clock-interval"
CLOCK = "clock"
DATA_AS_OF = "data-as-of"
CONNECTION_BADGE = "connection-badge"


def kpi(key: str) -> dict[str, str]:
    """Pattern-matching ID of one incident KPI."""
    return {"type": "kpi", "id": key}


WALL_HEALTH = "wall-health"
WALL_ALARMS = "wall-alarms"
WALL_APPLIED = "wall-applied"  # {"tick": k}: the last tick this screen applied
WALL_DELTA = "wall-delta"  # what changed since then (assets/citywall.js applyWall writes it in)
WALL_APPLY_TARGET = "wall-apply-target"
WALL_POLL = "wall-poll"  # a counter the browser's poll scheduler raises: the wall refresh's input
WALL_POLL_CONFIG = "wall-poll-config"
KIOSK_STORE = "kiosk-store"
KIOSK_TIMER = "kiosk-timer"
RETRY_INTERVAL = "retry-interval"
RETRY_TARGET = "retry-target"
