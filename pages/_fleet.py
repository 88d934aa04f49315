"""The wall fleet's page side (issue 15, item 4): the fleet stores a page lays out, the heartbeat a
page's existing tick callback makes (one State, one call: no request of its own), and the goodbye a
closing tab sends (assets/fleet.js). The rows live in the tick cache's shared row store
(data_access/fleet.py), never in the city's database."""
from __future__ import annotations

import logging

import dash
from dash import MATCH, ClientsideFunction, Input, Output

from components import ids
from components.fleet import create_screen_stores
from data_access.errors import first_line
from data_access.fleet import new_seed, note_goodbye, note_heartbeat
from data_access.runtime import CityWallRuntime
from pages._runtime import current_runtime
from security import callback, current_principal

log = logging.getLogger(__name__)


def screen_stores(runtime: CityWallRuntime, *, key: str, page: str, scope_code: str, screen: object,
                  kiosk: bool) -> list:
    """The fleet stores of a page that beats (``key``: its tick's MATCH key; ``page``: its path;
    ``scope_code``: the area it shows)."""
    return create_screen_stores(key, new_seed(page=page, scope_code=scope_code, name=screen, kiosk=kiosk,
                                              version=runtime.version))


def _who() -> tuple[str, str | None]:
    principal = current_principal()
    token = principal.name.removeprefix("token:") if principal.via == "token" else None
    return principal.name, token


def beat(runtime: CityWallRuntime, screen: object, *, scope_code: str | None, tick: int | None, ok: bool) -> None:
    """This screen's heartbeat, from its page's tick callback; a fleet store that cannot be written
    (Redis away) never costs the screen its tick."""
    if screen is None:
        return
    principal, token = _who()
    try:
        note_heartbeat(runtime=runtime, seed=screen, principal=principal, token_name=token, scope_code=scope_code,
                       tick=tick, ok=ok)
    except Exception as exc:  # noqa: BLE001 - the fleet is a view on the screens, never a reason to fail them
        log.warning("fleet heartbeat not kept: %s", first_line(exc))


def goodbye(screen: object) -> str:
    """The goodbye of a tab closing or leaving CityWall (assets/fleet.js on pagehide)."""
    principal, _token = _who()
    try:
        note_goodbye(runtime=current_runtime(), seed=screen, principal=principal)
    except Exception as exc:  # noqa: BLE001 - see beat
        log.warning("fleet goodbye not kept: %s", first_line(exc))
    return ""


def register_fleet_callbacks() -> None:
    dash.clientside_callback(  # the tab's own screen id (kept across its reloads and kiosk rotations)
        ClientsideFunction(namespace="citywallFleet", function_name="screen"),
        Output(ids.mid(ids.FLEET_SCREEN, MATCH), "data"),
        Input(ids.mid(ids.FLEET_SEED, MATCH), "data"),
    )
    callback(  # called by assets/fleet.js only (a keepalive request as the tab goes): no component triggers it
        Output(ids.FLEET_BYE_TARGET, "title"),
        Input(ids.FLEET_BYE, "data"),
        prevent_initial_call=True,
        access="wall",
    )(goodbye)
