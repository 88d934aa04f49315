"""Operator actions — the only writes the app makes: acknowledge a takeover, mark a checklist step
done or skipped (with a comment), start or end a scenario by hand.

Every action is keyword-only and takes the actions engine (``store.actions_engine``), the signing
key (``tokens.signing_key``), the principal, the screen it came from (page path + screen name), the
request id and form token the page issued with the button (``tokens.issue_token``), this tick's
ScenarioState and catalogue, the runtime's lineage and ``now`` (naive UTC), and its own arguments.
It answers an ActionResult: done, with the id of its audit row, or refused with a message key and
nothing written. The checks, in order:

1. the ids, area codes, screen and request id have the right types and shapes (a forged callback
   sends anything; a step state and a comment are checked with the step, at 6);
2. a wall's screen never acts (``role == 'wall'``, a kiosk token);
3. the form token is this principal's, for this very action and request, and under 10 minutes old;
4. the principal's role is at least ``MINIMUM_ROLE[kind]``;
5. the request id was not used before (and it is UNIQUE in the table: a replay writes nothing);
6. the scenario and the step are in the catalogue (and the principal has the step's own role), the
   area is known and inside the principal's scope (``data_access.areas.within_scope``, the one rule);
7. the state allows it: an acknowledgement only of a takeover of that wall that is active and not
   acknowledged yet; a mark only in the active activation its form was issued for and not of a step
   already done in it; a manual start only where the scenario is not active, at its level; a manual
   end of an active one;
8. inside the INSERT's transaction the audit table is asked again (another screen may have done it
   a moment ago): a clash rolls the row back.

Reads for the checks go through data_access (``data_access.operator_actions``); the one write is
``store.record_action``. A refusal is logged (logger ``actions``) with who, what and why.
"""
from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from actions import messages as m
from actions.messages import ActionResult, refused
from actions.store import ActionRow, Conflict, Replayed, record_action
from actions.tokens import Purpose, check_token
from data_access.areas import Lineage as AreaLineage
from data_access.areas import valid_code, within_scope
from data_access.models import (
    ScenarioActivation,
    ScenarioCatalogue,
    ScenarioState,
    step_marking_role,
    valid_scenario_id,
)
from data_access.operator_actions import action_id_of, actions_of
from security.policy import RANK, Principal

log = logging.getLogger("actions")

Lineage = Callable[[object], Sequence[str]]

# The least role for each kind of action ('wall' never acts, whatever this says); a step needs its
# own role from v_scenario_steps too.
MINIMUM_ROLE = {
    "ack_takeover": "supervisor",
    "step": "leader",
    "manual_start": "supervisor",
    "manual_end": "supervisor",
}
STEP_STATES = ("done", "skipped")
MAX_COMMENT = 500  # characters
MAX_SCREEN = 200
ACTIVATION_KEY = re.compile(r"^(-|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})$")


class _Refused(Exception):
    def __init__(self, message_key: str, why: str = "") -> None:
        super().__init__(message_key)
        self.message_key = message_key
        self.why = why


def _clean_text(value: object, *, limit: int, too_long: str) -> str | None:
    """Free text as a database can hold it (no NUL, no lone surrogates), stripped; None when empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Refused(m.BAD_REQUEST, "text of another type")
    text = re.sub(r"[\ud800-\udfff\x00]", "", value).strip()
    if len(text) > limit:
        raise _Refused(too_long, f"{len(text)} characters")
    return text or None


def _checked_id(value: object, what: str) -> str:
    if not valid_scenario_id(value):
        raise _Refused(m.BAD_REQUEST, f"{what} is not an id")
    return value


def _checked_area(value: object, what: str) -> str:
    if not valid_code(value):
        raise _Refused(m.BAD_REQUEST, f"{what} is not an area code")
    return value  # type: ignore[return-value]


def _checked_activation(value: object) -> str | None:
    """A step form's activation (``ScenarioActivation.key``: an ISO second or "-"); None: the form
    names none (issued while the scenario was not active)."""
    if value is None:
        return None
    if not isinstance(value, str) or not ACTIVATION_KEY.match(value):
        raise _Refused(m.BAD_REQUEST, "activation is not an activation key")
    return value


def _screen(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SCREEN \
            or re.search(r"[\x00-\x1f\x7f\ud800-\udfff]", value):
        raise _Refused(m.BAD_REQUEST, "screen")
    return value.strip()


def _principal(principal: object) -> Principal:
    if not isinstance(principal, Principal) or principal.role not in RANK:
        raise _Refused(m.BAD_REQUEST, "no principal")
    if principal.role == "wall":
        raise _Refused(m.WALL_TOKEN, "a wall's screen never acts")
    return principal


def _require_role(principal: Principal, role: str) -> None:
    if not principal.at_least(role):
        raise _Refused(m.ROLE_TOO_LOW, f"role {principal.role} (needs {role})")


def _scenario(catalogue: ScenarioCatalogue, scenario_id: str) -> dict[str, Any]:
    row = catalogue.scenario(scenario_id)
    if row is None:
        raise _Refused(m.UNKNOWN_SCENARIO, f"scenario {scenario_id!r}")
    return row


def _area_in_scope(principal: Principal, area_code: str, lineage: Lineage) -> None:
    codes = tuple(lineage(area_code))
    if not codes:
        raise _Refused(m.UNKNOWN_AREA, f"area {area_code!r}")
    if not within_scope(lineage, area_code, principal.scope):
        raise _Refused(m.OUTSIDE_SCOPE, f"area {area_code!r} outside the scope {principal.scope}")


def _second(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(microsecond=0)


def _conflicts(conn: Connection, action_id: int, *, scenario_id: str, area_code: str, kinds: tuple[str, ...],
               since: datetime | None) -> pd.DataFrame:
    """The other actions of ``kinds`` on this scenario x area since ``since``, read in the write's transaction."""
    rows = actions_of(conn, scenario_id=scenario_id, area_code=area_code, since=since, kinds=kinds)
    return rows[rows["action_id"] != action_id]


def _run(kind: str, *, engine: Engine, key: bytes, principal: object, screen: object, request_id: object,
         token: object, now: datetime, purpose: Callable[[], Purpose], validate: Callable[[Principal], ActionRow],
         conflict: Callable[[Connection, int], str | None] | None, done: str) -> ActionResult:
    who = getattr(principal, "name", "?")
    try:
        person = _principal(principal)
        checked_screen = _screen(screen)
        if not isinstance(request_id, str) or not isinstance(now, datetime):
            raise _Refused(m.BAD_REQUEST, "request id")
        wanted = purpose()
        failure = check_token(token, key=key, principal=person, purpose=wanted, request_id=request_id, now=now)
        if failure:
            raise _Refused(failure, "form token")
        _require_role(person, MINIMUM_ROLE[kind])
        if action_id_of(engine, request_id=request_id) is not None:
            raise _Refused(m.REPLAYED, f"request {request_id}")
        row = validate(person)
        row = dataclasses.replace(row, at=_second(now), screen=checked_screen, request_id=request_id)
        try:
            action_id = record_action(engine, row, conflict=conflict)
        except Replayed:
            raise _Refused(m.REPLAYED, f"request {request_id}") from None
        except Conflict as clash:
            raise _Refused(clash.message_key, "changed meanwhile") from None
    except _Refused as refusal:
        log.warning("refused %s by %r from %r: %s (%s)", kind, str(who)[:64], str(screen)[:80],
                    refusal.message_key, refusal.why)
        return refused(refusal.message_key)
    except sa.exc.SQLAlchemyError as exc:
        log.error("action %s by %r not written: %s", kind, str(who)[:64], str(getattr(exc, "orig", exc))[:200])
        return refused(m.UNAVAILABLE)
    log.info("%s by %s (%s) from %s: action %d", kind, person.name, person.role, checked_screen, action_id)
    return ActionResult(ok=True, message_key=done, action_id=action_id)


def _activation(state: ScenarioState, scenario_id: str, area_code: str) -> ScenarioActivation:
    activation = state.activation(scenario_id, area_code)
    if activation is None:
        raise _Refused(m.NOT_ACTIVE, f"{scenario_id} not active in {area_code}")
    return activation


# --- the actions ---------------------------------------------------------------------------------------

def acknowledge_takeover(*, engine: Engine, key: bytes, principal: Principal, screen: str, request_id: str,
                         token: str, state: ScenarioState, catalogue: ScenarioCatalogue, lineage: Lineage,
                         now: datetime, scenario_id: str, area_code: str, scope_code: str | None) -> ActionResult:
    """A supervisor acknowledges the takeover of the wall of ``scope_code`` (None: the city wall) by
    the activation of ``scenario_id`` in ``area_code``: that wall goes back to its rotation."""
    def purpose() -> Purpose:
        return Purpose("ack_takeover", _checked_id(scenario_id, "scenario"), _checked_area(area_code, "area"),
                       scope_code=None if scope_code is None else _checked_area(scope_code, "wall scope"))

    def validate(person: Principal) -> ActionRow:
        _scenario(catalogue, scenario_id)
        _area_in_scope(person, area_code, lineage)
        if scope_code is not None and not lineage(scope_code):
            raise _Refused(m.UNKNOWN_AREA, f"wall scope {scope_code!r}")
        if not within_scope(lineage, scope_code, person.scope):
            raise _Refused(m.OUTSIDE_SCOPE, f"wall scope {scope_code!r} outside the scope {person.scope}")
        activation = _activation(state, scenario_id, area_code)
        if not within_scope(lineage, area_code, scope_code):
            raise _Refused(m.NOT_IN_WALL_SCOPE, f"{area_code} is not inside the wall scope {scope_code}")
        if activation not in state.takeovers(lineage, scope_code):
            raise _Refused(m.ALREADY_ACKNOWLEDGED, "acknowledged in this tick's state")
        return ActionRow(at=now, principal=person.name, role=person.role, screen="", kind="ack_takeover",
                         scenario_id=scenario_id, area_code=area_code, request_id="", scope_code=scope_code,
                         activation_since=_second(activation.since))

    def conflict(conn: Connection, action_id: int) -> str | None:
        activation = state.activation(scenario_id, area_code)
        since = activation.since if activation else None
        others = _conflicts(conn, action_id, scenario_id=scenario_id, area_code=area_code, kinds=("ack_takeover",),
                            since=since)
        same_wall = others["scope_code"].fillna("").astype(str) == (scope_code or "")
        return m.ALREADY_ACKNOWLEDGED if bool(same_wall.any()) else None

    return _run("ack_takeover", engine=engine, key=key, principal=principal, screen=screen, request_id=request_id,
                token=token, now=now, purpose=purpose, validate=validate, conflict=conflict, done=m.ACK_DONE)


def mark_step(*, engine: Engine, key: bytes, principal: Principal, screen: str, request_id: str, token: str,
              state: ScenarioState, catalogue: ScenarioCatalogue, lineage: Lineage, now: datetime,
              scenario_id: str, area_code: str, step_id: str, step_state: str, activation: str | None,
              comment: str | None = None) -> ActionResult:
    """Mark checklist step ``step_id`` of the activation of ``scenario_id`` in ``area_code`` done or
    skipped (``step_state``), with an optional comment (at most 500 characters). ``activation`` is the
    activation the form was issued for (``ScenarioActivation.key``, signed in its token): a form of an
    earlier activation is refused (OTHER_ACTIVATION), never counted in the current one. A step done in
    this activation cannot be marked again; a skipped one can be marked done (or skipped again, with a comment)."""
    def purpose() -> Purpose:
        return Purpose("step", _checked_id(scenario_id, "scenario"), _checked_area(area_code, "area"),
                       step_id=_checked_id(step_id, "step"), activation=_checked_activation(activation))

    def validate(person: Principal) -> ActionRow:
        if step_state not in STEP_STATES:
            raise _Refused(m.BAD_REQUEST, f"step state {str(step_state)[:20]!r}")
        text = _clean_text(comment, limit=MAX_COMMENT, too_long=m.COMMENT_TOO_LONG)
        _scenario(catalogue, scenario_id)
        steps = catalogue.of(catalogue.steps, scenario_id)
        found = steps[steps["step_id"] == step_id] if not steps.empty else steps
        if found.empty:
            raise _Refused(m.UNKNOWN_STEP, f"step {step_id!r} of {scenario_id}")
        _require_role(person, step_marking_role(found.iloc[0]["role"]))
        _area_in_scope(person, area_code, lineage)
        current = _activation(state, scenario_id, area_code)
        if current.key != activation:  # (the token signed ``activation``: only a form of another one differs)
            raise _Refused(m.OTHER_ACTIVATION, f"form of activation {activation!r}, active since {current.key}")
        marks = actions_of(engine, scenario_id=scenario_id, area_code=area_code, since=current.since,
                           kinds=("step",))
        if ((marks["step_id"] == step_id) & (marks["step_state"] == "done")).any():
            raise _Refused(m.STEP_ALREADY_DONE, f"step {step_id} of {scenario_id} in {area_code}")
        return ActionRow(at=now, principal=person.name, role=person.role, screen="", kind="step",
                         scenario_id=scenario_id, area_code=area_code, request_id="", step_id=step_id,
                         step_state=step_state, comment=text, activation_since=_second(current.since))

    def conflict(conn: Connection, action_id: int) -> str | None:
        activation = state.activation(scenario_id, area_code)
        others = _conflicts(conn, action_id, scenario_id=scenario_id, area_code=area_code, kinds=("step",),
                            since=activation.since if activation else None)
        done = (others["step_id"] == step_id) & (others["step_state"] == "done")
        return m.STEP_ALREADY_DONE if bool(done.any()) else None

    return _run("step", engine=engine, key=key, principal=principal, screen=screen, request_id=request_id,
                token=token, now=now, purpose=purpose, validate=validate, conflict=conflict,
                done=m.STEP_DONE if step_state == "done" else m.STEP_SKIPPED)


def _pending_manual(conn: Connection, action_id: int, *, scenario_id: str, area_code: str,
                    state: ScenarioState) -> str | None:
    """The kind of the newest manual start or end not yet in ``state`` (made since it was computed), if any."""
    others = _conflicts(conn, action_id, scenario_id=scenario_id, area_code=area_code,
                        kinds=("manual_start", "manual_end"), since=_second(state.computed_at))
    return None if others.empty else str(others.iloc[-1]["kind"])


def start_manual(*, engine: Engine, key: bytes, principal: Principal, screen: str, request_id: str, token: str,
                 state: ScenarioState, catalogue: ScenarioCatalogue, lineage: AreaLineage, now: datetime,
                 scenario_id: str, area_code: str, comment: str | None = None) -> ActionResult:
    """Start ``scenario_id`` by hand in ``area_code`` (an area of the scenario's level, where it is not
    active): it is active from ``now`` until ended by hand (any scenario, whatever its activation rule).
    The area's level is the one it declares (``lineage.level``: v_areas.level)."""
    def purpose() -> Purpose:
        return Purpose("manual_start", _checked_id(scenario_id, "scenario"), _checked_area(area_code, "area"))

    def validate(person: Principal) -> ActionRow:
        text = _clean_text(comment, limit=MAX_COMMENT, too_long=m.COMMENT_TOO_LONG)
        scenario = _scenario(catalogue, scenario_id)
        _area_in_scope(person, area_code, lineage)
        level = lineage.level(area_code)  # its own declared level (v_areas), never its depth in the hierarchy
        if scenario.get("area_level") and level != scenario["area_level"]:
            raise _Refused(m.WRONG_LEVEL, f"{area_code} is a {level}, {scenario_id} is for a {scenario['area_level']}")
        if state.activation(scenario_id, area_code) is not None:
            raise _Refused(m.ALREADY_ACTIVE, f"{scenario_id} active in {area_code}")
        return ActionRow(at=now, principal=person.name, role=person.role, screen="", kind="manual_start",
                         scenario_id=scenario_id, area_code=area_code, request_id="", comment=text)

    def conflict(conn: Connection, action_id: int) -> str | None:
        pending = _pending_manual(conn, action_id, scenario_id=scenario_id, area_code=area_code, state=state)
        return m.ALREADY_ACTIVE if pending == "manual_start" else None

    return _run("manual_start", engine=engine, key=key, principal=principal, screen=screen, request_id=request_id,
                token=token, now=now, purpose=purpose, validate=validate, conflict=conflict, done=m.MANUAL_STARTED)


def end_manual(*, engine: Engine, key: bytes, principal: Principal, screen: str, request_id: str, token: str,
               state: ScenarioState, catalogue: ScenarioCatalogue, lineage: Lineage, now: datetime,
               scenario_id: str, area_code: str, comment: str | None = None) -> ActionResult:
    """End the activation of ``scenario_id`` in ``area_code`` by hand (it must be active there)."""
    def purpose() -> Purpose:
        return Purpose("manual_end", _checked_id(scenario_id, "scenario"), _checked_area(area_code, "area"))

    def validate(person: Principal) -> ActionRow:
        text = _clean_text(comment, limit=MAX_COMMENT, too_long=m.COMMENT_TOO_LONG)
        _scenario(catalogue, scenario_id)
        _area_in_scope(person, area_code, lineage)
        activation = _activation(state, scenario_id, area_code)
        return ActionRow(at=now, principal=person.name, role=person.role, screen="", kind="manual_end",
                         scenario_id=scenario_id, area_code=area_code, request_id="", comment=text,
                         activation_since=_second(activation.since))

    def conflict(conn: Connection, action_id: int) -> str | None:
        pending = _pending_manual(conn, action_id, scenario_id=scenario_id, area_code=area_code, state=state)
        return m.NOT_ACTIVE if pending == "manual_end" else None

    return _run("manual_end", engine=engine, key=key, principal=principal, screen=screen, request_id=request_id,
                token=token, now=now, purpose=purpose, validate=validate, conflict=conflict, done=m.MANUAL_ENDED)
