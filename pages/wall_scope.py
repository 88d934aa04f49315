"""``/wall/<code>``: the wall pinned to a district or street, for that area's own center."""
from __future__ import annotations

import dash
from dash import html

from pages._runtime import current_runtime
from pages._wall_layout import wall_layout
from security import page_access

dash.register_page(__name__, path_template="/wall/<code>", title="CityWall",
                   **page_access("wall", area_arg="code"))


def layout(code: str | None = None, lang: str | None = None, kiosk: str | None = None,
           rotate: str | None = None, playlist: str | None = None, at: str | None = None,
           speed: str | None = None, screen: str | None = None, **_query: object) -> html.Div:
    return wall_layout(current_runtime(), scope=code or "", lang=lang, kiosk=kiosk, rotate=rotate,
                       playlist=playlist, at=at, speed=speed, screen=screen)  # screen: its name on /walls
