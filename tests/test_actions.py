"""Operator actions (issue 13, item 6), on SQLite and PostgreSQL: every action is audited (who, when,
what, which screen) in operator_actions and shown by v_operator_actions; each is role-checked; a
forged one — another area, a wall token, a replay, a stale or edited token, an unknown scenario or
step, a step already done, an acknowledgement of an inactive scenario — is refused with its message
and writes nothing. The state is written out by hand (ScenarioState); the catalogue is read from the
views over the scenario rows of tests/actions_desk.py."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from actions import messages as m
from actions.messages import ActionResult
from actions.service import MINIMUM_ROLE
from actions.store import actions_engine
from actions.tokens import TOKEN_TTL_S, Purpose, check_token, issue_token, signing_key
from components import i18n
from data_access import schema
from data_access.db import utc_now
from data_access.models import ScenarioActivation
from data_access.settings import Settings, load_settings
from security.policy import ANONYMOUS, ROLES, Principal
from tests.actions_desk import (
    CHIEF,
    CITY_WALL_ADMIN_TOKEN,
    EAST_LEADER,
    EAST_SUPERVISOR,
    EAST_WALL,
    FLOOD_EAST_SINCE,
    FLOOD_WEST_SINCE,
    JIA_SUPERVISOR,
    KEY,
    NOW,
    OTHER_KEY,
    STATE,
    WEST_SUPERVISOR,
    Desk,
    read_catalogue,
)
from tests.fixtures import insert_rows


def _at(value: object) -> datetime:
    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=None)


# --- audited ------------------------------------------------------------------------------------------

def test_each_action_is_audited_with_who_when_what_and_which_screen(desk: Desk) -> None:
    ack = desk.act("ack_takeover", EAST_SUPERVISOR, screen="/wall/100100 kiosk lobby",
                   scenario_id="flood", area_code="100100", scope_code="100100")
    step = desk.act("step", EAST_LEADER, scenario_id="flood", area_code="100100", step_id="pumps", step_state="done",
                    comment="  pumps 3 and 4 running  ")
    skip = desk.act("step", EAST_SUPERVISOR, scenario_id="flood", area_code="100100", step_id="underpasses",
                    step_state="skipped", comment=None)
    start = desk.act("manual_start", WEST_SUPERVISOR, screen="/scenario/parade/100200 desk",
                     scenario_id="parade", area_code="100200", comment="Bund fireworks")
    end = desk.act("manual_end", CHIEF, screen="/scenario/flood/100200 desk", scenario_id="flood",
                   area_code="100200")
    assert [r.message_key for r in (ack, step, skip, start, end)] == [
        m.ACK_DONE, m.STEP_DONE, m.STEP_SKIPPED, m.MANUAL_STARTED, m.MANUAL_ENDED]
    assert all(r.ok for r in (ack, step, skip, start, end))
    rows = desk.rows()
    assert [r["action_id"] for r in rows] == [ack.action_id, step.action_id, skip.action_id, start.action_id,
                                              end.action_id]
    second = NOW.replace(microsecond=0)
    keep = ("principal", "role", "screen", "kind", "scenario_id", "area_code", "scope_code", "step_id", "step_state",
            "comment")
    assert [{k: (None if pd.isna(r[k]) else r[k]) for k in keep} for r in rows] == [
        dict(principal="li.wei", role="supervisor", screen="/wall/100100 kiosk lobby", kind="ack_takeover",
             scenario_id="flood", area_code="100100", scope_code="100100", step_id=None, step_state=None,
             comment=None),
        dict(principal="wang", role="leader", screen="/scenario/flood/100100 desk", kind="step", scenario_id="flood",
             area_code="100100", scope_code=None, step_id="pumps", step_state="done", comment="pumps 3 and 4 running"),
        dict(principal="li.wei", role="supervisor", screen="/scenario/flood/100100 desk", kind="step",
             scenario_id="flood", area_code="100100", scope_code=None, step_id="underpasses", step_state="skipped",
             comment=None),
        dict(principal="zhao", role="supervisor", screen="/scenario/parade/100200 desk", kind="manual_start",
             scenario_id="parade", area_code="100200", scope_code=None, step_id=None, step_state=None,
             comment="Bund fireworks"),
        dict(principal="chief", role="admin", screen="/scenario/flood/100200 desk", kind="manual_end",
             scenario_id="flood", area_code="100200", scope_code=None, step_id=None, step_state=None, comment=None),
    ]
    assert [_at(r["at"]) for r in rows] == [second] * 5
    since = [None if pd.isna(r["activation_since"]) else _at(r["activation_since"]) for r in rows]
    east, west = FLOOD_EAST_SINCE.replace(microsecond=0), FLOOD_WEST_SINCE.replace(microsecond=0)
    assert since == [east, east, east, None, west]  # the activation each belongs to (a start begins one)
    assert len({r["request_id"] for r in rows}) == 5


def test_the_city_wall_is_acknowledged_with_no_scope_and_a_street_supervisor_acts_below_it(desk: Desk) -> None:
    city = desk.act("ack_takeover", CHIEF, screen="/ kiosk", scenario_id="flood", area_code="100100", scope_code=None)
    assert city == ActionResult(True, m.ACK_DONE, city.action_id)
    assert pd.isna(desk.rows()[0]["scope_code"])
    # the east wall is another wall: its takeover is acknowledged apart
    east = desk.act("ack_takeover", EAST_SUPERVISOR, scenario_id="flood", area_code="100100", scope_code="100100")
    assert east.ok
    # a street's supervisor may not acknowledge the district's activation (the district is above the street)
    assert desk.act("ack_takeover", JIA_SUPERVISOR, scenario_id="flood", area_code="100100",
                    scope_code="100100001") == ActionResult(False, m.OUTSIDE_SCOPE)
    assert len(desk.rows()) == 2


# --- role-checked ----------------------------------------------------------------------------------------

def test_the_role_table_is_declared_and_a_wall_never_acts() -> None:
    assert MINIMUM_ROLE == {"ack_takeover": "supervisor", "step": "leader", "manual_start": "supervisor",
                            "manual_end": "supervisor"}
    assert set(MINIMUM_ROLE.values()) <= set(ROLES) - {"wall"}


@pytest.mark.parametrize(("kind", "principal", "args", "expected"), [
    ("ack_takeover", EAST_LEADER, dict(scenario_id="flood", area_code="100100", scope_code="100100"), m.ROLE_TOO_LOW),
    ("manual_start", EAST_LEADER, dict(scenario_id="parade", area_code="100100"), m.ROLE_TOO_LOW),
    ("manual_end", EAST_LEADER, dict(scenario_id="flood", area_code="100100"), m.ROLE_TOO_LOW),
    # a step's own role: a leader may start the pumps, not close underpasses; a supervisor not call the army
    ("step", EAST_LEADER, dict(scenario_id="flood", area_code="100100", step_id="underpasses", step_state="done"),
     m.ROLE_TOO_LOW),
    ("step", EAST_SUPERVISOR, dict(scenario_id="flood", area_code="100100", step_id="army", step_state="done"),
     m.ROLE_TOO_LOW),
    # a wall's screen never acts, whatever it asks
    ("ack_takeover", EAST_WALL, dict(scenario_id="flood", area_code="100100", scope_code="100100"), m.WALL_TOKEN),
    ("step", EAST_WALL, dict(scenario_id="flood", area_code="100100", step_id="pumps", step_state="done"),
     m.WALL_TOKEN),
    ("manual_start", EAST_WALL, dict(scenario_id="parade", area_code="100100"), m.WALL_TOKEN),
    ("manual_end", EAST_WALL, dict(scenario_id="flood", area_code="100100"), m.WALL_TOKEN),
])
def test_roles_are_checked_and_nothing_is_written(desk: Desk, kind: str, principal: Principal, args: dict,
                                                  expected: str) -> None:
    assert desk.act(kind, principal, **args) == ActionResult(False, expected, None)
    assert desk.rows() == []


def test_the_step_roles_allow_who_they_name(desk: Desk) -> None:
    assert desk.act("step", EAST_SUPERVISOR, scenario_id="flood", area_code="100100", step_id="underpasses",
                    step_state="done").ok
    assert desk.act("step", CITY_WALL_ADMIN_TOKEN, scenario_id="flood", area_code="100100", step_id="army",
                    step_state="done").ok
    assert desk.act("step", ANONYMOUS, scenario_id="flood", area_code="100200", step_id="army",
                    step_state="skipped").ok  # auth off: everyone is a city-wide admin
    assert [(r["principal"], r["role"]) for r in desk.rows()] == [
        ("li.wei", "supervisor"), ("token:desk", "admin"), ("anonymous", "admin")]


# --- forged ------------------------------------------------------------------------------------------

EAST_FLOOD = STATE.activation("flood", "100100").key  # the activation a board's step forms name


def _mark(step_id: str = "pumps", area: str = "100100") -> dict:
    return dict(scenario_id="flood", area_code=area, step_id=step_id, step_state="done")


REFUSALS: dict[str, tuple[str, Principal, dict, str]] = {
    # another area: outside the principal's scope
    "step in another district": ("step", EAST_LEADER, _mark(area="100200"), m.OUTSIDE_SCOPE),
    "ack of another district's wall": ("ack_takeover", EAST_SUPERVISOR,
                                       dict(scenario_id="flood", area_code="100200", scope_code="100200"),
                                       m.OUTSIDE_SCOPE),
    "ack of the city wall by a district": ("ack_takeover", EAST_SUPERVISOR,
                                           dict(scenario_id="flood", area_code="100100", scope_code=None),
                                           m.OUTSIDE_SCOPE),
    "manual start in another district": ("manual_start", EAST_SUPERVISOR,
                                         dict(scenario_id="parade", area_code="100200"), m.OUTSIDE_SCOPE),
    "manual end in another district": ("manual_end", WEST_SUPERVISOR, dict(scenario_id="flood", area_code="100100"),
                                       m.OUTSIDE_SCOPE),
    # unknown things
    "unknown scenario": ("step", CHIEF, dict(scenario_id="meteor", area_code="100100", step_id="pumps",
                                             step_state="done"), m.UNKNOWN_SCENARIO),
    "unknown step": ("step", CHIEF, _mark(step_id="sandbags"), m.UNKNOWN_STEP),
    "another scenario's step": ("step", CHIEF, _mark(step_id="barriers"), m.UNKNOWN_STEP),
    "unknown area": ("manual_start", CHIEF, dict(scenario_id="parade", area_code="999999"), m.UNKNOWN_AREA),
    "unknown scenario started": ("manual_start", CHIEF, dict(scenario_id="meteor", area_code="100100"),
                                 m.UNKNOWN_SCENARIO),
    # the state does not allow it
    "ack of an inactive scenario": ("ack_takeover", CHIEF, dict(scenario_id="parade", area_code="100100",
                                                                scope_code="100100"), m.NOT_ACTIVE),
    "ack for a wall it does not take over": ("ack_takeover", CHIEF, dict(scenario_id="flood", area_code="100100",
                                                                         scope_code="100200"), m.NOT_IN_WALL_SCOPE),
    "mark of an inactive scenario": ("step", CHIEF, dict(scenario_id="parade", area_code="100100",
                                                         step_id="barriers", step_state="done"), m.NOT_ACTIVE),
    "end of an inactive scenario": ("manual_end", CHIEF, dict(scenario_id="parade", area_code="100100"),
                                    m.NOT_ACTIVE),
    "start of an active scenario": ("manual_start", CHIEF, dict(scenario_id="flood", area_code="100100"),
                                    m.ALREADY_ACTIVE),
    "start at another level": ("manual_start", CHIEF, dict(scenario_id="parade", area_code="100100001"),
                               m.WRONG_LEVEL),
    "city scenario in a district": ("manual_start", CHIEF, dict(scenario_id="smog", area_code="100100"),
                                    m.WRONG_LEVEL),
    # bad values, as a forged callback sends them
    "a dict as the scenario": ("step", CHIEF, dict(scenario_id={"$ne": 1}, area_code="100100", step_id="pumps",
                                                   step_state="done"), m.BAD_REQUEST),
    "an injection as the area": ("manual_end", CHIEF, dict(scenario_id="flood", area_code="1' OR '1'='1"),
                                 m.BAD_REQUEST),
    "another step state": ("step", CHIEF, dict(scenario_id="flood", area_code="100100", step_id="pumps",
                                               step_state="deleted"), m.BAD_REQUEST),
    "a list as the comment": ("step", CHIEF, {**_mark(), "comment": ["x"]}, m.BAD_REQUEST),
    "a comment too long": ("step", CHIEF, {**_mark(), "comment": "x" * 501}, m.COMMENT_TOO_LONG),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_forged_actions_are_refused_and_write_nothing(desk: Desk, case: str) -> None:
    kind, principal, args, expected = REFUSALS[case]
    assert desk.act(kind, principal, **args) == ActionResult(False, expected, None)
    assert desk.rows() == []


def test_a_replayed_request_is_refused_and_writes_nothing(desk: Desk) -> None:
    purpose = Purpose("step", "flood", "100100", step_id="underpasses", activation=EAST_FLOOD)
    form = desk.form(EAST_SUPERVISOR, purpose)
    first = desk.act("step", EAST_SUPERVISOR, form=form, scenario_id="flood", area_code="100100",
                     step_id="underpasses", step_state="skipped")
    assert first.ok
    again = desk.act("step", EAST_SUPERVISOR, form=form, scenario_id="flood", area_code="100100",
                     step_id="underpasses", step_state="skipped")
    assert again == ActionResult(False, m.REPLAYED, None)
    # the same request id under a token made for it again (a second window, a retry): still one row
    retry = {"request_id": form["request_id"],
             "token": issue_token(key=KEY, principal=EAST_SUPERVISOR, purpose=purpose, request_id=form["request_id"],
                                  now=NOW + timedelta(seconds=5))}
    assert desk.act("step", EAST_SUPERVISOR, form=retry, now=NOW + timedelta(seconds=5), scenario_id="flood",
                    area_code="100100", step_id="underpasses", step_state="skipped") == ActionResult(False, m.REPLAYED)
    assert [r["action_id"] for r in desk.rows()] == [first.action_id]


def test_stale_and_forged_tokens_are_refused_and_write_nothing(desk: Desk) -> None:
    purpose = Purpose("step", "flood", "100100", step_id="pumps", activation=EAST_FLOOD)
    mark = _mark()
    stale = desk.form(EAST_LEADER, purpose, now=NOW - timedelta(seconds=TOKEN_TTL_S + 1))
    assert desk.act("step", EAST_LEADER, form=stale, **mark) == ActionResult(False, m.TOKEN_STALE)
    fresh_enough = desk.form(EAST_LEADER, purpose, now=NOW - timedelta(seconds=TOKEN_TTL_S - 5))
    forged = {
        "another user's token": desk.form(EAST_SUPERVISOR, purpose),
        "the same user with another role": desk.form(replace(EAST_LEADER, role="admin"), purpose),
        "a token for another step": desk.form(EAST_LEADER, replace(purpose, step_id="army")),
        "a token for another activation": desk.form(EAST_LEADER, replace(purpose, activation="2026-01-01T00:00:00")),
        "a token for another area": desk.form(EAST_LEADER, Purpose("step", "flood", "100100001", step_id="pumps")),
        "a token for another kind": desk.form(EAST_LEADER, Purpose("manual_end", "flood", "100100")),
        "another key": desk.form(EAST_LEADER, purpose, key=OTHER_KEY),
        "from the future": desk.form(EAST_LEADER, purpose, now=NOW + timedelta(minutes=5)),
        "another request id": {**desk.form(EAST_LEADER, purpose), "request_id": "f" * 32},
        "an edited time": {**fresh_enough, "token": str(int(fresh_enough["token"].split(".")[0]) + 60) + "."
                           + fresh_enough["token"].split(".")[1]},
        "no token": {"request_id": "a" * 32, "token": None},
        "a number": {"request_id": "a" * 32, "token": 12345},
        "garbage": {"request_id": "a" * 32, "token": "x" * 5000},
        "a short request id": {"request_id": "abc", "token": desk.form(EAST_LEADER, purpose)["token"]},
    }
    for name, form in forged.items():
        assert desk.act("step", EAST_LEADER, form=form, **mark) == ActionResult(False, m.TOKEN_FORGED), name
    assert desk.rows() == []
    assert desk.act("step", EAST_LEADER, form=fresh_enough, **mark).ok  # 9 min 55 s old: still good


def test_a_step_already_done_in_this_activation_is_refused(desk: Desk) -> None:
    assert desk.act("step", EAST_LEADER, **_mark()).ok
    assert desk.act("step", EAST_SUPERVISOR, **_mark()) == ActionResult(False, m.STEP_ALREADY_DONE)
    # a skipped step may still be done; then it is done
    skip = dict(scenario_id="flood", area_code="100100", step_id="underpasses", comment="closed already")
    assert desk.act("step", EAST_SUPERVISOR, step_state="skipped", **skip).ok
    assert desk.act("step", EAST_SUPERVISOR, step_state="done", **skip).ok
    assert desk.act("step", EAST_SUPERVISOR, step_state="skipped", **skip) == ActionResult(False, m.STEP_ALREADY_DONE)
    # the same step in another area's activation is another mark
    assert desk.act("step", CHIEF, **_mark(area="100200")).ok
    assert len(desk.rows()) == 4
    # a new activation (since after the marks) starts a fresh checklist
    later = NOW + timedelta(minutes=30)
    desk.state = replace(STATE, computed_at=later, active=(
        ScenarioActivation("flood", "100100", later - timedelta(minutes=1), "indicators", ()),))
    assert desk.act("step", EAST_LEADER, now=later, **_mark()).ok
    assert len(desk.rows()) == 5


def test_a_step_form_of_an_earlier_activation_cannot_mark_a_later_one(desk: Desk) -> None:
    """A board opened during one activation (its forms name it, signed) does not mark the next one's checklist."""
    earlier = STATE.activation("flood", "100100").key
    form = desk.form(EAST_LEADER, Purpose("step", "flood", "100100", step_id="pumps", activation=earlier))
    later = NOW + timedelta(minutes=3)  # the scenario ended and began again within the form's 10 minutes
    desk.state = replace(STATE, computed_at=later, active=(
        ScenarioActivation("flood", "100100", later - timedelta(minutes=1), "indicators", ()),))
    current = desk.state.activation("flood", "100100").key
    assert current != earlier
    assert desk.act("step", EAST_LEADER, form=form, now=later, activation=earlier, **_mark()) == \
        ActionResult(False, m.OTHER_ACTIVATION)
    # the earlier form naming the later activation: its token was not issued for that one
    assert desk.act("step", EAST_LEADER, form=form, now=later, activation=current, **_mark()) == \
        ActionResult(False, m.TOKEN_FORGED)
    # a form issued while the scenario was not active here names none
    idle = desk.form(EAST_LEADER, Purpose("step", "flood", "100100", step_id="pumps"))
    assert desk.act("step", EAST_LEADER, form=idle, now=later, activation=None, **_mark()) == \
        ActionResult(False, m.OTHER_ACTIVATION)
    assert desk.act("step", EAST_LEADER, now=later, activation="not a key", **_mark()) == ActionResult(False,
                                                                                                       m.BAD_REQUEST)
    assert desk.rows() == []
    assert desk.act("step", EAST_LEADER, now=later, **_mark()).ok  # the board's new form, of the activation now
    assert desk.rows()[0]["activation_since"] is not None
    assert i18n.t(m.OTHER_ACTIVATION, "en").startswith("This form was for an earlier activation")


def test_an_acknowledged_takeover_is_not_acknowledged_twice(desk: Desk) -> None:
    ack = dict(scenario_id="flood", area_code="100100", scope_code="100100")
    assert desk.act("ack_takeover", EAST_SUPERVISOR, **ack).ok
    # this tick's state does not know it yet: the audit table, asked inside the write, does
    assert desk.act("ack_takeover", CHIEF, **ack) == ActionResult(False, m.ALREADY_ACKNOWLEDGED)
    # the next tick's state says so itself
    desk.state = replace(STATE, acks=(("flood", "100100", "100100", NOW),))
    assert desk.act("ack_takeover", CHIEF, **ack) == ActionResult(False, m.ALREADY_ACKNOWLEDGED)
    assert len(desk.rows()) == 1


def test_a_manual_start_takes_the_areas_declared_level_not_its_depth(desk: Desk) -> None:
    """A city whose hierarchy skips a level: a street right under the city (depth 2) is a street, and a
    district under another district (depth 3) is a district; the scenario's level is matched to the
    level each area declares in v_areas."""
    with desk.engine.begin() as conn:
        insert_rows(conn, schema.areas, [
            dict(area_code="100900001", level="street", parent_code="100000", name="港街道", name_en="Harbour"),
            dict(area_code="100100900", level="district", parent_code="100100", name="新区", name_en="New Town"),
        ])
        insert_rows(conn, schema.scenarios, [
            dict(scenario_id="market", name="集市", name_en="Market day", area_level="street",
                 activation_kind="manual", sort_order=4)])
    desk.catalogue = read_catalogue(desk.engine)
    assert desk.act("manual_start", CHIEF, scenario_id="market", area_code="100900001").ok
    assert desk.act("manual_start", CHIEF, scenario_id="parade", area_code="100900001") == \
        ActionResult(False, m.WRONG_LEVEL)  # a district scenario, though the street stands at a district's depth
    assert desk.act("manual_start", CHIEF, scenario_id="parade", area_code="100100900").ok
    assert desk.act("manual_start", CHIEF, scenario_id="market", area_code="100100900") == \
        ActionResult(False, m.WRONG_LEVEL)
    assert [(r["scenario_id"], r["area_code"]) for r in desk.rows()] == [("market", "100900001"),
                                                                        ("parade", "100100900")]


def test_a_manual_start_or_end_is_not_done_twice_before_the_state_shows_it(desk: Desk) -> None:
    start = dict(scenario_id="parade", area_code="100200")
    assert desk.act("manual_start", WEST_SUPERVISOR, **start).ok
    assert desk.act("manual_start", CHIEF, **start) == ActionResult(False, m.ALREADY_ACTIVE)
    end = dict(scenario_id="flood", area_code="100200")
    assert desk.act("manual_end", WEST_SUPERVISOR, **end).ok
    assert desk.act("manual_end", CHIEF, **end) == ActionResult(False, m.NOT_ACTIVE)
    assert [r["kind"] for r in desk.rows()] == ["manual_start", "manual_end"]


def test_two_screens_marking_the_same_step_at_once_write_one_done(desk: Desk) -> None:
    """Eight requests at once, each with its own form: the check inside the write lets one through."""
    people = [replace(CHIEF, name=f"chief{i}") for i in range(8)]
    forms = [desk.form(p, Purpose("step", "flood", "100100", step_id="pumps", activation=EAST_FLOOD)) for p in people]
    results: list[ActionResult] = []
    barrier = threading.Barrier(len(people))

    def mark(i: int) -> None:
        barrier.wait()
        results.append(desk.act("step", people[i], form=forms[i], **_mark()))

    threads = [threading.Thread(target=mark, args=(i,)) for i in range(len(people))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.message_key for r in results) == sorted([m.STEP_DONE] + [m.STEP_ALREADY_DONE] * 7), results
    assert len(desk.rows()) == 1


def test_a_database_that_cannot_take_the_write_is_a_clear_refusal(desk: Desk) -> None:
    with desk.engine.begin() as conn:
        conn.exec_driver_sql("DROP VIEW v_operator_actions")
    assert desk.act("step", EAST_LEADER, **_mark()) == ActionResult(False, m.UNAVAILABLE)


# --- tokens, settings, labels (no database) ------------------------------------------------------------

def test_tokens_are_bound_to_principal_purpose_request_and_time() -> None:
    purpose = Purpose("ack_takeover", "flood", "100100", scope_code="100100")
    token = issue_token(key=KEY, principal=EAST_SUPERVISOR, purpose=purpose, request_id="r" * 32, now=NOW)
    def check(**over: object) -> str | None:
        args = dict(key=KEY, principal=EAST_SUPERVISOR, purpose=purpose, request_id="r" * 32, now=NOW)
        return check_token(token, **{**args, **over})  # type: ignore[arg-type]

    assert check() is None
    assert check(now=NOW + timedelta(seconds=TOKEN_TTL_S)) is None
    assert check(now=NOW + timedelta(seconds=TOKEN_TTL_S + 1)) == m.TOKEN_STALE
    assert check(purpose=replace(purpose, scope_code=None)) == m.TOKEN_FORGED  # the city wall's is another
    assert check(principal=replace(EAST_SUPERVISOR, scope="100200")) == m.TOKEN_FORGED
    assert check(request_id="s" * 32) == m.TOKEN_FORGED
    assert check(key=OTHER_KEY) == m.TOKEN_FORGED
    with pytest.raises(ValueError):
        issue_token(key=KEY, principal=EAST_SUPERVISOR, purpose=purpose, request_id="short", now=NOW)
    # the key comes from the secret key (not the secret itself); without one, a key of this process
    assert signing_key(Settings(secret_key="s" * 40)) != b"s" * 40
    assert signing_key(Settings()) == signing_key(Settings()) and len(signing_key(Settings())) == 32


def test_the_actions_url_defaults_to_the_database_url() -> None:
    assert load_settings({"CITYWALL_DATABASE_URL": "sqlite:////tmp/a.db"}).actions_url == "sqlite:////tmp/a.db"
    settings = load_settings({"CITYWALL_DATABASE_URL": "postgresql+psycopg://ro@db/city",
                              "CITYWALL_ACTIONS_DATABASE_URL": "postgresql+psycopg://act@db/city"})
    assert (settings.database_url, settings.actions_url) == ("postgresql+psycopg://ro@db/city",
                                                             "postgresql+psycopg://act@db/city")
    assert replace(settings, actions_database_url="").actions_url == "postgresql+psycopg://ro@db/city"


def test_the_actions_engine_is_made_on_first_use_and_writes(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'nothing-yet.db'}"
    settings = Settings(database_url=url)
    assert not (tmp_path / "nothing-yet.db").exists()
    engine = actions_engine(settings)
    assert actions_engine(settings) is engine and str(engine.url) == url
    with engine.connect() as conn:  # not read-only, unlike the app's engine
        assert conn.exec_driver_sql("PRAGMA query_only").scalar_one() == 0
    engine.dispose()


def test_every_message_key_has_a_label_in_both_languages() -> None:
    assert len(set(m.MESSAGE_KEYS)) == len(m.MESSAGE_KEYS)
    for key in m.MESSAGE_KEYS:
        assert key in i18n.LABELS, key
        assert i18n.t(key, "zh") != key and i18n.t(key, "en") != key
        assert i18n.t(key, "zh") != i18n.t(key, "en"), key
    unused = {k for k in i18n.LABELS if k.startswith("action_")} - set(m.MESSAGE_KEYS)
    assert unused == set()


# --- what the actions write is what the state and the board read -------------------------------------

def test_the_state_and_the_board_read_what_the_actions_wrote(desk: Desk) -> None:
    """A manual start, an acknowledgement, a mark and a manual end, then the scenario state and the
    board computed from the views (data_access.scenarios) the way every screen gets them."""
    from data_access.scenarios import load_scenario_board, load_scenario_state

    now = utc_now()
    desk.state = load_scenario_state(engine=desk.engine, now=now)
    assert desk.state.activation("parade", "100200") is None
    assert desk.act("manual_start", WEST_SUPERVISOR, now=now, scenario_id="parade", area_code="100200",
                    comment="fireworks").ok

    later = now + timedelta(seconds=5)
    desk.state = load_scenario_state(engine=desk.engine, now=later)
    started = desk.state.activation("parade", "100200")
    assert (started.since, started.reason, started.started_by) == (now, "manual", "zhao")
    assert started in desk.state.takeovers(desk.lineage, "100200")
    assert desk.act("ack_takeover", WEST_SUPERVISOR, now=later, screen="/wall/100200 kiosk", scenario_id="parade",
                    area_code="100200", scope_code="100200").ok
    assert desk.act("step", WEST_SUPERVISOR, now=later, scenario_id="parade", area_code="100200",
                    step_id="barriers", step_state="done", comment="Zhongshan Rd closed").ok

    after = later + timedelta(seconds=5)
    desk.state = load_scenario_state(engine=desk.engine, now=after)
    assert started not in desk.state.takeovers(desk.lineage, "100200")  # acknowledged for that wall
    assert started in desk.state.takeovers(desk.lineage, None)  # the city wall is another wall
    board = load_scenario_board(engine=desk.engine, scenario_id="parade", area_code="100200", state=desk.state,
                                now=after)
    marks = board.steps.set_index("step_id")
    assert (marks.loc["barriers", "state"], marks.loc["barriers", "principal"],
            marks.loc["barriers", "comment"]) == ("done", "zhao", "Zhongshan Rd closed")

    assert desk.act("manual_end", CHIEF, now=after, scenario_id="parade", area_code="100200").ok
    final = load_scenario_state(engine=desk.engine, now=after + timedelta(seconds=5))
    assert final.activation("parade", "100200") is None
    assert final.ended("parade", "100200").ended == after


# --- from a page: pages/_actions.py -------------------------------------------------------------------

def test_a_page_acts_as_the_signed_in_user(tmp_path) -> None:
    """The real app (auth basic): ``pages._actions`` finds the request's principal, the runtime, the
    tick's state and catalogue; a form is the signed-in user's, once; a wall's session never acts."""
    import base64

    from app import create_app
    from data_access.db import init_db, make_engine
    from pages._actions import action_form_for, perform
    from security import add_user, create_token, current_principal
    from tests.actions_desk import seed_scenarios
    from tests.fixtures import seed_small_city

    url = f"sqlite:///{tmp_path / 'page.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_small_city(engine)
    seed_scenarios(engine)
    users = tmp_path / "users.json"
    add_user(users, name="li.wei", password="east-pass", role="supervisor", scope="100100")
    add_user(users, name="chief", password="chief-pass", role="admin", scope=None)
    wall_token = create_token(users, name="lobby", scope="100100")
    app = create_app(Settings(database_url=url, feeder=False, refresh_s=1, auth="basic", users_file=users,
                              secret_key="3f9a1c7e5b2d8046a1e9c3b7d5f20864"))
    server = app.server

    def as_user(name: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}

    start = dict(scenario_id="parade", area_code="100100")
    with server.test_request_context("/", headers=as_user("li.wei", "east-pass")):
        assert server.preprocess_request() is None  # the gate: li.wei, supervisor of the east
        form = action_form_for(Purpose("manual_start", "parade", "100100"))
    with server.test_request_context("/", headers=as_user("chief", "chief-pass")):
        assert server.preprocess_request() is None
        assert perform("manual_start", form=form, screen="/scenario/parade/100100 desk", **start) == \
            ActionResult(False, m.TOKEN_FORGED)  # li.wei's form in the chief's request
    with server.test_request_context("/", headers=as_user("li.wei", "east-pass")):
        assert server.preprocess_request() is None
        done = perform("manual_start", form=form, screen="/scenario/parade/100100 desk", **start)
        assert done.ok and done.message_key == m.MANUAL_STARTED
        assert perform("manual_start", form=form, screen="/scenario/parade/100100 desk", **start) == \
            ActionResult(False, m.REPLAYED)
        assert perform("delete_everything", form=form, screen="/", **start) == ActionResult(False, m.BAD_REQUEST)
        assert perform("manual_start", form="not a form", screen="/", **start) == ActionResult(False, m.BAD_REQUEST)
    client = server.test_client()
    assert client.get(f"/wall/100100?token={wall_token}").status_code == 302  # the token becomes a session
    with client:
        assert client.get("/wall/100100").status_code == 200  # its context stays open in the block
        assert current_principal() == Principal("token:lobby", "wall", "100100", "token")
        wall_form = action_form_for(Purpose("manual_end", "parade", "100100"))
        assert perform("manual_end", form=wall_form, screen="/wall/100100 kiosk", **start) == \
            ActionResult(False, m.WALL_TOKEN)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT action_id, principal, role, kind, screen FROM v_operator_actions")).all()
    assert [tuple(r) for r in rows] == [(done.action_id, "li.wei", "supervisor", "manual_start",
                                         "/scenario/parade/100100 desk")]
    engine.dispose()


def test_an_actions_url_that_is_no_url_is_refused_at_start_up() -> None:
    from security import SettingsError, check_configuration

    check_configuration(load_settings({"CITYWALL_ACTIONS_DATABASE_URL": "postgresql+psycopg://act@db/city"}))
    with pytest.raises(SettingsError, match="CITYWALL_ACTIONS_DATABASE_URL"):
        check_configuration(load_settings({"CITYWALL_ACTIONS_DATABASE_URL": "not a url"}))


def test_step_role_missing_or_unknown_needs_an_admin():
    """A city's own v_scenario_steps may give no role or one CityWall does not know: the board and
    actions.service then both ask for an admin (one rule, data_access.models.step_marking_role)."""
    from data_access.models import step_marking_role

    assert step_marking_role("leader") == "leader"
    assert step_marking_role("supervisor") == "supervisor"
    assert [step_marking_role(v) for v in (None, "", "wall", "root", float("nan"))] == ["admin"] * 5
