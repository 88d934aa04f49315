"""The wall: vital signs, health score, alarms and incident figures of the city or of one
district/street (``/?scope=310115``; ``/wall/310115`` is the same wall), refreshed every tick."""
from __future__ import annotations

import logging
import time

import dash
from dash import ClientsideFunction, Input, Output, State, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from components import ids
from components.i18n import pick_language
from components.incident_map import register_map_callbacks
from components.level_panels import register_panel_callbacks
from components.wall import WallRender, render_wall, wall_delta
from data_access import queries
from data_access.runtime import CityWallRuntime, current_runtime
from data_access.snapshots import wall_catalogue, wall_snapshot
from pages._wall_layout import wall_layout
from security import callback, page_access, require_scope

dash.register_page(__name__, path="/", title="CityWall",
                   **page_access("wall", area_arg="scope", own_area=True))  # a scoped user's "/" is their wall
log = logging.getLogger(__name__)
register_map_callbacks()
register_panel_callbacks()  # the incident wall of a city without vital signs reuses the level panels

dash.clientside_callback(  # the "database unavailable" page reloads itself until the database is back
    "function (n) { if (n) { window.location.reload(); } return window.dash_clientside.no_update; }",
    Output(ids.RETRY_TARGET, "title"),
    Input(ids.RETRY_INTERVAL, "n_intervals"),
    prevent_initial_call=True,
)
dash.clientside_callback(
    ClientsideFunction(namespace="citywall", function_name="kiosk"),
    Output(ids.KIOSK_TIMER, "title"),
    Input(ids.KIOSK_STORE, "data"),
)


def layout(scope: str | None = None, lang: str | None = None, kiosk: str | None = None,
           rotate: str | None = None, playlist: str | None = None, **_query: object) -> html.Div:
    return wall_layout(current_runtime(), scope=scope, lang=lang, kiosk=kiosk, rotate=rotate, playlist=playlist)


dash.clientside_callback(  # when to poll: just after the server's next tick is ready (not at a random phase)
    ClientsideFunction(namespace="citywall", function_name="pollWall"),
    Output(ids.WALL_POLL, "data"),
    Input(ids.WALL_INTERVAL, "n_intervals"),
    Input(ids.STATUS_STORE, "data"),  # at once when a reply arrives: its server time is fresh
    State(ids.WALL_POLL_CONFIG, "data"),
)
dash.clientside_callback(  # writes each tick's delta into the laid-out tiles, scores and strip
    ClientsideFunction(namespace="citywall", function_name="applyWall"),
    Output(ids.WALL_APPLY_TARGET, "title"),
    Input(ids.WALL_DELTA, "data"),
    prevent_initial_call=True,
)


def _wall_render(runtime: CityWallRuntime, area: queries.Area, lang: str) -> WallRender:
    """The wall of one scope and language at this tick, rendered once for every screen showing it
    (the signatures of what it holds are remembered for a few ticks: the base of later deltas)."""
    def compute() -> WallRender:
        tick = runtime.cache.tick()
        try:
            snap = wall_snapshot(runtime=runtime, area=area)
            catalogue = wall_catalogue(runtime=runtime)
        except SQLAlchemyError as exc:  # cached for this tick too: 200 screens do not retry a dead database
            log.warning("wall refresh failed: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return WallRender(tick=tick, ok=False)
        render = render_wall(snap, catalogue, lang, tick=tick, tz=runtime.settings.tz,
                             ready_ms=runtime.cache.ready_ms())
        runtime.cache.remember(f"wall-sent:{area.area_code}:{lang}:{tick}", render.signatures)
        return render

    key = f"wall-render:{area.area_code}:{lang}"
    def usable(previous: WallRender) -> bool:  # a failed read never stands in for the next one
        return previous.ok

    runtime.cache.keep_warm(key, compute, immutable=True, stale_ok=usable)  # ready at each window's start
    return runtime.cache.get_or_compute(key, compute, immutable=True, stale_ok=usable)


@callback(
    Output(ids.WALL_DELTA, "data"),
    Output(ids.WALL_HEALTH, "children"),
    Output(ids.WALL_ALARMS, "children"),
    Output(ids.STATUS_STORE, "data"),
    Output(ids.WALL_APPLIED, "data"),
    Input(ids.WALL_POLL, "data"),
    State(ids.WALL_SCOPE, "data"),
    State(ids.WALL_APPLIED, "data"),
    access="wall",
)
def refresh_wall(_n: int | None, scope: dict | None, applied: dict | None) -> tuple:
    """Fill the wall; parts the screen already shows are not sent again.

    The screen says only which tick it last applied; the server remembers the signature of every
    part it rendered then and sends the parts that changed since (an unknown or expired tick means
    "everything"). Screens of the same scope at the same tick get the same reply, computed once."""
    runtime = current_runtime()
    scope = scope if isinstance(scope, dict) else {}
    lang = pick_language(scope.get("lang"), runtime.settings.lang)
    code = scope.get("area_code")
    if not isinstance(code, str) or not code:
        return no_update, no_update, no_update, {"ok": False, "version": runtime.version}, no_update
    require_scope(code)  # before any cached value: a user scoped elsewhere gets 403, never the cache
    area = queries.Area(area_code=code, level=str(scope.get("level", "city")), parent_code=None, name="",
                        name_en=None, center_lat=None, center_lon=None)
    render = _wall_render(runtime, area, lang)
    if not render.ok:  # keep the last data on screen; the badge goes OFFLINE after 3 ticks without success
        return no_update, no_update, no_update, {"ok": False, "tick": render.tick, "version": runtime.version}, \
            no_update
    applied_tick = applied.get("tick") if isinstance(applied, dict) else None
    applied_tick = applied_tick if isinstance(applied_tick, int) and not isinstance(applied_tick, bool) else None

    def reply() -> tuple:
        sent = runtime.cache.recall(f"wall-sent:{code}:{lang}:{applied_tick}") if applied_tick is not None else None
        out = wall_delta(render, sent if isinstance(sent, dict) else None)
        status = {"ok": True, "as_of": render.as_of, "tick": render.tick, "ready_ms": render.ready_ms,
                  "version": runtime.version}
        return out["delta"], out["health"], out["alarms"], status, {"tick": render.tick}

    delta, health, alarms, status, tick = runtime.cache.get_or_compute(
        f"wall-reply:{code}:{lang}:{render.tick}:{applied_tick}", reply, immutable=True)
    status = {**status, "now_ms": int(time.time() * 1000)}  # the browser's poll scheduler allows for clock skew
    return (delta, no_update if health is None else health, no_update if alarms is None else alarms, status, tick)
