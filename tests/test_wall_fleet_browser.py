"""The wall fleet in Chromium (issue 15, item 4), against two real app processes sharing one Redis
(two hosts): three screens (a kiosk token's wall on one host, a ``?screen=`` wall and a district
page on the other) show on /walls as connected; one tab closes and /walls says it is gone within
three ticks while the other two stay connected; a wall's or a leader's principal is refused."""
from __future__ import annotations

import http.cookiejar
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
from selenium.common.exceptions import WebDriverException

import security
from tests.conftest import FleetApps

pytestmark = pytest.mark.browser  # every test here drives Chromium
REFRESH_S = 1.0
THREE_TICKS = 3 * REFRESH_S


def fleet_rows(browser) -> dict[str, str]:
    """What /walls shows now: {screen name: status}."""
    return browser.driver.execute_script(
        "const rows = {}; document.querySelectorAll('.cw-fleet__row').forEach(function (r) {"
        " rows[r.dataset.screen] = r.dataset.status; }); return rows;")


def wait_for_rows(browser, wanted: Callable[[dict[str, str]], bool], timeout: float) -> tuple[dict[str, str], float]:
    """Poll /walls until ``wanted(rows)``; (the rows, seconds it took)."""
    start = time.monotonic()
    rows: dict[str, str] = {}
    while time.monotonic() - start < timeout:
        rows = fleet_rows(browser)
        if wanted(rows):
            return rows, time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"/walls shows {rows} after {timeout} s")


def test_three_screens_then_one_closed_two_connected_and_one_gone(browser, second_browser,
                                                                   fleet_apps: FleetApps) -> None:
    first, second = fleet_apps.first, fleet_apps.second
    lobby = security.create_token(fleet_apps.users, name="lobby-east", scope="100100")  # a wall's kiosk token
    desk = security.create_token(fleet_apps.users, name="duty-desk", scope=None, role="supervisor")
    # screen 1: the kiosk token's wall, served by the second host
    second_browser.driver.get(f"{second.url}/wall/100100?kiosk=1&token={lobby}")
    second_browser.wait_for_element("#wall-strip .kpi", timeout=20)
    # screen 2: a wall named in its address; screen 3: a district page without ?screen= (first host)
    browser.driver.get(f"{first.url}/?screen=north-hall&token={desk}")
    browser.wait_for_element("#wall-strip .kpi", timeout=20)
    named = browser.driver.current_window_handle
    browser.driver.switch_to.new_window("window")
    browser.driver.get(f"{first.url}/district/100100")
    browser.wait_for_element(".leaflet-container", timeout=20)
    district = browser.driver.current_window_handle
    browser.driver.switch_to.new_window("window")
    browser.driver.get(f"{first.url}/walls?lang=en")  # the supervisor's fleet page (not a screen of the fleet)
    browser.wait_for_element(".cw-fleet__table", timeout=20)

    def three_connected(rows: dict[str, str]) -> bool:
        return len(rows) == 3 and set(rows.values()) == {"connected"}

    rows, _took = wait_for_rows(browser, three_connected, timeout=8 * REFRESH_S + 5)
    # the kiosk token's name; ?screen= (over the desk's token); the desk's token names the third
    assert set(rows) == {"lobby-east", "north-hall", "duty-desk"}
    unnamed = "duty-desk"
    cells = browser.driver.execute_script(
        "const out = {}; document.querySelectorAll('.cw-fleet__row').forEach(function (r) {"
        " out[r.dataset.screen] = Array.from(r.children).map(function (c) { return c.innerText; }); });"
        " return out;")
    assert cells["lobby-east"][2] == "/wall/100100" and cells["lobby-east"][4] == "yes"  # page, kiosk
    assert "East" in cells["lobby-east"][3] and "token" in cells["lobby-east"][1]
    assert cells["north-hall"][2] == "/" and cells["north-hall"][4] == "no"
    assert cells[unnamed][2] == "/district/100100"
    assert all(cell[5] != "—" and cell[6] != "—" for cell in cells.values())  # a tick applied, a version

    browser.driver.switch_to.window(named)
    browser.driver.close()  # the named wall's tab goes
    browser.driver.switch_to.window(browser.driver.window_handles[-1])
    rows, took = wait_for_rows(browser, lambda r: r.get("north-hall") == "gone", timeout=THREE_TICKS + 2)
    assert rows == {"lobby-east": "connected", "north-hall": "gone", unnamed: "connected"}
    assert took <= THREE_TICKS + 2  # within three ticks (plus the page's own tick and the browser's scheduling)
    time.sleep(THREE_TICKS + 1.5)  # and the others stay connected (their heartbeats go on, on both hosts)
    assert fleet_rows(browser) == {"lobby-east": "connected", "north-hall": "gone", unnamed: "connected"}
    # read in one script: the summary is rebuilt every tick (an element found a call earlier could be stale)
    assert browser.driver.execute_script("return document.querySelector('.cw-fleet__counts').dataset.connected;") == "2"
    assert browser.get_logs() == []
    assert second_browser.get_logs() == []
    browser.driver.switch_to.window(district)
    browser.driver.close()
    browser.driver.switch_to.window(browser.driver.window_handles[0])


def _session(app_url: str, token: str) -> urllib.request.OpenerDirector:
    """A client signed in with ``token`` (its session cookie)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{app_url}/?token={token}", timeout=10).read()
    return opener


def _status(opener: urllib.request.OpenerDirector, url: str, body: dict | None = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


FLEET_CALLBACK = {
    "output": "..cw-walls-summary.children...cw-walls-table.children...cw-walls-error.children..",
    "outputs": [{"id": "cw-walls-summary", "property": "children"}, {"id": "cw-walls-table", "property": "children"},
                {"id": "cw-walls-error", "property": "children"}],
    "inputs": [{"id": "cw-walls-interval", "property": "n_intervals", "value": 1}],
    "state": [{"id": "cw-walls-lang", "property": "data", "value": {"lang": "en"}}],
    "changedPropIds": ["cw-walls-interval.n_intervals"],
}


@pytest.mark.parametrize("role, scope", [("wall", None), ("leader", None), ("wall", "100100")])
def test_walls_refuses_a_wall_or_a_leader(browser, fleet_apps: FleetApps, role: str, scope: str | None) -> None:
    token = security.create_token(fleet_apps.users, name=f"refused-{role}-{scope or 'city'}", scope=scope, role=role)
    url = fleet_apps.first.url
    client = _session(url, token)
    assert _status(client, f"{url}/walls") == 403  # the page
    assert _status(client, f"{url}/_dash-update-component", FLEET_CALLBACK) == 403  # and its callback
    supervisor = _session(url, security.create_token(fleet_apps.users, name=f"allowed-{role}-{scope or 'city'}",
                                                     scope=None, role="supervisor"))
    assert _status(supervisor, f"{url}/walls") == 200
    assert _status(supervisor, f"{url}/_dash-update-component", FLEET_CALLBACK) == 200
    # in Chromium the wall's token sees the refusal block, not the fleet
    if role == "wall" and scope is None:
        browser.driver.get(f"{url}/walls?token={token}")
        browser.wait_for_element(".cw-refused", timeout=20)
        assert browser.find_elements(".cw-fleet__table") == []
        browser.driver.delete_all_cookies()
        # the one line the browser logs is the refusal's own status (403 for /walls), nothing else
        assert [entry["message"] for entry in browser.get_logs()] == [
            f"{url}/walls - Failed to load resource: the server responded with a status of 403 (FORBIDDEN)"]
    assert browser.get_logs() == []


def test_a_kiosk_wall_on_a_scenario_board_stays_in_the_fleet(browser, second_browser, fleet_apps: FleetApps) -> None:
    """A kiosk wall a takeover sent to its scenario board keeps beating there (its board's tick)."""
    token = security.create_token(fleet_apps.users, name="board-lobby", scope="100100")
    desk = security.create_token(fleet_apps.users, name="board-desk", scope=None, role="supervisor")
    second_browser.driver.get(f"{fleet_apps.second.url}/scenario/parade/100100?kiosk=1&screen=parade-hall&token={token}")
    second_browser.wait_for_element("#sb-status", timeout=20)
    browser.driver.get(f"{fleet_apps.first.url}/walls?lang=zh&token={desk}")
    browser.wait_for_element(".cw-fleet__table", timeout=20)
    wait_for_rows(browser, lambda rows: rows.get("parade-hall") == "connected", timeout=8 * REFRESH_S + 5)
    page = browser.driver.execute_script(
        "return document.querySelector('.cw-fleet__row[data-screen=\"parade-hall\"]').children[2].innerText;")
    assert page == "/scenario/parade/100100"
    assert browser.get_logs() == []
    assert second_browser.get_logs() == []


def fleet_row_list(browser) -> list[tuple[str, str]]:
    """Every row /walls shows now, duplicates kept: [(screen name, status)]."""
    return [tuple(r) for r in browser.driver.execute_script(
        "return Array.from(document.querySelectorAll('.cw-fleet__row')).map(function (r) {"
        " return [r.dataset.screen, r.dataset.status]; });")]


def test_a_wall_reloaded_or_restarted_stays_one_row(browser, second_browser, fleet_apps: FleetApps) -> None:
    """A wall reloaded twice, then its tab crashed (no goodbye) and opened again: /walls keeps one row for it."""
    desk = security.create_token(fleet_apps.users, name="reload-desk", scope=None, role="supervisor")
    wall = f"{fleet_apps.first.url}/wall/100100?screen=reload-hall&token={desk}"
    second_browser.driver.get(wall)
    second_browser.wait_for_element("#wall-strip .kpi", timeout=20)
    browser.driver.get(f"{fleet_apps.second.url}/walls?lang=en&token={desk}")
    browser.wait_for_element(".cw-fleet__table", timeout=20)
    wait_for_rows(browser, lambda rows: rows.get("reload-hall") == "connected", timeout=8 * REFRESH_S + 5)
    for _ in range(2):
        second_browser.driver.refresh()
        second_browser.wait_for_element("#wall-strip .kpi", timeout=20)
    time.sleep(THREE_TICKS + 1.5)  # long enough for a row left behind to say OFFLINE or gone
    assert [r for r in fleet_row_list(browser) if r[0] == "reload-hall"] == [("reload-hall", "connected")]
    # the wall's tab crashed (no pagehide: no goodbye, no handover) and the wall was opened again in a new
    # window (a new sessionStorage), as a kiosk's watchdog or a restarted browser does
    screen_id = "return window.citywallFleet.current().id;"
    before = second_browser.driver.execute_script(screen_id)
    crashed = second_browser.driver.current_window_handle
    second_browser.driver.switch_to.new_window("window")
    again = second_browser.driver.current_window_handle
    second_browser.driver.switch_to.window(crashed)
    try:
        second_browser.driver.execute_cdp_cmd("Page.crash", {})
    except WebDriverException:
        pass  # (the command's own answer is lost with the page)
    second_browser.driver.switch_to.window(again)
    time.sleep(3.5)  # the crashed tab's lease in localStorage lapses (assets/fleet.js LEASE_MS)
    second_browser.driver.get(wall)
    second_browser.wait_for_element("#wall-strip .kpi", timeout=20)
    assert second_browser.driver.execute_script(screen_id) == before  # the screen took its id back
    time.sleep(THREE_TICKS + 1.5)
    assert [r for r in fleet_row_list(browser) if r[0] == "reload-hall"] == [("reload-hall", "connected")]
    assert browser.get_logs() == []
    assert second_browser.get_logs() == []
    second_browser.driver.switch_to.window(crashed)
    try:
        second_browser.driver.close()
    except WebDriverException:
        pass  # a crashed tab may refuse the command and still be gone
    second_browser.driver.switch_to.window(again)
