"""Who may see and mark a scenario board (issue 13, items 3 and 6), against the real app with Basic
auth (Flask's test client, a real SQLite database, Dash's real callback endpoint): a district's
supervisor sees the board of their district with its mark buttons; another district's board, the
city's, and a forged refresh or mark naming another area are refused with no data; a kiosk wall
sees the board without any mark button and may not mark."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import security
from app import create_app
from data_access.db import init_db, make_engine
from data_access.settings import Settings
from tests.fixtures import seed_small_city
from tests.test_scenario_board_browser import seed_scenario
from tests.test_security_auth import SECRET, basic, callback_payload, route_payload

EAST, WEST = "100100", "100200"
EAST_AUTH = basic("east_sup", "east-pass")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    folder = tmp_path_factory.mktemp("board-sec")
    url = f"sqlite:///{folder / 'board.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_small_city(engine)
    seed_scenario(engine)
    engine.dispose()
    users: Path = folder / "users.json"
    security.add_user(users, name="east_sup", password="east-pass", role="supervisor", scope=EAST)
    yield Settings(database_url=url, feeder=False, refresh_s=1, auth="basic", users_file=users, secret_key=SECRET)


@pytest.fixture(scope="module")
def app(settings: Settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.server.test_client()


def refresh_payload(app, area_code: object) -> dict:
    return callback_payload(app, "sb-sigs", {"sb-interval": 1, "sb-scope": {
        "scenario_id": "drill", "area_code": area_code, "lang": "zh"}, "sb-sigs": {}, "sb-form": {}},
        all_ids={"sb-step-info": ["s1", "s2", "s3"], "sb-step-done": ["s2"], "sb-step-skip": ["s2"]})


def mark_payload(app, area_code: object, form: dict | None = None) -> dict:
    body = callback_payload(app, "sb-mark-result", {"sb-comment": "x", "sb-form": form or {}, "sb-scope": {
        "scenario_id": "drill", "area_code": area_code, "lang": "zh"}})
    # the Done button of step s2 was clicked once (its ALL input, as the renderer sends it)
    body["inputs"] = [[{"id": {"type": "sb-step-done", "id": "s2"}, "property": "n_clicks", "value": 1}],
                      [{"id": {"type": "sb-step-skip", "id": "s2"}, "property": "n_clicks", "value": 0}]]
    body["changedPropIds"] = ['{"id":"s2","type":"sb-step-done"}.n_clicks']
    return body


def test_own_district_board_with_its_mark_buttons(client, app) -> None:
    assert client.get(f"/scenario/drill/{EAST}", headers=EAST_AUTH).status_code == 200
    page = client.post("/_dash-update-component", json=route_payload(app, f"/scenario/drill/{EAST}"),
                       headers=EAST_AUTH)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "综合演练" in text and "sb-step-done" in text
    refresh = client.post("/_dash-update-component", json=refresh_payload(app, EAST), headers=EAST_AUTH)
    assert refresh.status_code == 200 and "Traceback" not in refresh.get_data(as_text=True)


@pytest.mark.parametrize("path", [f"/scenario/drill/{WEST}", "/scenario/drill", f"/scenario/drill/{WEST}001"])
def test_another_areas_board_is_refused(client, app, path: str) -> None:
    assert client.get(path, headers=EAST_AUTH).status_code in (403, 404)
    page = client.post("/_dash-update-component", json=route_payload(app, path), headers=EAST_AUTH)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "cw-refused" in text and "综合演练" not in text


def test_forged_refresh_or_mark_naming_another_area_gets_403(client, app) -> None:
    for body in (refresh_payload(app, WEST), refresh_payload(app, None), mark_payload(app, WEST)):
        reply = client.post("/_dash-update-component", json=body, headers=EAST_AUTH)
        assert reply.status_code == 403 and reply.get_json() == {"error": "forbidden"}


def test_a_mark_without_a_valid_form_is_refused_and_writes_nothing(client, app, settings: Settings) -> None:
    reply = client.post("/_dash-update-component", json=mark_payload(app, EAST, {"s2": {"request_id": "f" * 32,
                                                                                      "token": "1.forged"}}),
                        headers=EAST_AUTH)
    assert reply.status_code == 200
    assert "sb-marks__result--refused" in reply.get_data(as_text=True)
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM operator_actions WHERE step_id = 's2'").scalar_one() == 0
    engine.dispose()


def test_a_kiosk_wall_sees_the_board_without_buttons_and_may_not_mark(app, settings: Settings) -> None:
    token = security.create_token(settings.users_file, name="lobby-east", scope=EAST)
    wall = app.server.test_client()
    assert wall.post("/_citywall/kiosk", json={"token": token}).status_code == 200
    page = wall.post("/_dash-update-component", json=route_payload(app, f"/scenario/drill/{EAST}"))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "综合演练" in text and "sb-step-done" not in text
    assert wall.post("/_dash-update-component", json=mark_payload(app, EAST)).status_code == 403
