"""The hand-made setting of the operator-action tests (tests/test_actions.py,
tests/test_security_action_role.py): the small city's scenarios, a state written out by hand, the
principals who act, and ``Desk``, which calls an action the way a page would (a form issued for the
principal and purpose, then the action). The ``desk`` fixture (tests/conftest.py) gives one per backend."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actions.messages import ActionResult
from actions.service import acknowledge_takeover, end_manual, mark_step, start_manual
from actions.tokens import Purpose, action_form, signing_key
from data_access import schema
from data_access.areas import Lineage
from data_access.db import utc_now
from data_access.models import ScenarioActivation, ScenarioCatalogue, ScenarioState
from data_access.scenarios import scenario_catalogue
from data_access.settings import Settings
from security.policy import Principal
from tests.fixtures import insert_rows

NOW = utc_now()
FLOOD_EAST_SINCE = NOW - timedelta(minutes=10)
FLOOD_WEST_SINCE = NOW - timedelta(minutes=5)

CHIEF = Principal("chief", "admin", None, "basic")
EAST_SUPERVISOR = Principal("li.wei", "supervisor", "100100", "basic")
EAST_LEADER = Principal("wang", "leader", "100100", "header")
WEST_SUPERVISOR = Principal("zhao", "supervisor", "100200", "basic")
JIA_SUPERVISOR = Principal("jia.sup", "supervisor", "100100001", "basic")  # a street's supervisor
EAST_WALL = Principal("token:lobby-east", "wall", "100100", "token")
CITY_WALL_ADMIN_TOKEN = Principal("token:desk", "admin", None, "token")  # an admin desk token acts

KEY = signing_key(Settings(secret_key="k" * 8 + "0123456789abcdefghijklmnopqrstuv"))
OTHER_KEY = signing_key(Settings(secret_key="z" * 8 + "0123456789abcdefghijklmnopqrstuv"))


def seed_scenarios(engine: Engine) -> None:
    """Two scenarios over the small city: 'flood' (district level, three steps for three roles) and
    'parade' (district level, manual only), and 'smog' (city level)."""
    with engine.begin() as conn:
        insert_rows(conn, schema.scenarios, [
            dict(scenario_id="flood", name="暴雨内涝", name_en="Rainstorm", area_level="district",
                 activation_kind="indicators", activation_status="alarm", activation_minutes=3,
                 end_normal_minutes=10, sort_order=1),
            dict(scenario_id="parade", name="大客流", name_en="Large crowd", area_level="district",
                 activation_kind="manual", sort_order=2),
            dict(scenario_id="smog", name="重污染", name_en="Smog", area_level="city",
                 activation_kind="indicators", activation_status="warn", activation_minutes=5, sort_order=3),
        ])
        insert_rows(conn, schema.scenario_indicators, [
            dict(scenario_id="flood", indicator_id="power_load", triggers=True, sort_order=1),
            dict(scenario_id="smog", indicator_id="aqi", triggers=True, sort_order=1),
        ])
        insert_rows(conn, schema.scenario_steps, [
            dict(scenario_id="flood", step_id="pumps", sort_order=1, text="开泵", text_en="Start the pumps",
                 role="leader"),
            dict(scenario_id="flood", step_id="underpasses", sort_order=2, text="封闭下穿道",
                 text_en="Close the underpasses", role="supervisor"),
            dict(scenario_id="flood", step_id="army", sort_order=3, text="请求支援", text_en="Call for help",
                 role="admin"),
            dict(scenario_id="parade", step_id="barriers", sort_order=1, text="设置围栏", text_en="Barriers",
                 role="leader"),
        ])


def read_catalogue(engine: Engine) -> ScenarioCatalogue:
    """The catalogue as the pages get it (data_access.scenarios.scenario_catalogue over the views)."""
    return scenario_catalogue(engine=engine)


STATE = ScenarioState(
    computed_at=NOW,
    active=(
        ScenarioActivation("flood", "100100", FLOOD_EAST_SINCE, "indicators", (("power_load", 130.0, "alarm"),)),
        ScenarioActivation("flood", "100200", FLOOD_WEST_SINCE, "indicators", (("power_load", 125.0, "alarm"),)),
        ScenarioActivation("smog", "100000", None, "indicators", (("aqi", 150.0, "warn"),)),
    ),
    last_ended=(),
    acks=(),
)

ACTIONS = {"ack_takeover": acknowledge_takeover, "step": mark_step, "manual_start": start_manual,
           "manual_end": end_manual}


@dataclass
class Desk:
    """One database with the small city and its scenarios, and how a page would call an action."""
    engine: Engine
    lineage: Lineage
    catalogue: ScenarioCatalogue
    state: ScenarioState = STATE

    def form(self, principal: Principal, purpose: Purpose, *, now: datetime = NOW, key: bytes = KEY) -> dict:
        return action_form(key=key, principal=principal, purpose=purpose, now=now)

    def act(self, kind: str, principal: Principal, *, form: dict | None = None, now: datetime = NOW,
            screen: str = "/scenario/flood/100100 desk", **args: object) -> ActionResult:
        if kind == "step" and "activation" not in args:  # the board's form: of the activation active now
            active = self.state.activation(str(args.get("scenario_id")), str(args.get("area_code")))
            args["activation"] = None if active is None else active.key
        purpose = Purpose(kind, str(args.get("scenario_id")), str(args.get("area_code")),
                          step_id=args.get("step_id"), scope_code=args.get("scope_code"),  # type: ignore[arg-type]
                          activation=args.get("activation"))  # type: ignore[arg-type]
        form = form if form is not None else self.form(principal, purpose, now=now)
        return ACTIONS[kind](engine=self.engine, key=KEY, principal=principal, screen=screen,
                             request_id=form["request_id"], token=form["token"], state=self.state,
                             catalogue=self.catalogue, lineage=self.lineage, now=now, **args)

    def rows(self) -> list[dict]:
        with self.engine.connect() as conn:
            frame = pd.read_sql(sa.text("SELECT * FROM v_operator_actions ORDER BY action_id"), conn)
        return frame.to_dict("records")
