"""Authentication, roles and area scopes against the real app (Flask's test client, a real SQLite
database, Dash's real callback endpoint): URL editing and forged /_dash-update-component requests
naming another district get a refusal and no data; kiosk tokens; header mode; security headers;
the startup check that refuses auth with the default secret key."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import flask
import pytest

import security
from app import create_app
from data_access.db import init_db, make_engine
from data_access.models import Area
from data_access.settings import Settings
from pages._runtime import current_runtime
from tests.conftest import PROJECT_ROOT
from tests.fixtures import seed_small_city

SECRET = "3f9a1c7e5b2d8046a1e9c3b7d5f20864"  # 32 hex characters, as `secrets.token_hex(16)` makes
EAST, WEST, EAST_STREET, WEST_STREET, CITY = "100100", "100200", "100100001", "100200001", "100000"
WEST_WORDS = ("西区", "丙街道", "West", "Bing", "i8")  # anything that would show the west's data


# --- helpers shared with the fuzz tests ---------------------------------------------------------

def _concrete(ident: str, key: str) -> object:
    try:
        obj = json.loads(ident)
    except ValueError:
        return ident
    return {k: (key if v == ["MATCH"] else v) for k, v in obj.items()}


def callback_payload(app, marker: str, values: dict[str, object], *, key: str = "district",
                     all_ids: dict[str, list[str]] | None = None) -> dict:
    """The body the Dash renderer would POST for the callback whose output key contains ``marker``:
    ``values`` maps an input/state id (its "type" for pattern-matching ids) to the value sent;
    ``all_ids`` gives the concrete ids of ALL outputs (by type)."""
    if not any(marker in k for k in app.callback_map):
        app.server.test_client().get("/_dash-dependencies")  # the first request registers the callbacks
    cb_key = next(k for k in app.callback_map if marker in k)
    spec = app.callback_map[cb_key]
    outputs = []
    for part in cb_key.strip(".").split("..."):
        ident, prop = part.rsplit(".", 1)
        obj = _concrete(ident, key)
        if isinstance(obj, dict) and obj.get("id") == ["ALL"]:
            outputs.append([{"id": {**obj, "id": i}, "property": prop}
                            for i in (all_ids or {}).get(obj["type"], [])])
        else:
            outputs.append({"id": obj, "property": prop})

    def item(entry: dict) -> dict:
        obj = _concrete(entry["id"], key)
        name = obj["type"] if isinstance(obj, dict) else obj
        value = values.get(f"{name}.{entry['property']}", values.get(name))
        return {"id": obj, "property": entry["property"], "value": value}

    inputs = [item(i) for i in spec["inputs"]]
    first = inputs[0]["id"]
    changed = f"{json.dumps(first) if isinstance(first, dict) else first}.{inputs[0]['property']}"
    return {"output": cb_key, "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": inputs,
            "state": [item(s) for s in spec.get("state", [])], "changedPropIds": [changed]}


def route_payload(app, path: str, search: str = "") -> dict:
    return callback_payload(app, "_pages_content", {"_pages_location.pathname": path,
                                                    "_pages_location.search": search})


def wall_payload(app, area_code: object, level: object = "district", n: int = 1) -> dict:
    return callback_payload(app, "wall-delta.data", {"wall-poll": n, "wall-scope": {
        "area_code": area_code, "level": level, "lang": "zh"}, "wall-applied": {}})


def panels_payload(app, area_code: object, level: str = "district") -> dict:
    return callback_payload(app, "cw-lvl-funnel", {"cw-tick": 1, "cw-map-scope": {
        "area_code": area_code, "level": level, "lang": "zh"}})


def rows_payload(app, area_code: object, level: str = "district", **filters: object) -> dict:
    values: dict[str, object] = {"cw-grid.getRowsRequest": {"startRow": 0, "endRow": 100, "sortModel": []},
                                 "cw-list-scope": {"area_code": area_code, "level": level, "lang": "zh"},
                                 "cw-list-overdue": "any"}
    values.update(filters)
    return callback_payload(app, "cw-grid", values)


def export_payload(app, area_code: object, level: str = "district") -> dict:
    return callback_payload(app, "cw-list-download", {
        "cw-list-export": 1, "cw-list-overdue": "any",
        "cw-list-scope": {"area_code": area_code, "level": level, "lang": "zh"}})


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# --- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def city_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('sec') / 'sec.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_small_city(engine)
    engine.dispose()
    yield url


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.json"
    security.add_user(path, name="east_sup", password="east-pass", role="supervisor", scope=EAST)
    security.add_user(path, name="west_leader", password="west-pass", role="leader", scope=WEST)
    security.add_user(path, name="chief", password="chief-pass", role="admin", scope=None)
    security.add_user(path, name="proxy_east", password=None, role="leader", scope=EAST)
    return path


@pytest.fixture(scope="module")
def settings(city_url: str, users_file: Path) -> Settings:
    return Settings(database_url=city_url, feeder=False, refresh_s=1, auth="basic", users_file=users_file,
                    secret_key=SECRET)


@pytest.fixture(scope="module")
def app(settings: Settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.server.test_client()


EAST_AUTH = basic("east_sup", "east-pass")


def _no_west_data(body: bytes) -> None:
    text = body.decode("utf-8", "replace")
    for word in WEST_WORDS:
        # whole words only: the page's random tokens (CSRF, build hashes) may hold "i8" by chance
        assert not re.search(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", text), word
    assert "Traceback" not in text


# --- authentication -----------------------------------------------------------------------------

def test_basic_auth_is_required(client, app) -> None:
    reply = client.get("/")
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get("/", headers=basic("east_sup", "wrong")).status_code == 401
    assert client.get("/", headers=basic("nobody", "east-pass")).status_code == 401
    assert client.post("/_dash-update-component", json=wall_payload(app, EAST)).status_code == 401
    assert client.get("/district/100100", headers=EAST_AUTH).status_code == 200


def test_failed_sign_ins_are_throttled_per_user_and_per_address(settings: Settings, caplog) -> None:
    """Past 5 failures a user, past 20 an address, is refused (429) before any password is hashed:
    the right password right after a guessing run is refused too (issue 12, item 5)."""
    app = create_app(settings)  # its own throttle: the module's app keeps serving the other tests
    client = app.server.test_client()

    def get(path: str, headers: dict, address: str):
        return client.get(path, headers=headers, environ_base={"REMOTE_ADDR": address})

    caplog.set_level("WARNING", logger="security")
    for _ in range(5):
        assert get("/district/100100", basic("east_sup", "wrong"), "192.0.2.1").status_code == 401
    locked = get("/district/100100", EAST_AUTH, "192.0.2.2")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "WWW-Authenticate" not in locked.headers and "east" not in locked.get_data(as_text=True)
    assert get("/district/100200", basic("west_leader", "west-pass"), "192.0.2.3").status_code == 200  # others
    for i in range(20):
        assert get("/", basic(f"guess{i}", "x"), "198.51.100.7").status_code == 401
    assert get("/city", basic("chief", "chief-pass"), "198.51.100.7").status_code == 429  # the address is locked
    assert get("/city", basic("chief", "chief-pass"), "198.51.100.8").status_code == 200
    assert "failed sign-in for user 'east_sup' from 192.0.2.1" in caplog.text


def test_own_district_pages_and_data(client, app) -> None:
    for path in ("/district/100100", "/street/100100001", "/wall/100100", "/?scope=100100", "/"):
        assert client.get(path, headers=EAST_AUTH).status_code == 200, path
    page = client.post("/_dash-update-component", json=route_payload(app, "/district/100100"), headers=EAST_AUTH)
    assert page.status_code == 200 and "东区" in page.get_data(as_text=True)
    # "/" for a scoped user is their own wall, not the city's
    home = client.post("/_dash-update-component", json=route_payload(app, "/"), headers=EAST_AUTH)
    assert '"area_code": "100100"' in home.get_data(as_text=True).replace('":"', '": "')
    rows = client.post("/_dash-update-component", json=rows_payload(app, EAST), headers=EAST_AUTH)
    assert rows.status_code == 200
    data = rows.get_json()["response"]
    grid = next(v for k, v in data.items() if "cw-grid" in k)["getRowsResponse"]
    assert sorted(r["incident_id"] for r in grid["rowData"]) == ["i1", "i2", "i3"]  # the east's open cases only


@pytest.mark.parametrize("path", ["/district/100200", "/street/100200001", "/wall/100200", "/?scope=100200",
                                  "/city", "/incidents", "/vitals?area=100200", "/wall/100000"])
def test_editing_the_url_gets_a_refusal_and_no_data(client, app, path: str) -> None:
    reply = client.get(path, headers=EAST_AUTH)
    assert reply.status_code == 403
    _no_west_data(reply.data)
    pathname, _, search = path.partition("?")
    page = client.post("/_dash-update-component", json=route_payload(app, pathname, "?" + search if search else ""),
                       headers=EAST_AUTH)
    assert page.status_code == 200  # the routing callback renders the refusal block, never the page
    text = page.get_data(as_text=True)
    assert "cw-refused" in text and "无权查看" in text
    _no_west_data(page.data)


@pytest.mark.parametrize("build", [
    lambda app: wall_payload(app, WEST),
    lambda app: wall_payload(app, CITY, "city"),
    lambda app: wall_payload(app, None),
    lambda app: panels_payload(app, WEST),
    lambda app: panels_payload(app, WEST_STREET, "street"),
    lambda app: rows_payload(app, WEST),
    lambda app: rows_payload(app, None, "city"),  # "the whole city" is outside a district scope too
    lambda app: rows_payload(app, EAST, "city"),  # an own code with a widening level
    lambda app: rows_payload(app, "1' OR '1'='1"),
    lambda app: callback_payload(app, "cw-map-sig", {"cw-tick": 1, "cw-map-sig": "",
                                                     "cw-map-scope": {"area_code": WEST, "level": "district"}}),
    lambda app: callback_payload(app, "cw-map-cells", {"cw-map-missing": ["c4"],
                                                       "cw-map-scope": {"area_code": WEST, "level": "district"}}),
], ids=["wall-west", "wall-city", "wall-none", "panels-west", "panels-west-street", "list-west", "list-city",
        "list-widened", "list-injection", "map-west", "cells-west"])
def test_forged_callbacks_naming_another_area_get_403(client, app, build) -> None:
    reply = client.post("/_dash-update-component", json=build(app), headers=EAST_AUTH)
    assert reply.status_code == 403
    assert reply.get_json() == {"error": "forbidden"}
    _no_west_data(reply.data)


def test_the_data_layer_refuses_even_without_the_request_hook(app) -> None:
    """The hook is one line of defence; the reads themselves check the scope too."""
    from data_access.readers.wall import read_wall
    from pages._incident_list import make_filter
    from pages._level import panels

    def wall_snapshot(*, runtime, area):  # noqa: ANN001, ANN202 - the reader, for the request's principal
        return read_wall(runtime=runtime, scope=security.current_principal().scope, code=area.area_code)

    def load_panels(*, runtime, area):  # noqa: ANN001, ANN202
        return panels(runtime, area)

    west = Area(area_code=WEST, level="district", parent_code=CITY, name="", name_en=None, center_lat=None,
                center_lon=None)
    with app.server.test_request_context("/"):
        flask.g.cw_principal = security.Principal("east_sup", "supervisor", EAST, "basic")
        runtime = current_runtime()
        with pytest.raises(PermissionError):
            wall_snapshot(runtime=runtime, area=west)
        with pytest.raises(PermissionError):
            load_panels(runtime=runtime, area=west)
        with pytest.raises(PermissionError):
            make_filter({"level": "street", "area_code": WEST_STREET}, None, None, None, None, None)
        with pytest.raises(PermissionError):
            make_filter({"level": "bogus", "area_code": EAST}, None, None, None, None, None)  # would be city-wide
        east = replace(west, area_code=EAST)
        assert wall_snapshot(runtime=runtime, area=east).area.area_code == EAST
        assert make_filter({"level": "district", "area_code": EAST}, None, None, None, None, None).area_code == EAST


def test_roles(client, app) -> None:
    leader = basic("west_leader", "west-pass")
    assert client.get("/district/100200", headers=leader).status_code == 200
    # exporting the list is for supervisors
    assert client.post("/_dash-update-component", json=export_payload(app, WEST), headers=leader).status_code == 403
    export = client.post("/_dash-update-component", json=export_payload(app, EAST), headers=EAST_AUTH)
    assert export.status_code == 200 and "i1" in export.get_data(as_text=True)
    chief = basic("chief", "chief-pass")
    for path in ("/city", "/incidents", "/district/100200", "/wall/100100"):
        assert client.get(path, headers=chief).status_code == 200, path
    assert client.post("/_dash-update-component", json=wall_payload(app, WEST), headers=chief).status_code == 200


def test_kiosk_tokens_are_bound_to_a_scope_and_revocable(app, settings: Settings) -> None:
    token = security.create_token(settings.users_file, name="lobby-east", scope=EAST)
    stored = settings.users_file.read_text()
    assert token not in stored and security.token_hash(token) in stored  # only the hash is kept
    client = app.server.test_client()
    login = client.get(f"/wall/100100?kiosk=1&token={token}")
    assert login.status_code == 302 and login.headers["Location"] == "/wall/100100?kiosk=1"  # token gone from the URL
    assert client.get("/wall/100100?kiosk=1").status_code == 200  # the session cookie carries on
    tick = client.post("/_dash-update-component", json=wall_payload(app, EAST))
    assert tick.status_code == 200 and tick.get_json()["response"]["status-store"]["data"]["ok"] is True
    assert client.get("/wall/100200").status_code == 403
    assert client.post("/_dash-update-component", json=wall_payload(app, WEST)).status_code == 403
    assert client.get("/district/100100").status_code == 403  # a wall token opens walls only
    # the incident-only wall refreshes its panels and map through the level pages' callbacks (declared "wall")
    assert client.post("/_dash-update-component", json=panels_payload(app, EAST)).status_code == 200
    assert client.post("/_dash-update-component", json=panels_payload(app, WEST)).status_code == 403
    assert client.post("/_dash-update-component", json=rows_payload(app, EAST)).status_code == 403  # lists: leader
    assert client.get("/wall/100100?token=cw_not-a-token").status_code == 401
    assert security.revoke_token(settings.users_file, name="lobby-east")
    assert client.get("/wall/100100").status_code == 401  # revoked: locked out on the next request
    assert client.post("/_dash-update-component", json=wall_payload(app, EAST)).status_code == 401
    assert app.server.test_client().get(f"/wall/100100?token={token}").status_code == 401


def test_a_revoked_tokens_cookie_stays_dead_when_its_name_is_given_again(app, settings: Settings) -> None:
    """The session names the token's own id, not its name: re-creating "lobby" as a city-wide admin
    brings no old wall cookie back to life (issue 12, item 1)."""
    token = security.create_token(settings.users_file, name="lobby-reused", scope=EAST)
    old_wall = app.server.test_client()
    assert old_wall.get(f"/wall/100100?token={token}").status_code == 302
    assert old_wall.get("/wall/100100").status_code == 200
    assert security.revoke_token(settings.users_file, name="lobby-reused")
    with pytest.raises(security.SettingsError, match="revoked"):  # never reused silently
        security.create_token(settings.users_file, name="lobby-reused", scope=None, role="admin")
    new = security.create_token(settings.users_file, name="lobby-reused", scope=None, role="admin", replace=True)
    assert old_wall.get("/city").status_code == 401
    assert old_wall.post("/_dash-update-component", json=export_payload(app, WEST)).status_code == 401
    fresh = app.server.test_client()
    assert fresh.get(f"/city?token={new}").status_code == 302 and fresh.get("/city").status_code == 200


def test_sessions_are_secure_over_https_end_for_idle_people_and_can_be_signed_out(app, settings: Settings) -> None:
    """Issue 12, item 15: the cookie is Secure over HTTPS; a person's token session ends after 12 h
    unused while a wall's does not; anyone can sign out."""
    import time as _time

    desk = security.create_token(settings.users_file, name="desk-session", scope=None, role="admin")
    wall = security.create_token(settings.users_file, name="wall-session", scope=EAST)
    person = app.server.test_client()
    login = person.get(f"/city?token={desk}", base_url="https://citywall.example.org")
    assert login.status_code == 302 and "Secure" in login.headers["Set-Cookie"]
    assert "Secure" not in app.server.test_client().get(f"/wall/100100?token={wall}").headers["Set-Cookie"]
    screen = app.server.test_client()
    assert screen.get(f"/wall/100100?token={wall}").status_code == 302
    https = "https://citywall.example.org"
    assert person.get("/city", base_url=https).status_code == 200
    for client, base in ((person, https), (screen, "http://localhost")):
        with client.session_transaction(base_url=base) as session:
            session["cw_seen"] = int(_time.time()) - 13 * 3600
    assert person.get("/city", base_url=https).status_code == 401  # the desk's session lapsed
    assert screen.get("/wall/100100").status_code == 200  # the wall keeps going
    assert screen.get("/_citywall/sign-out").status_code == 200
    assert screen.get("/wall/100100").status_code == 401
    secure_app = create_app(replace(settings, cookie_secure=True))  # TLS ends at the proxy
    reply = secure_app.server.test_client().get(f"/wall/100100?token={wall}")
    assert "Secure" in reply.headers["Set-Cookie"]


def test_a_wall_signs_in_without_its_token_in_any_request_line_or_log(app, settings: Settings, caplog) -> None:
    """Issue 12, item 7: /_citywall/kiosk#token=… (a fragment never reaches the server) trades the token
    for the session by POST; no password prompt on the way; access logs redact a token in an address."""
    import logging

    token = security.create_token(settings.users_file, name="fragment-wall", scope=EAST)
    screen = app.server.test_client()
    page = screen.get("/_citywall/kiosk")
    assert page.status_code == 200 and "WWW-Authenticate" not in page.headers and "_citywall/kiosk.js" in page.text
    script = screen.get("/_citywall/kiosk.js")
    assert script.status_code == 200 and "location.hash" in script.text and "history.replaceState" in script.text
    assert screen.post("/_citywall/kiosk", json={"token": "cw_wrong"}).status_code == 401
    assert screen.post("/_citywall/kiosk", data=f"token={token}").status_code == 401  # a cross-site form: no JSON
    assert screen.post("/_citywall/kiosk", json={"token": token}, headers={"Origin": "https://evil.example"}
                       ).status_code == 403
    assert screen.get("/wall/100100").status_code == 401
    assert screen.post("/_citywall/kiosk", json={"token": token}).status_code == 200
    assert screen.get("/wall/100100").status_code == 200
    caplog.set_level("INFO", logger="werkzeug")
    line = f"GET /wall/100100?kiosk=1&token={token} HTTP/1.1"
    logging.getLogger("werkzeug").info('%s - - "%s" %s -', "127.0.0.1", line, "302")  # werkzeug's own format
    assert token not in caplog.text and "token=…" in caplog.text


def test_header_mode_trusts_the_proxy_user(settings: Settings) -> None:
    app = create_app(replace(settings, auth="header", auth_header="X-Remote-User", trusted_proxies=("127.0.0.1/32",)))
    client = app.server.test_client()
    assert client.get("/district/100100").status_code == 401
    assert client.get("/district/100100", headers={"X-Remote-User": "proxy_east"}).status_code == 200
    assert client.get("/district/100200", headers={"X-Remote-User": "proxy_east"}).status_code == 403
    assert client.get("/district/100100", headers={"X-Remote-User": "mallory"}).status_code == 403
    forged = client.post("/_dash-update-component", json=panels_payload(app, WEST),
                         headers={"X-Remote-User": "proxy_east"})
    assert forged.status_code == 403


def test_security_headers(client, settings: Settings) -> None:
    reply = client.get("/district/100100", headers=EAST_AUTH)
    headers = reply.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'self'" in csp
    assert "'unsafe-eval'" not in csp and "script-src 'self' 'sha256-" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    framed = create_app(replace(settings, auth="off", frame_ancestors="'self' https://controller.example.org"))
    reply = framed.server.test_client().get("/")
    assert "frame-ancestors 'self' https://controller.example.org" in reply.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in reply.headers


def test_header_mode_needs_proof_that_the_request_came_through_the_proxy(settings: Settings) -> None:
    """A client that reaches the app directly cannot name a user (issue 12, item 6)."""
    secret = "0c6e2a8f4b1d9e7a3c5f0b2d8e4a6c1f"
    app = create_app(replace(settings, auth="header", proxy_secret=secret))
    client = app.server.test_client()
    chief = {"X-Forwarded-User": "chief"}
    assert client.get("/city", headers=chief).status_code == 403  # straight at the app: no secret
    assert client.get("/city", headers={**chief, "X-CityWall-Proxy-Secret": "guess"}).status_code == 403
    assert client.get("/city", headers={**chief, "X-CityWall-Proxy-Secret": secret}).status_code == 200
    by_address = create_app(replace(settings, auth="header", trusted_proxies=("10.9.8.7/32",))).server.test_client()
    assert by_address.get("/city", headers=chief).status_code == 403  # 127.0.0.1 is not the proxy
    assert by_address.get("/city", headers=chief, environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200
    with pytest.raises(security.SettingsError, match="CITYWALL_PROXY_SECRET"):
        create_app(replace(settings, auth="header"))  # no proof configured: refused at start-up


@pytest.mark.parametrize("env, needle", [
    ({"CITYWALL_AUTH": "basic"}, "CITYWALL_SECRET_KEY"),
    ({"CITYWALL_AUTH": "basic", "CITYWALL_SECRET_KEY": "change-me"}, "CITYWALL_SECRET_KEY"),
    # long but guessable (issue 12, item 14)
    ({"CITYWALL_AUTH": "basic", "CITYWALL_SECRET_KEY": "a" * 40}, "CITYWALL_SECRET_KEY"),
    ({"CITYWALL_AUTH": "basic", "CITYWALL_SECRET_KEY": "0" * 40}, "CITYWALL_SECRET_KEY"),
    ({"CITYWALL_AUTH": "basic", "CITYWALL_SECRET_KEY": "change-me-" * 4}, "CITYWALL_SECRET_KEY"),
    ({"CITYWALL_AUTH": "basic", "CITYWALL_SECRET_KEY": "abcdefghijkl" * 3}, "CITYWALL_SECRET_KEY"),
    ({"CITYWALL_AUTH": "header", "CITYWALL_SECRET_KEY": SECRET, "CITYWALL_USERS_FILE": "/nonexistent/u.json",
      "CITYWALL_TRUSTED_PROXIES": "127.0.0.1"}, "CITYWALL_USERS_FILE"),
    ({"CITYWALL_AUTH": "header", "CITYWALL_SECRET_KEY": SECRET, "CITYWALL_HOST": "0.0.0.0"}, "CITYWALL_PROXY_SECRET"),
    ({"CITYWALL_DEBUG": "1", "CITYWALL_HOST": "0.0.0.0"}, "CITYWALL_DEBUG"),
])
@pytest.mark.parametrize("entry", ["python app.py", "gunicorn app:server"])
def test_unsafe_configuration_is_refused_at_startup(tmp_path: Path, env: dict, needle: str, entry: str) -> None:
    code = "import app; app.server" if entry.startswith("gunicorn") else None  # what gunicorn does first
    argv = [sys.executable, "-c", code] if code else [sys.executable, "app.py"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYWALL_")}
    result = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, env={
        **clean, "CITYWALL_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "CITYWALL_FEEDER": "0", **env})
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_token_and_user_commands(tmp_path: Path) -> None:
    users = tmp_path / "users.json"

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "cli.py", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=60, input=stdin)

    made = cli("token", "create", "--users-file", str(users), "--name", "hall", "--scope", EAST)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("cw_") and token not in users.read_text()
    listed = cli("token", "list", "--users-file", str(users))
    assert '"name": "hall"' in listed.stdout and token not in listed.stdout
    assert cli("token", "create", "--users-file", str(users), "--name", "hall").returncode == 2  # still active
    assert cli("token", "revoke", "--users-file", str(users), "hall").returncode == 0
    assert '"revoked": "20' in cli("token", "list", "--users-file", str(users)).stdout
    added = cli("user", "add", "ann", "--users-file", str(users), "--role", "leader", "--scope", WEST,
                "--password-stdin", stdin="pw-ann\n")
    assert added.returncode == 0, added.stderr
    record = json.loads(users.read_text())["users"]["ann"]
    assert record["role"] == "leader" and record["scope"] == WEST and "pw-ann" not in users.read_text()
    bad = cli("user", "add", "bob", "--users-file", str(users), "--role", "leader", "--scope", "x y",
              "--no-password")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_every_page_declares_its_access_and_an_undeclared_callback_is_refused(settings: Settings) -> None:
    """Access is declared where a page or callback is defined; what declares nothing is refused to everyone."""
    import dash
    from dash import Input, Output

    app = create_app(settings)
    assert dash.page_registry, "no pages registered"
    for module, page in dash.page_registry.items():
        assert security.PageAccess.of(page) is not None, f"{module} declares no min_role"
    app.callback(Output("cw-undeclared-out", "children"), Input("cw-undeclared-in", "n_clicks"))(
        lambda _n: "west data")
    client = app.server.test_client()
    reply = client.post("/_dash-update-component", json=callback_payload(app, "cw-undeclared-out",
                                                                         {"cw-undeclared-in": 1}),
                        headers=basic("chief", "chief-pass"))  # even a city-wide admin
    assert reply.status_code == 403 and "west data" not in reply.get_data(as_text=True)
    declared = client.post("/_dash-update-component", json=wall_payload(app, EAST), headers=EAST_AUTH)
    assert declared.status_code == 200
