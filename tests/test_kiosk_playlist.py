"""Issue 12, item 10: a kiosk playlist leads only to this app's own pages. ``//host/phish``,
``/\\host``, ``https://…`` and ``javascript:…`` (and any path no page answers) are dropped by the
parser (components.wall.parse_kiosk through components.links.own_path) and never reach the wall's
rotation list, as the real app renders it (Flask's test client, Dash's page callback, SQLite)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from app import create_app
from components import links
from components.ids import KIOSK_STORE
from components.wall import parse_kiosk
from data_access.db import init_db, make_engine
from data_access.settings import Settings
from tests.fixtures import seed_small_city
from tests.test_security_auth import route_payload

OFF_SITE = ["//evil.example/phish", "/\\evil.example/phish", "\\/evil.example", "https://evil.example/",
            "http:/evil.example", "javascript:alert(1)", "JavaScript:alert(1)", " //evil.example", "/\t/evil.example",
            "/%0a/evil.example", "data:text/html,x", "evil.example/wall", "/wall/100100#//evil.example",
            "/nowhere", "/wall/100100/../../x", "/wall/..", "/_dash-layout", "/assets/citywall.js"]
OWN = ["/", "/wall/100100", "/city?lang=en", "/district/100100", "/incidents"]


def test_the_parser_keeps_only_this_app_s_pages() -> None:
    for entry in OFF_SITE:
        assert links.own_path(entry) is None, entry
        assert parse_kiosk("1", "10", entry)["playlist"] == [], entry
    assert parse_kiosk("1", "10", ",".join(OFF_SITE + OWN))["playlist"] == OWN


def test_the_app_s_prefix_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(links, "_prefixed", lambda path: "/cw" + path)
    assert links.own_path("/cw/wall/100100") == "/cw/wall/100100" and links.own_path("/cw/") == "/cw/"
    assert links.own_path("/wall/100100") is None and links.own_path("/other/wall/100100") is None


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    url = f"sqlite:///{tmp_path_factory.mktemp('kiosk') / 'kiosk.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_small_city(engine)
    engine.dispose()
    yield create_app(Settings(database_url=url, feeder=False, refresh_s=1))


def _kiosk_store(node: object) -> dict | None:
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get("id") == KIOSK_STORE:
            return props["data"]
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _kiosk_store(child)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize("path", ["/", "/wall/100100"])
def test_the_rendered_wall_rotates_only_through_its_own_pages(app, path: str) -> None:
    client = app.server.test_client()
    playlist = ",".join([*OFF_SITE, "/wall/100200", "/"])
    reply = client.post("/_dash-update-component",
                        json=route_payload(app, path, f"?kiosk=1&rotate=10&playlist={quote(playlist)}"))
    assert reply.status_code == 200
    store = _kiosk_store(json.loads(reply.get_data(as_text=True)))
    assert store is not None and store["rotate_s"] == 10
    assert store["playlist"] == ["/wall/100200", "/"]
    # only off-site entries: the wall falls back to its own default rotation (walls of this city)
    reply = client.post("/_dash-update-component",
                        json=route_payload(app, path, f"?kiosk=1&rotate=10&playlist={quote('//evil.example/x')}"))
    store = _kiosk_store(json.loads(reply.get_data(as_text=True)))
    assert store["playlist"] == ["/", "/wall/100100", "/wall/100200"]
    assert "evil" not in reply.get_data(as_text=True)


@pytest.mark.browser
def test_the_wall_s_rotation_refuses_off_site_entries_in_chromium(dash_duo, tmp_path) -> None:
    """Defence in depth: even a forged kiosk store cannot send the wall off-site (assets/citywall.js)."""
    url = f"sqlite:///{tmp_path / 'k.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_small_city(engine)
    engine.dispose()
    dash_duo.start_server(create_app(Settings(database_url=url, feeder=False, refresh_s=1)))
    dash_duo.wait_for_page(f"{dash_duo.server_url}/?lang=en")
    dash_duo.wait_for_element("#connection-badge", timeout=15)
    result = dash_duo.driver.execute_script(
        "const k = window.dash_clientside.citywall.kiosk;"
        "const r = k({rotate_s: 10, playlist: arguments[0]});"
        "return [r === window.dash_clientside.no_update, window.__citywallRotate === undefined];",
        ["//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", "/\t/evil.example"])
    assert result == [True, True]
    assert "evil" not in dash_duo.driver.current_url
    assert dash_duo.get_logs() == []
