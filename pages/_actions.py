"""Operator actions from a page: the request's principal, the app's runtime and this tick's scenario
state and catalogue put around ``actions`` (the only writes the app makes), so a page's layout or
callback only names what it wants done.

    form = action_form_for(Purpose("step", scenario_id, area_code, step_id=step_id))  # with the button
    result = perform("step", form=form, screen="/scenario/flood/310101 desk",
                     scenario_id=..., area_code=..., step_id=..., step_state="done", comment=...)
    t(result.message_key, lang)                                                       # what to say

A form (request id + token) is for the principal it was issued to and lasts 10 minutes: issue it
in the per-request render of the button (never in a render shared by several screens), again on
each render. ``perform`` takes the form as the browser sent it back: anything else in it is refused.
"""
from __future__ import annotations

from typing import Any

from actions import ActionResult, Purpose, action_form, actions_engine, signing_key
from actions.messages import BAD_REQUEST, refused
from actions.service import acknowledge_takeover, end_manual, mark_step, start_manual
from data_access.db import utc_now
from data_access.readers.scenarios import read_scenario_catalogue, read_scenario_state
from pages._runtime import current_runtime
from security import current_principal

_ACTIONS = {"ack_takeover": acknowledge_takeover, "step": mark_step, "manual_start": start_manual,
            "manual_end": end_manual}


def action_form_for(purpose: Purpose) -> dict[str, str]:
    """``{"request_id": …, "token": …}`` for the current request's principal to do ``purpose`` once."""
    runtime = current_runtime()
    return action_form(key=signing_key(runtime.settings), principal=current_principal(), purpose=purpose,
                       now=utc_now())


def perform(kind: str, *, form: object, screen: str, **args: Any) -> ActionResult:
    """Do the action ``kind`` (ack_takeover | step | manual_start | manual_end) as the current
    request's principal, with the form the page issued; ``args`` are the action's own keywords."""
    action = _ACTIONS.get(kind)
    if action is None or not isinstance(form, dict):
        return refused(BAD_REQUEST)
    runtime = current_runtime()
    return action(engine=actions_engine(runtime.settings), key=signing_key(runtime.settings),
                  principal=current_principal(), screen=screen, request_id=form.get("request_id"),
                  token=form.get("token"), state=read_scenario_state(runtime=runtime),
                  catalogue=read_scenario_catalogue(runtime=runtime), lineage=runtime.lineage, now=utc_now(),
                  **args)
