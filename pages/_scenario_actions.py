"""The board's checklist marks: a form (request id + HMAC token, actions/tokens.py) beside each step
the viewer may mark, renewed before it goes stale and after each use, and the click that marks a
step done or skipped through the one action module (actions/service.py mark_step: its own role and
scope checks, replay protection, the audit row). Nothing here writes anything itself."""
from __future__ import annotations

import calendar
import logging
from typing import Any

import dash
from dash import no_update

from actions import actions_engine, mark_step
from actions.tokens import TOKEN_TTL_S, Purpose, action_form, signing_key
from components import ids
from components.i18n import pick_language, t
from data_access.db import utc_now
from data_access.models import ScenarioActivation
from data_access.readers.scenarios import read_scenario_catalogue, read_scenario_state
from data_access.runtime import CityWallRuntime
from pages._runtime import current_runtime
from security import current_principal

log = logging.getLogger(__name__)
RENEW_AFTER_S = TOKEN_TTL_S // 2  # a form is renewed by the tick when half its life is gone


def _issued(form: object) -> int | None:
    token = form.get("token") if isinstance(form, dict) else None
    head = token.split(".", 1)[0] if isinstance(token, str) else ""
    return int(head) if head.isascii() and head.isdigit() else None


def activation_key(activation: ScenarioActivation | None) -> str | None:
    """The activation a step form is issued for (None: the scenario is not active in the board's area)."""
    return None if activation is None else activation.key


def step_form(runtime: CityWallRuntime, *, scenario_id: str, area_code: str, step_id: str,
              activation: str | None) -> dict[str, Any]:
    """A form for one step of the activation ``activation`` (its key rides with the form and is signed
    in its token: a form of an earlier activation is refused, actions.service.mark_step)."""
    purpose = Purpose(kind="step", scenario_id=scenario_id, area_code=area_code, step_id=step_id,
                      activation=activation)
    return {**action_form(key=signing_key(runtime.settings), principal=current_principal(), purpose=purpose,
                          now=utc_now()), "activation": activation}


def step_forms(runtime: CityWallRuntime, *, scenario_id: str, area_code: str, steps: list[str],
               activation: str | None, current: dict | None = None) -> dict[str, Any]:
    """A form for each of ``steps`` (the ones this viewer may mark) of the activation ``activation``:
    kept from ``current`` while fresh and of that activation, issued anew when missing, older than
    RENEW_AFTER_S or of another activation ({} for a viewer who marks nothing)."""
    current = current if isinstance(current, dict) else {}
    if not steps:
        return {}
    now_s = calendar.timegm(utc_now().utctimetuple())
    out: dict[str, Any] = {}
    for step in steps:
        form = current.get(step)
        issued = _issued(form)
        if issued is None or now_s - issued > RENEW_AFTER_S or form.get("activation") != activation:
            form = step_form(runtime, scenario_id=scenario_id, area_code=area_code, step_id=step,
                             activation=activation)
        out[step] = form
    return out


def mark_clicked(done_clicks: list | None, skip_clicks: list | None, comment: object, forms: dict | None,
                 scope: dict | None) -> tuple:
    """A Done or Skip button was clicked: mark the step through actions.service.mark_step and say
    what came of it (done, or why it was refused: nothing written then)."""
    trigger = dash.ctx.triggered_id
    clicks = dash.ctx.triggered[0].get("value") if dash.ctx.triggered else None
    if not isinstance(trigger, dict) or not clicks:
        return no_update, no_update, no_update, no_update
    runtime = current_runtime()
    scope = scope if isinstance(scope, dict) else {}
    forms = forms if isinstance(forms, dict) else {}
    lang = pick_language(scope.get("lang"), runtime.settings.lang)
    step = str(trigger.get("id"))
    state = "done" if trigger.get("type") == ids.SB_STEP_DONE else "skipped"
    scenario_id, area_code = scope.get("scenario_id"), scope.get("area_code")
    form = forms.get(step) if isinstance(forms.get(step), dict) else {}
    text = comment if isinstance(comment, str) else None  # actions.service refuses one too long, never cuts it
    scenarios = read_scenario_state(runtime=runtime)
    result = mark_step(
        engine=actions_engine(runtime.settings), key=signing_key(runtime.settings), principal=current_principal(),
        screen=f"/scenario/{scenario_id}/{area_code} board", request_id=form.get("request_id"),
        token=form.get("token"), state=scenarios, catalogue=read_scenario_catalogue(runtime=runtime),
        lineage=runtime.lineage, now=utc_now(), scenario_id=scenario_id, area_code=area_code, step_id=step,
        step_state=state, activation=form.get("activation"), comment=text or None)
    renewed = {**forms, step: step_form(  # a new form, of the activation active now
        runtime, scenario_id=scenario_id, area_code=area_code, step_id=step,
        activation=activation_key(scenarios.activation(scenario_id, area_code)))} \
        if isinstance(scenario_id, str) and isinstance(area_code, str) else no_update
    css = "sb-marks__result" + ("" if result.ok else " sb-marks__result--refused")
    return t(result.message_key, lang), css, renewed, "" if result.ok else no_update

