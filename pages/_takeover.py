"""A scenario board that a kiosk wall opened for a takeover (issue 13, item 4) goes back to that
wall when the takeover no longer stands: the scenario ended, or a supervisor acknowledged it for
the wall's scope. The board's layout holds ``components.takeover.create_takeover_return`` in
kiosk mode; these callbacks serve it (registered once per app by pages/_callbacks.py)."""
from __future__ import annotations

import logging

import dash
from dash import ClientsideFunction, Input, Output, State, no_update
from sqlalchemy.exc import SQLAlchemyError

from components import ids
from components.links import own_path
from components.takeover import create_takeover_return
from data_access.areas import valid_code
from data_access.errors import first_line
from data_access.models import valid_scenario_id
from data_access.readers.wall import read_takeover_pending
from pages._runtime import current_runtime
from security import callback, current_principal

log = logging.getLogger(__name__)


def board_return(*, scenario_id: object, area_code: object, kiosk: object, takeover: object, back: object,
                 refresh_s: float) -> object:
    """What a scenario board's layout adds when a kiosk wall's takeover opened it
    (``?kiosk=1&takeover=<the wall's area>&back=<the wall's address>``), else None. ``back`` must be
    one of this app's pages (components.links.own_path): a board never sends a wall off-site."""
    if str(kiosk).lower() not in ("1", "true", "yes", "on"):
        return None
    back_path = own_path(back)
    if not (back_path and valid_code(takeover) and valid_code(area_code) and valid_scenario_id(scenario_id)):
        return None
    return create_takeover_return(scenario_id=scenario_id, area_code=str(area_code), scope_code=str(takeover),
                                  back=back_path, refresh_s=refresh_s)


def takeover_pending(_n: int | None, cfg: dict | None) -> object:
    """{"pending": bool} for the board's takeover (once per tick: the state is the tick's)."""
    cfg = cfg if isinstance(cfg, dict) else {}
    scope_code, scenario_id, area_code = cfg.get("scope_code"), cfg.get("scenario_id"), cfg.get("area_code")
    if not (valid_code(scope_code) and valid_code(area_code) and valid_scenario_id(scenario_id)):
        return no_update  # not opened by a takeover: the board stays
    runtime = current_runtime()
    try:
        pending = read_takeover_pending(runtime=runtime, scope=current_principal().scope, scope_code=scope_code,
                                        scenario_id=scenario_id, area_code=area_code)
    except SQLAlchemyError as exc:  # the board stays; the next tick asks again
        log.warning("takeover return: state unavailable: %s", first_line(exc))
        return no_update
    return {"pending": pending}


def register_takeover_callbacks() -> None:
    callback(
        Output(ids.TAKEOVER_RETURN_STATE, "data"),
        Input(ids.TAKEOVER_RETURN_POLL, "n_intervals"),
        State(ids.TAKEOVER_RETURN, "data"),
        access="wall",
        prevent_initial_call=True,
    )(takeover_pending)
    dash.clientside_callback(
        ClientsideFunction(namespace="citywall", function_name="takeoverReturn"),
        Output(ids.TAKEOVER_RETURN_TARGET, "title"),
        Input(ids.TAKEOVER_RETURN_STATE, "data"),
        State(ids.TAKEOVER_RETURN, "data"),
        prevent_initial_call=True,
    )
