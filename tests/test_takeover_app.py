"""Issue 13, item 4, through the real app (Flask's test client, Dash's callbacks, auth on) over the
hand-made scenario city (tests/fixtures.py seed_scenario_city, from this minute) on SQLite and PostgreSQL: the wall's
reply carries the takeovers of its scope (a scoped wall only those inside it, the city wall every
one), one reply and one scenario state per scope and tick for every screen, and the supervisor's
acknowledge button: only in a supervisor's layout, refused to a wall, audited, never replayed."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import data_access.readers.scenarios as scenario_readers
import security
from app import create_app
from data_access.settings import Settings
from tests.test_security_auth import basic, callback_payload, route_payload

SECRET = "0c8e2f4a6b1d3e5f7a9c0b2d4e6f8a1c"
CITY, EAST, WEST, NORTH, JIA = "100000", "100100", "100200", "100300", "100100001"
CHIEF = basic("chief", "chief-pass")
WEST_SUP = basic("west_sup", "west-pass")
WEST_LEADER = basic("west_leader", "leader-pass")


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tko-users") / "users.json"
    security.add_user(path, name="chief", password="chief-pass", role="admin", scope=None)
    security.add_user(path, name="west_sup", password="west-pass", role="supervisor", scope=WEST)
    security.add_user(path, name="west_leader", password="leader-pass", role="leader", scope=WEST)
    return path


def _app(engine: Engine, users: Path, refresh_s: float):
    return create_app(Settings(database_url=engine.url.render_as_string(hide_password=False), feeder=False,
                               refresh_s=refresh_s, auth="basic", users_file=users, secret_key=SECRET))


@pytest.fixture  # per test, as live_scenario_city
def app(live_scenario_city: Engine, users: Path):
    return _app(live_scenario_city, users, refresh_s=1)


def _reply(client, app, code: str, headers: dict | None = None, applied: dict | None = None) -> dict:
    body = callback_payload(app, "wall-applied.data", {"wall-poll": 1, "wall-scope": {
        "area_code": code, "level": "district", "lang": "zh"}, "wall-applied": applied or {}})
    reply = client.post("/_dash-update-component", json=body, headers=headers or CHIEF)
    assert reply.status_code == 200, reply.get_data(as_text=True)[:300]
    return reply.get_json()["response"]


def _takeover(client, app, code: str, headers: dict | None = None) -> dict:
    return _reply(client, app, code, headers)["wall-takeover"]["data"]


def _items(store: dict) -> dict[str, bool]:
    return {item["key"]: item["pending"] for item in store["items"]}


def test_each_wall_gets_the_takeovers_of_its_own_scope(app) -> None:
    client = app.server.test_client()
    city = _takeover(client, app, CITY)
    # the city wall: every activation (none acknowledged for the city wall)
    assert _items(city) == {f"storm:{WEST}": True, f"crowd:{JIA}": True, f"gas:{WEST}": True}
    assert city["board"] == f"/scenario/storm/{WEST}" and city["scope"] == CITY
    assert city["items"][0]["name"] == "暴雨积水" and city["items"][0]["area"] == "西区"
    assert city["items"][0]["reason"] == "指标触发：降雨 60 mm/h ◆告警"
    # West: its storm was acknowledged on West's wall (not pending), its manual gas scenario is
    west = _takeover(client, app, WEST)
    assert _items(west) == {f"gas:{WEST}": True, f"storm:{WEST}": False}
    assert west["board"] == f"/scenario/gas/{WEST}"
    assert west["marked"] == ["pump_load_pct", "rain_mm_h"]  # the active storm's indicators, triggering or not
    assert west["items"][0]["reason"] == "手动启动（ops.wang）"
    # East: the crowd in its street Jia (its acknowledgement was of the earlier activation)
    assert _items(_takeover(client, app, EAST)) == {f"crowd:{JIA}": True}
    # North: its storm was ended by hand: nothing
    north = _takeover(client, app, NORTH)
    assert (north["items"], north["marked"], north["board"]) == ([], [], None)


def test_a_scoped_principal_never_reads_another_scope_s_takeovers(app) -> None:
    client = app.server.test_client()
    assert _items(_takeover(client, app, WEST, WEST_SUP)) == {f"gas:{WEST}": True, f"storm:{WEST}": False}
    body = callback_payload(app, "wall-applied.data", {"wall-poll": 1, "wall-scope": {
        "area_code": EAST, "level": "district", "lang": "zh"}, "wall-applied": {}})
    refused = client.post("/_dash-update-component", json=body, headers=WEST_SUP)
    assert refused.status_code == 403 and "crowd" not in refused.get_data(as_text=True)


def test_screens_of_a_scope_share_one_reply_and_the_state_is_computed_once_per_tick(
        live_scenario_city: Engine, users: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = scenario_readers.load_scenario_state

    def counted(**kwargs: object):
        calls.append(kwargs["engine"])
        return real(**kwargs)

    monkeypatch.setattr(scenario_readers, "load_scenario_state", counted)
    refresh_s = 20.0
    slow = _app(live_scenario_city, users, refresh_s=refresh_s)  # one tick for the whole test
    client = slow.server.test_client()
    into = time.time() % refresh_s
    if into > refresh_s - 5:  # too close to the window's end: start with the next one
        time.sleep(refresh_s - into + 0.05)
    tick = slow.server.extensions["citywall"].cache.tick()
    replies = [_reply(client, slow, code) for code in (WEST, WEST, EAST, WEST, CITY, EAST)]
    assert slow.server.extensions["citywall"].cache.tick() == tick
    # six screens, three scopes: one scenario state (other apps of this process still warming up their
    # own ticks for a moment call it too, through their own engines)
    assert [engine for engine in calls if engine is slow.server.extensions["citywall"].engine] != []
    assert len([engine for engine in calls if engine is slow.server.extensions["citywall"].engine]) == 1
    for reply in replies:
        reply["status-store"]["data"].pop("now_ms")  # the one part stamped per request (clock skew)
    assert json.dumps(replies[0], sort_keys=True) == json.dumps(replies[1], sort_keys=True) \
        == json.dumps(replies[3], sort_keys=True)
    # a screen that applied this tick already is not sent the takeover again (nothing changed)
    again = _reply(client, slow, WEST, applied=replies[0]["wall-applied"]["data"])
    assert "wall-takeover" not in again


def _layout(client, app, code: str, headers: dict) -> str:
    reply = client.post("/_dash-update-component", json=route_payload(app, f"/wall/{code}"), headers=headers)
    assert reply.status_code == 200
    return reply.get_data(as_text=True)


def _ack(client, app, headers: dict, *, form: dict | None, clicked: bool) -> tuple[int, dict | None]:
    values = {"wall-ack": 1 if clicked else 0, "wall-takeover": {"items": []}, "wall-ack-refresh": 0,
              "wall-ack-form": form, "wall-scope": {"area_code": WEST, "level": "district", "lang": "zh"}}
    body = callback_payload(app, "wall-ack-form", values)
    if not clicked:  # the takeover store changed: new forms
        body["changedPropIds"] = ["wall-takeover.data"]
    reply = client.post("/_dash-update-component", json=body, headers=headers)
    return reply.status_code, reply.get_json()["response"] if reply.status_code == 200 else None


def _acks(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT principal, scenario_id, area_code, scope_code FROM v_operator_actions"
            " WHERE kind = 'ack_takeover' ORDER BY action_id"))]


def test_a_supervisor_acknowledges_the_takeover_of_the_wall_s_scope(
        app, live_scenario_city: Engine, users: Path) -> None:
    client = app.server.test_client()
    assert 'id":"wall-ack"' in _layout(client, app, WEST, WEST_SUP).replace(" ", "")
    assert "wall-ack" not in _layout(client, app, WEST, WEST_LEADER)  # a leader sees no button
    wall_token = security.create_token(users, name=f"west-lobby-{uuid.uuid4().hex[:8]}", scope=WEST)
    screen = app.server.test_client()
    assert screen.get(f"/wall/{WEST}?kiosk=1&token={wall_token}").status_code == 302
    assert "wall-ack" not in _layout(screen, app, WEST, {})  # nor does a wall
    status, _ = _ack(screen, app, {}, form={"forms": []}, clicked=False)
    assert status == 403  # the callback itself refuses a wall

    status, out = _ack(client, app, WEST_SUP, form={"forms": []}, clicked=False)
    assert status == 200
    forms = out["wall-ack-form"]["data"]["forms"]
    assert [(f["scenario_id"], f["area_code"]) for f in forms] == [("gas", WEST)]  # pending ones only
    before = _acks(live_scenario_city)
    status, out = _ack(client, app, WEST_SUP, form={"forms": forms}, clicked=True)
    assert status == 200 and out["wall-ack-result"]["children"] == "已确认 1 项接管"
    assert _acks(live_scenario_city) == before + [("west_sup", "gas", WEST, WEST)]
    # the same form again (a replay): refused, nothing written
    status, out = _ack(client, app, WEST_SUP, form={"forms": forms}, clicked=True)
    assert out["wall-ack-result"]["children"].startswith("确认失败：")
    assert _acks(live_scenario_city) == before + [("west_sup", "gas", WEST, WEST)]
    # a forged token: refused
    forged = [{**forms[0], "token": forms[0]["token"][:-2] + "xx"}]
    status, out = _ack(client, app, WEST_SUP, form={"forms": forged}, clicked=True)
    assert out["wall-ack-result"]["children"].startswith("确认失败：")
    # from the next tick West's wall has nothing pending; the city wall still has (acks are per wall)
    time.sleep(1.1)
    assert _items(_takeover(client, app, WEST)) == {f"gas:{WEST}": False, f"storm:{WEST}": False}
    assert _takeover(client, app, WEST)["board"] is None
    assert _items(_takeover(client, app, CITY))[f"gas:{WEST}"] is True
