"""Colour and shape of every state, defined once so they mean the same everywhere.

This table is the one home of CityWall's colours. CSS and JS receive it as CSS custom properties
(``:root { --<name>: <colour> }``) in assets/theme.css, generated from here
(``python -m components.theme > assets/theme.css``; tests/test_theme.py fails when it differs).
The stylesheets use ``var(--...)``; assets/map.js reads the map's ramps from the same properties.
"""
from __future__ import annotations

import sys

# Status -> (CSS class suffix, symbol). The symbol makes the state readable without colour.
STATUS_STYLE: dict[str | None, tuple[str, str]] = {
    "normal": ("normal", "●"),
    "warn": ("warn", "▲"),
    "alarm": ("alarm", "◆"),
    None: ("none", "○"),
}
STALE_STYLE = ("stale", "◌")

PALETTE: dict[str, str] = {
    "bg": "#070b14", "panel": "#0f1626", "panel-edge": "#1f2a40", "text": "#e8eef9", "muted": "#8b9ab5",
    "normal": "#2fbf71", "warn": "#f5b700", "alarm": "#ff3b3b", "stale": "#959dab", "none": "#959dab",
    "accent": "#4ea8ff",
    # Text in the alarm colour on an alarm tile's red-tinted ground: lighter, for 4.5:1 (WCAG 2.2).
    "alarm-text": "#ff7070",
    # A scenario's takeover (issue 13): its banner and the marked tiles of its indicators.
    "scenario": "#c084fc", "scenario-bg": "#2a1140",
    # A replayed page (issue 15): its banner and frame, never the live look.
    "replay": "#ff8a3d", "replay-bg": "#2e1606",
}
# The map: areas by open incidents (class 0: none, 4: the most), cells by open incidents (0: none),
# incident points by priority, and the strokes.
AREA_RAMP = ("#18243a", "#3a4a2c", "#7a6a16", "#c0651a", "#e8382d")
CELL_RAMP = ("#18243a", "#2f7dbf", "#d9a514", "#f0702a", "#ff3b3b")
PRIORITY_COLOR = {1: "#4ea8ff", 2: "#f5b700", 3: "#ff3b3b"}
MAP_STROKE = {"area": "#7f93b8", "self": "#c8d3e6", "hover": "#e8eef9", "cell": "#0b1220", "hot": "#ff3b3b",
              "overdue": "#ffffff", "highlight": "#ffffff"}

# Field resources on the map and in lists, by status (a stale position is drawn in "stale" instead).
RESOURCE_COLOR = {"idle": "#2fbf71", "en_route": "#4ea8ff", "on_site": "#f5b700", "off_duty": "#8b9ab5"}

# For what is drawn outside CSS in Python (sparklines, charts).
STATUS_COLOR = {key: PALETTE[key] for key in ("normal", "warn", "alarm", "stale", "none")}


def css_variables() -> dict[str, str]:
    """Every colour as a CSS custom property name (without ``--``) and its value."""
    out = dict(PALETTE)
    out.update({f"area-{i}": c for i, c in enumerate(AREA_RAMP)})
    out.update({f"cell-{i}": c for i, c in enumerate(CELL_RAMP)})
    out.update({f"prio-{p}": c for p, c in PRIORITY_COLOR.items()})
    out.update({f"stroke-{k}": c for k, c in MAP_STROKE.items()})
    out.update({f"res-{k}": c for k, c in RESOURCE_COLOR.items()})
    return out


def theme_css() -> str:
    """assets/theme.css: the table as custom properties of the document's root."""
    lines = [f"  --{name}: {value};" for name, value in css_variables().items()]
    return ("/* Generated from components/theme.py (python -m components.theme > assets/theme.css): edit there. */\n"
            ":root {\n" + "\n".join(lines) + "\n}\n")


def status_class(status: str | None, *, stale: bool) -> str:
    return STALE_STYLE[0] if stale else STATUS_STYLE.get(status, STATUS_STYLE[None])[0]


def status_symbol(status: str | None, *, stale: bool) -> str:
    return STALE_STYLE[1] if stale else STATUS_STYLE.get(status, STATUS_STYLE[None])[1]


if __name__ == "__main__":
    sys.stdout.write(theme_css())
