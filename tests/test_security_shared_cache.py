"""What one client sends never changes what the other screens of its scope are shown (issue 12,
item 8): the wall's render is cached per area and language for every screen, so it is built from
the area's code alone, its level and names read on the server. Against the real app (Flask's test
client, Dash's real callback endpoint, a real SQLite database, kiosk tokens)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import security
from app import create_app
from data_access.db import init_db, make_engine
from data_access.settings import Settings
from tests.fixtures import seed_small_city
from tests.test_security_auth import EAST, SECRET, wall_payload

CITY_BADGE = "市级"  # t("city_value", "zh"): a district wall's tile showing the city's value


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    base = tmp_path_factory.mktemp("poison")
    url = f"sqlite:///{base / 'city.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_small_city(engine)
    engine.dispose()
    users = base / "users.json"
    users.write_text('{"users": {}, "tokens": {}}')
    # A long tick: the forged and the honest request fall in one window (one cached render).
    yield Settings(database_url=url, feeder=False, refresh_s=30, auth="basic", users_file=users, secret_key=SECRET)


def _wall_screen(app, settings: Settings, role: str):
    token = security.create_token(settings.users_file, name=f"{role}-{uuid.uuid4().hex[:8]}", scope=EAST)
    client = app.server.test_client()
    assert client.get(f"/wall/{EAST}?kiosk=1&token={token}").status_code == 302
    return client


def _shown(client, app, level: object) -> dict:
    """What a screen is sent: its tiles, scores and figures (not the tick or the clock)."""
    reply = client.post("/_dash-update-component", json=wall_payload(app, EAST, level=level))
    assert reply.status_code == 200, reply.data[:300]
    response = reply.get_json()["response"]
    assert response["status-store"]["data"]["ok"] is True
    delta = response["wall-delta"]["data"]
    return {name: delta.get(name) for name in ("tiles", "dims", "kpis", "sparks")}


def _city_badges(shown: dict) -> int:
    return sum(CITY_BADGE in tile for tile in shown["tiles"].values())


@pytest.mark.parametrize("forged", ["city", "street", "", None, {"x": 1}])
def test_a_forged_level_changes_no_screens_wall(settings: Settings, forged: object) -> None:
    true_app = create_app(settings)
    reference = _shown(_wall_screen(true_app, settings, "reference"), true_app, "district")
    assert _city_badges(reference) == 3  # aqi, water pressure, the broken sensor: the city's values

    app = create_app(settings)  # its own tick cache, shared by both screens below
    forger = _wall_screen(app, settings, "forger")
    honest = _wall_screen(app, settings, "honest")
    assert _shown(forger, app, forged) == reference  # the forger is shown the true wall too
    assert _shown(honest, app, "district") == reference  # and the cached render stayed the true one
    assert _city_badges(_shown(honest, app, "district")) == 3
