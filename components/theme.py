"""Colour and shape of every state, defined once so they mean the same everywhere."""
from __future__ import annotations

# Status -> (CSS class suffix, symbol). The symbol makes the state readable without colour.
STATUS_STYLE: dict[str | None, tuple[str, str]] = {
    "normal": ("normal", "●"),
    "warn": ("warn", "▲"),
    "alarm": ("alarm", "◆"),
    None: ("none", "○"),
}
STALE_STYLE = ("stale", "◌")
# The same hues as assets/citywall.css, for what is drawn outside CSS (sparklines, charts, map).
STATUS_COLOR = {"normal": "#2fbf71", "warn": "#f5b700", "alarm": "#ff3b3b", "stale": "#6b7280",
                "none": "#6b7280"}


def status_class(status: str | None, *, stale: bool) -> str:
    return STALE_STYLE[0] if stale else STATUS_STYLE.get(status, STATUS_STYLE[None])[0]


def status_symbol(status: str | None, *, stale: bool) -> str:
    return STALE_STYLE[1] if stale else STATUS_STYLE.get(status, STATUS_STYLE[None])[1]
