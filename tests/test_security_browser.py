"""Security in Chromium, against the real app with CITYWALL_AUTH=basic: every page renders under the
Content-Security-Policy with no violation (reported by the browser itself), and a wall signed in
with a district's kiosk token shows its own wall and a refusal, without data, for another one."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import security
from data_access.db import init_db, make_engine
from tests.conftest import AppProcess, pin_viewport
from tests.fixtures import seed_small_city

pytestmark = pytest.mark.browser  # every test here drives Chromium
SECRET = "3f9a1c7e5b2d8046a1e9c3b7d5f20864"  # 32 hex characters, as `secrets.token_hex(16)` makes
REPORT_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || ''));
});
"""
PAGES = [("/", "#wall-strip .kpi"), ("/city", ".leaflet-container"), ("/district/100100", ".leaflet-container"),
         ("/street/100100001", ".cw-kpis .kpi"), ("/incidents", ".ag-row"),
         ("/vitals?indicator=aqi&range=24h", ".vx-graph .main-svg"), ("/nowhere", ".not-found")]


class AuthAppProcess(AppProcess):
    """AppProcess whose readiness probe accepts the 401 an authenticated app gives a stranger."""

    ready_status = 401


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("busers") / "users.json"


@pytest.fixture(scope="module")
def app_process(tmp_path_factory: pytest.TempPathFactory, users: Path) -> Iterator[AppProcess]:
    path = tmp_path_factory.mktemp("bsec") / "bsec.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    seed_small_city(engine)
    engine.dispose()
    security.add_user(users, name="chief", password="chief-pass", role="admin", scope=None)
    proc = AuthAppProcess({"CITYWALL_DATABASE_URL": f"sqlite:///{path}", "CITYWALL_REFRESH_S": "1",
                       "CITYWALL_FEEDER": "0", "CITYWALL_LANG": "zh", "CITYWALL_AUTH": "basic",
                       "CITYWALL_USERS_FILE": str(users), "CITYWALL_SECRET_KEY": SECRET})
    proc.start()
    yield proc
    proc.stop()


def _sign_in(browser, app_process: AppProcess, token: str, path: str) -> None:
    browser.driver.delete_all_cookies()
    browser.driver.get(f"{app_process.url}{path}{'&' if '?' in path else '?'}token={token}")


def test_every_page_renders_under_the_csp(browser, app_process: AppProcess, users: Path) -> None:
    browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": REPORT_CSP})
    token = security.create_token(users, name="supervisor-desk", scope=None, role="admin")
    _sign_in(browser, app_process, token, "/")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    assert "token=" not in browser.driver.current_url
    browser.get_logs()
    for path, ready in PAGES:
        browser.driver.get(app_process.url + path)
        browser.wait_for_element(ready, timeout=20)
        if path == "/incidents":  # the list's grid and the map: select a row, the map highlights it
            browser.find_element(".ag-row").click()
        browser.driver.implicitly_wait(0)
        violations = browser.driver.execute_script("return window.__csp;")
        assert violations == [], (path, violations)
        logs = [e for e in browser.get_logs() if "status of 404" not in e["message"] or path != "/nowhere"]
        assert logs == [], (path, logs)


def test_a_district_kiosk_token_sees_its_own_wall_only(browser, app_process: AppProcess, users: Path) -> None:
    token = security.create_token(users, name="east-lobby", scope="100100")
    _sign_in(browser, app_process, token, "/wall/100100?kiosk=1")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    assert browser.find_element(".status-bar h1").text == "东区"
    browser.wait_for_text_to_equal('[data-indicator="power_load"] .tile__number', "130", timeout=10)
    for path in ("/wall/100200", "/district/100100", "/?scope=100000"):
        browser.driver.get(app_process.url + path)
        browser.wait_for_contains_text(".cw-refused", "无权查看", timeout=10)
        text = browser.find_element("body").text
        assert "西区" not in text and "90" not in text and "Traceback" not in text, (path, text)
    browser.driver.get(app_process.url + "/")  # "/" is the token's own wall
    browser.wait_for_text_to_equal(".status-bar h1", "东区", timeout=15)
    security.revoke_token(users, name="east-lobby")
    browser.driver.refresh()  # revoked: the wall's session opens nothing, and says why
    browser.wait_for_contains_text("h1", "401", timeout=10)
    assert "revoked" in browser.find_element("body").text and "东区" not in browser.driver.page_source


# Every reply to the Dash renderer's callback requests, as the page saw it: (output, HTTP status).
RECORD_CALLBACKS = """
(function () {
  if (window.__callbacks) { return; }  // added once per test: one recorder per document
  window.__callbacks = [];
  const send = window.fetch;
  window.fetch = function (resource, init) {
    const url = typeof resource === 'string' ? resource : resource.url;
    let output = null;
    try { output = JSON.parse(init && init.body).output; } catch (e) { output = null; }
    return send.apply(this, arguments).then(function (reply) {
      if (url.indexOf('_dash-update-component') >= 0) { window.__callbacks.push([output, reply.status]); }
      if (reply.headers.get('WWW-Authenticate')) { window.__prompts = (window.__prompts || []).concat([url]); }
      return reply;
    });
  };
})();
"""


def _callbacks(browser) -> list[tuple[str, int]]:
    return [tuple(c) for c in browser.driver.execute_script("return window.__callbacks || [];")]


def _failed_responses(browser) -> list[tuple[str, int]]:
    """Every response of the page (documents, scripts, callbacks) with a status of 400 or more."""
    return [tuple(e) for e in browser.driver.execute_script(
        "return performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))"
        ".filter(function (e) { return e.responseStatus >= 400; })"
        ".map(function (e) { return [e.name, e.responseStatus]; });")]


def test_a_district_kiosk_wall_refreshes_its_wall_and_map_without_a_refusal(
        browser, app_process: AppProcess, users: Path) -> None:
    """The wall's own map ticks are the wall's: a kiosk token gets every one of them (no 403, no console error)."""
    pin_viewport(browser.driver)  # the default already; explicit, as the test asserts the size
    browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CALLBACKS})
    browser.get_logs()  # the module's browser: what earlier tests logged is theirs
    token = security.create_token(users, name="east-hall", scope="100100")
    _sign_in(browser, app_process, token, "/wall/100100?kiosk=1")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    assert browser.driver.execute_script("return window.innerWidth + 'x' + window.innerHeight;") == "1920x1080"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen = _callbacks(browser)
        # the wall's ticks: its polls, or the messages of its push stream (pages/_push.py)
        walls = [s for o, s in seen if o and "status-store" in o] + [200] * browser.driver.execute_script(
            "return (window.citywallPush || {}).received || 0;")
        # the map's ticks: its polls, or its counts on the wall's stream (pages/_push_map.py)
        maps = [s for o, s in seen if o and "cw-map-sig" in o] + [200] * browser.driver.execute_script(
            "return (((window.citywallMapPush || {}).maps || {}).wall || {}).received || 0;")
        if len(walls) >= 2 and len(maps) >= 2:
            break
        time.sleep(0.5)
    assert len(walls) >= 2 and len(maps) >= 2, seen  # two wall ticks and two map ticks
    assert [c for c in seen if c[1] >= 400] == [], seen
    assert _failed_responses(browser) == []
    assert browser.get_logs() == []


def _after_ticks(browser, ticks: int = 2, limit_s: float = 2.5) -> None:
    """Until the page's own refreshes ran ``ticks`` times (a callback answered once more than that, or
    as many push messages), at most ``limit_s`` (a page that refreshes slower is checked then)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        answered = Counter(output for output, _status in _callbacks(browser))
        pushed = browser.driver.execute_script("return (window.citywallPush || {}).received || 0;")
        if max(answered.values(), default=0) > ticks or pushed >= ticks:
            return
        time.sleep(0.2)


def _as_user(browser, app_process: AppProcess, name: str, password: str) -> None:
    import base64

    browser.driver.delete_all_cookies()
    browser.driver.execute_cdp_cmd("Network.enable", {})
    credentials = base64.b64encode(f"{name}:{password}".encode()).decode()
    browser.driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                                   {"headers": {"Authorization": f"Basic {credentials}"}})


LEADER_PAGES = [("/", "#wall-strip .kpi"), ("/wall/100100", "#wall-strip .kpi"),
                ("/district/100100", ".leaflet-container"), ("/street/100100001", ".cw-kpis .kpi"),
                ("/vitals?indicator=aqi&range=24h&area=100100", ".vx-graph .main-svg")]
SUPERVISOR_PAGES = [*LEADER_PAGES, ("/city", ".leaflet-container"), ("/incidents", ".ag-row"),
                    ("/district/100200", ".leaflet-container"), ("/wall/100200", "#wall-strip .kpi")]


@pytest.mark.parametrize("role, scope, pages", [("leader", "100100", LEADER_PAGES),
                                                ("supervisor", None, SUPERVISOR_PAGES)])
def test_leaders_and_supervisors_open_every_page_they_may_without_a_refusal(
        browser, app_process: AppProcess, users: Path, role: str, scope: str | None, pages: list) -> None:
    name = f"browser_{role}"
    security.add_user(users, name=name, password=f"{role}-pass", role=role, scope=scope)
    pin_viewport(browser.driver)  # the default already; explicit, as the test asserts the size
    browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CALLBACKS})
    browser.get_logs()  # the module's browser: what earlier tests logged is theirs
    _as_user(browser, app_process, name, f"{role}-pass")
    try:
        for path, ready in pages:
            browser.driver.get(app_process.url + path)
            browser.wait_for_element(ready, timeout=20)
            _after_ticks(browser)
            seen = _callbacks(browser)
            assert seen and [c for c in seen if c[1] >= 400] == [], (role, path, seen)
            assert _failed_responses(browser) == [], (role, path)
            assert browser.get_logs() == [], (role, path)
        if role == "supervisor":  # the list's export is the supervisor's: the file is sent, nothing refused
            browser.driver.get(app_process.url + "/incidents")
            browser.wait_for_element(".ag-row", timeout=20)
            browser.find_element("[id*='cw-list-export']").click()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not any(o and "cw-list-download" in o
                                                          for o, _s in _callbacks(browser)):
                time.sleep(0.3)
            seen = _callbacks(browser)
            assert any(o and "cw-list-download" in o and s == 200 for o, s in seen), seen
            assert browser.get_logs() == []
    finally:
        browser.driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})


def test_a_wall_signs_in_with_its_token_in_the_fragment(browser, app_process: AppProcess, users: Path) -> None:
    """/_citywall/kiosk#token=…&next=… signs the screen in and opens its wall; the token never reaches
    a request line, and the address bar never keeps it (issue 12, item 7)."""
    pin_viewport(browser.driver)
    browser.get_logs()
    browser.driver.delete_all_cookies()
    token = security.create_token(users, name="fragment-lobby", scope="100100")
    browser.driver.get(f"{app_process.url}/_citywall/kiosk#token={token}&next=%2Fwall%2F100100%3Fkiosk%3D1")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    assert browser.driver.current_url == f"{app_process.url}/wall/100100?kiosk=1"
    assert browser.find_element(".status-bar h1").text == "东区"
    browser.driver.delete_all_cookies()
    browser.driver.get(f"{app_process.url}/_citywall/kiosk#token=cw_wrong&next=%2Fwall%2F100100")
    browser.wait_for_contains_text("#cw-kiosk-msg", "revoked", timeout=10)
    assert "token" not in browser.driver.current_url
    assert [e for e in browser.get_logs() if "status of 401" not in e["message"]] == []  # the refused POST only


def test_a_revoked_wall_says_so_within_three_ticks_and_never_asks_for_a_password(
        browser, app_process: AppProcess, users: Path) -> None:
    """Issue 12, item 2: after `citywall token revoke` the wall's refreshes get 401 without a password
    prompt (a kiosk never answers one) and the badge says the access was revoked within three ticks."""
    pin_viewport(browser.driver)
    browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CALLBACKS})
    browser.get_logs()
    token = security.create_token(users, name="revoked-lobby", scope="100100")
    _sign_in(browser, app_process, token, "/wall/100100?kiosk=1")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    security.revoke_token(users, name="revoked-lobby")
    revoked_at = time.monotonic()
    browser.wait_for_text_to_equal("#connection-badge", "此屏幕的访问权限已被撤销", timeout=10)
    assert time.monotonic() - revoked_at <= 3 * 1.0 + 2.0  # three 1-s ticks, and the last poll's own time
    assert browser.driver.execute_script("return window.__prompts || [];") == []
    assert any(status == 401 for _o, status in _callbacks(browser))
    # What the refused refreshes log: Chromium's own line for a 401, and the Dash renderer's, which
    # reads a 401's body twice (once for its JWT-expiry check) and logs "body stream already read".
    expected = ("status of 401", "body stream already read")
    assert [e for e in browser.get_logs() if not any(x in e["message"] for x in expected)] == []
