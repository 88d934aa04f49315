"""The wall: vital signs, health score, alarms and incident figures of the city or of one
district/street (``/?scope=310115``; ``/wall/310115`` is the same wall), refreshed every tick."""
from __future__ import annotations

import logging
import time
from datetime import datetime

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from actions import Purpose, acknowledge_takeover, action_form, actions_engine, signing_key
from components import ids
from components.i18n import pick_language, t
from components.links import scenario_href, wall_href
from components.takeover import category_labels, takeover_state
from components.wall import WallRender, render_wall, wall_delta
from data_access.areas import valid_code
from data_access.db import utc_now
from data_access.errors import first_line
from data_access.readers.areas import read_area
from data_access.readers.replay import read_wall_as_of, read_wall_takeovers_as_of
from data_access.readers.scenarios import read_scenario_catalogue, read_scenario_state
from data_access.readers.wall import (
    read_wall,
    read_wall_catalogue,
    read_wall_render,
    read_wall_reply,
    read_wall_takeovers,
    wall_scope_code,
)
from data_access.replay import ReplayError
from data_access.runtime import CityWallRuntime
from pages._fleet import beat
from pages._push import register_wall_source
from pages._replay import scope_at, scope_moment
from pages._runtime import current_runtime
from pages._wall_layout import wall_layout
from security import callback, current_principal, page_access

dash.register_page(__name__, path="/", title="CityWall",
                   **page_access("wall", area_arg="scope", own_area=True))  # a scoped user's "/" is their wall

log = logging.getLogger(__name__)

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
           rotate: str | None = None, playlist: str | None = None, at: str | None = None,
           speed: str | None = None, screen: str | None = None, **_query: object) -> html.Div:
    return wall_layout(current_runtime(), scope=scope, lang=lang, kiosk=kiosk, rotate=rotate, playlist=playlist,
                       at=at, speed=speed, screen=screen)  # screen: its name in the wall fleet (/walls)


dash.clientside_callback(  # when to poll: just after the server's next tick is ready (not at a random phase)
    ClientsideFunction(namespace="citywall", function_name="pollWall"),
    Output(ids.WALL_POLL, "data"),
    Input(ids.WALL_INTERVAL, "n_intervals"),
    Input(ids.STATUS_STORE, "data"),  # at once when a reply arrives: its server time is fresh
    State(ids.WALL_POLL_CONFIG, "data"),
)
dash.clientside_callback(  # the takeover: banner, marked tiles, a kiosk wall's board (components/takeover.py)
    ClientsideFunction(namespace="citywall", function_name="applyTakeover"),
    Output(ids.WALL_TAKEOVER_TARGET, "title"),
    Input(ids.WALL_TAKEOVER, "data"),
    State(ids.KIOSK_STORE, "data"),
    prevent_initial_call=True,
)
dash.clientside_callback(  # writes each tick's delta into the laid-out tiles, scores and strip
    ClientsideFunction(namespace="citywall", function_name="applyWall"),
    Output(ids.WALL_APPLY_TARGET, "title"),
    Input(ids.WALL_DELTA, "data"),
    prevent_initial_call=True,
)


# The replay control (issue 15; components/replay.py, assets/replay.js): the slider, play/pause and the
# speeds move the moment in the browser, which writes it into the URL and the scope stores.
dash.clientside_callback(
    ClientsideFunction(namespace="citywallReplay", function_name="control"),
    Output(ids.REPLAY_TARGET, "title"),
    Input(ids.REPLAY_SLIDER, "value"),
    Input(ids.REPLAY_PLAY, "n_clicks"),
    Input({"type": ids.REPLAY_SPEED, "id": ALL}, "n_clicks"),
    Input(ids.REPLAY_TIMER, "n_intervals"),
    State(ids.REPLAY_CONFIG, "data"),
)
dash.clientside_callback(  # a kiosk URL carrying ?at=: the live wall, ?at= taken out of the address
    ClientsideFunction(namespace="citywallReplay", function_name="dropReplay"),
    Output(ids.REPLAY_DROP_TARGET, "title"),
    Input(ids.REPLAY_DROP, "data"),
)


def _takeover(runtime: CityWallRuntime, scope: str | None, code: str, lang: str,
              at: datetime | None = None) -> dict | None:
    """The scenarios active in the wall's scope as its takeover store (issue 13, item 4); None
    when the state could not be read this tick (the screens keep what they show). ``at`` (a
    replayed wall, issue 15): those active at that minute, acknowledged or not as they were then."""
    try:
        found = read_wall_takeovers(runtime=runtime, scope=scope, code=code) if at is None else \
            read_wall_takeovers_as_of(runtime=runtime, scope=scope, code=code, at=at)
        areas = {a.area_code: read_area(runtime=runtime, scope=scope, code=a.area_code) for a in found.active}
    except SQLAlchemyError as exc:
        log.warning("wall takeover state failed: %s", first_line(exc))
        return None
    return takeover_state(scope_code=code, active=found.active, pending=found.pending, scenarios=found.scenarios,
                          scenario_indicators=found.scenario_indicators, indicators=found.indicators,
                          area_label=lambda c: areas[c].label(lang) if areas.get(c) is not None else c,
                          board_href=scenario_href, lang=lang, tz=runtime.settings.tz, now=at or utc_now(),
                          categories=category_labels(found.categories, lang))


def _wall_render(runtime: CityWallRuntime, scope: str | None, code: str, lang: str) -> WallRender:
    """The wall of one area and language at this tick, rendered once for every screen showing it
    (the signatures of what it holds are remembered for a few ticks: the base of later deltas).
    Built from the area's code alone: its level and names are read on the server (read_wall)."""
    def render(tick: int) -> WallRender:
        try:
            snap = read_wall(runtime=runtime, scope=scope, code=code)
            catalogue = read_wall_catalogue(runtime=runtime)
        except SQLAlchemyError as exc:  # cached for this tick too: 200 screens do not retry a dead database
            log.warning("wall refresh failed: %s", first_line(exc))
            return WallRender(tick=tick, ok=False)
        except LookupError:  # no such area (the scope check refused one outside the scope already)
            return WallRender(tick=tick, ok=False)
        return render_wall(snap, catalogue, lang, tick=tick, tz=runtime.settings.tz, ready_ms=runtime.cache.ready_ms(),
                           takeover=_takeover(runtime, scope, code, lang))

    return read_wall_render(runtime=runtime, scope=scope, code=code, lang=lang, render=render,
                            usable=lambda previous: previous.ok,  # a failed read never stands in for the next one
                            signatures=lambda value: value.signatures if value.ok else None)


# What one wall reply sets, in order: the poll callback's outputs and each push message's (pages/_push.py).
WALL_REPLY_OUTPUTS = ((ids.WALL_DELTA, "data"), (ids.WALL_HEALTH, "children"), (ids.WALL_ALARMS, "children"),
                      (ids.STATUS_STORE, "data"), (ids.WALL_APPLIED, "data"), (ids.WALL_TAKEOVER, "data"))


@callback(
    *[Output(ident, prop) for ident, prop in WALL_REPLY_OUTPUTS],
    Input(ids.WALL_POLL, "data"),
    State(ids.WALL_SCOPE, "data"),
    State(ids.WALL_APPLIED, "data"),
    State(ids.mid(ids.FLEET_SCREEN, "wall"), "data"),  # the wall fleet: this screen's heartbeat rides on its tick
    access="wall",
)
def refresh_wall(_n: int | None, scope: dict | None, applied: dict | None, screen: dict | None = None) -> tuple:
    """Fill the wall; parts the screen already shows are not sent again.

    The screen says only which tick it last applied; the server remembers the signature of every
    part it rendered then and sends the parts that changed since (an unknown or expired tick means
    "everything"). Screens of the same scope at the same tick get the same reply, computed once.
    Of the screen's scope store only the area's code and the language (one of the app's) count:
    the area's level and names are read on the server, so no client changes what the others of
    its scope are shown (issue 12, item 8). The reply carries the scope's takeovers too (the
    wall-takeover store, issue 13 item 4): rendered with the wall, once per scope, language and
    tick, from the one scenario state of the tick; sent when it changed, like every other part."""
    runtime = current_runtime()
    scope = scope if isinstance(scope, dict) else {}
    lang = pick_language(scope.get("lang"), runtime.settings.lang)
    code = scope.get("area_code")
    if not isinstance(code, str) or not code:
        return no_update, no_update, no_update, {"ok": False, "version": runtime.version}, no_update, no_update
    principal_scope = current_principal().scope  # checked before any cached value: never the cache
    applied_tick = applied.get("tick") if isinstance(applied, dict) else None
    applied_tick = applied_tick if isinstance(applied_tick, int) and not isinstance(applied_tick, bool) else None
    if scope.get("at") is not None:  # a replayed wall (issue 15): the wall as of the screen's moment
        out, applied_tick = _replay_reply(runtime, principal_scope, code, lang, scope, applied), None
    else:
        out = wall_outputs(runtime, principal_scope, code, lang, applied_tick, now_ms=int(time.time() * 1000))
    # The wall fleet (issue 15, item 4): the tick it applied (a replay's: the server's own), and whether
    # this reply has data.
    beat(runtime, screen, scope_code=code if valid_code(code) else None, tick=applied_tick, ok=bool(out[3].get("ok")))
    return out


def wall_outputs(runtime: CityWallRuntime, principal_scope: str | None, code: str, lang: str,
                 applied_tick: int | None, *, now_ms: int) -> tuple:
    """The live wall's reply (WALL_REPLY_OUTPUTS) for screens of ``code`` and ``lang`` that last applied
    ``applied_tick``, computed once per tick: a poll's, and each tick's push message (pages/_push.py,
    ``applied_tick`` the channel's previous message). ``principal_scope`` is checked before any cached value."""
    render = _wall_render(runtime, principal_scope, code, lang)  # the client's "level" is never read
    if not render.ok:  # keep the last data on screen; the badge goes OFFLINE after 3 ticks without success
        return no_update, no_update, no_update, {"ok": False, "tick": render.tick, "version": runtime.version}, \
            no_update, no_update

    def reply(sent: dict[str, str] | None) -> tuple:
        out = wall_delta(render, sent)
        status = {"ok": True, "as_of": render.as_of, "tick": render.tick, "ready_ms": render.ready_ms,
                  "version": runtime.version}
        return out["delta"], out["health"], out["alarms"], status, {"tick": render.tick}, out["takeover"]

    delta, health, alarms, status, tick, takeover = read_wall_reply(
        runtime=runtime, scope=principal_scope, code=code, lang=lang, tick=render.tick, applied_tick=applied_tick,
        reply=reply)
    status = {**status, "now_ms": now_ms}  # the browser's poll scheduler allows for clock skew
    return (delta, no_update if health is None else health, no_update if alarms is None else alarms, status, tick,
            no_update if takeover is None else takeover)


register_wall_source(wall_outputs, WALL_REPLY_OUTPUTS)  # the push path sends the same replies (pages/_push.py)


# --- the replay (issue 15): the wall as of the moment its scope store carries ------------------------

def _replay_reply(runtime: CityWallRuntime, principal_scope: str | None, code: str, lang: str, scope: dict,
                  applied: dict | None) -> tuple:
    """The wall's reply on a replayed screen: everything, rendered from the as-of snapshot of the
    screen's minute (read once for every screen replaying that minute), when the screen does not
    show that minute yet; only the status otherwise. The status says ``replay``: the badge says
    REPLAY, never LIVE, and never OFFLINE for being in the past."""
    tick = runtime.cache.tick()
    status: dict = {"ok": True, "replay": True, "tick": tick, "version": runtime.version,
                    "now_ms": int(time.time() * 1000)}
    try:
        at = scope_moment(scope)
    except ReplayError:  # no URL could name it (the layout checked the page's): nothing is shown as of it
        return no_update, no_update, no_update, {**status, "ok": False}, no_update, no_update
    if at is None:
        return no_update, no_update, no_update, {**status, "ok": False}, no_update, no_update
    at_key = scope_at(at)
    status["at"] = at_key
    if isinstance(applied, dict) and applied.get("at") == at_key:  # the screen shows this minute already
        return no_update, no_update, no_update, {**status, "as_of": applied.get("as_of")}, no_update, no_update
    try:
        snap = read_wall_as_of(runtime=runtime, scope=principal_scope, code=code, at=at)
        catalogue = read_wall_catalogue(runtime=runtime)
    except SQLAlchemyError as exc:
        log.warning("replayed wall failed: %s", first_line(exc))
        return no_update, no_update, no_update, {**status, "ok": False}, no_update, no_update
    except LookupError:
        return no_update, no_update, no_update, {**status, "ok": False}, no_update, no_update
    takeover = _takeover(runtime, principal_scope, code, lang, at=at)  # None when unread: the rest still comes
    render = render_wall(snap, catalogue, lang, tick=tick, tz=runtime.settings.tz, takeover=takeover)
    out = wall_delta(render, None)
    status["as_of"] = render.as_of
    return (out["delta"], out["health"], out["alarms"], status, {"tick": tick, "at": at_key, "as_of": render.as_of},
            out["takeover"] if out["takeover"] is not None else no_update)


# --- acknowledging a takeover (a supervisor's wall only: the button is in no other layout) ----------

def _ack_forms(runtime: CityWallRuntime, code: str) -> dict:
    """A form token per takeover of this wall still pending at this tick, for this principal."""
    principal = current_principal()
    found = read_wall_takeovers(runtime=runtime, scope=principal.scope, code=code)
    wall = wall_scope_code(runtime, code)
    key = signing_key(runtime.settings)
    now = utc_now()
    return {"forms": [{"scenario_id": a.scenario_id, "area_code": a.area_code,
                       **action_form(key=key, principal=principal, now=now,
                                     purpose=Purpose("ack_takeover", a.scenario_id, a.area_code, scope_code=wall))}
                      for a in found.pending]}


def _acknowledge_all(runtime: CityWallRuntime, code: str, lang: str, form: object) -> str:
    """Acknowledge every takeover the form names for this wall's scope (actions.service checks role,
    scope, token, replay and the state); what the screen says about it."""
    forms = form.get("forms") if isinstance(form, dict) else None
    forms = [f for f in forms if isinstance(f, dict)][:20] if isinstance(forms, list) else []
    if not forms:
        return t("tko_ack_none", lang)
    settings = runtime.settings
    wall = wall_scope_code(runtime, code)
    state = read_scenario_state(runtime=runtime)
    catalogue = read_scenario_catalogue(runtime=runtime)
    results = [acknowledge_takeover(engine=actions_engine(settings), key=signing_key(settings),
                                    principal=current_principal(), screen=f"{wall_href(None if wall is None else code)}"
                                    " wall", request_id=f.get("request_id"), token=f.get("token"), state=state,
                                    catalogue=catalogue, lineage=runtime.lineage, now=utc_now(),
                                    scenario_id=f.get("scenario_id"), area_code=f.get("area_code"), scope_code=wall)
               for f in forms]
    refusals = [r for r in results if not r.ok]
    if refusals:
        return t("tko_ack_failed", lang, why=t(refusals[0].message_key, lang))
    return t("tko_ack_done", lang, n=len(results))


@callback(
    Output(ids.WALL_ACK_RESULT, "children"),
    Output(ids.WALL_ACK_FORM, "data"),
    Input(ids.WALL_ACK, "n_clicks"),
    Input(ids.WALL_TAKEOVER, "data"),
    Input(ids.WALL_ACK_REFRESH, "n_intervals"),
    State(ids.WALL_ACK_FORM, "data"),
    State(ids.WALL_SCOPE, "data"),
    access="supervisor",
    prevent_initial_call=True,
)
def acknowledge(_clicks: int | None, _takeover: object, _refresh: int | None, form: object,
                scope: dict | None) -> tuple:
    """The banner's acknowledge button: a supervisor acknowledges the takeovers of this wall's scope
    (actions.service.acknowledge_takeover, with the form tokens this callback issued); the tokens
    are issued anew whenever the wall's takeovers change and every few minutes (they go stale)."""
    runtime = current_runtime()
    scope = scope if isinstance(scope, dict) else {}
    lang = pick_language(scope.get("lang"), runtime.settings.lang)
    code = scope.get("area_code")
    if not valid_code(code):
        return no_update, no_update
    message = no_update
    try:
        if dash.ctx.triggered_id == ids.WALL_ACK:
            message = _acknowledge_all(runtime, code, lang, form)
        return message, _ack_forms(runtime, code)
    except SQLAlchemyError as exc:
        log.warning("acknowledge: state unavailable: %s", first_line(exc))
        return t("tko_ack_unavailable", lang), no_update
