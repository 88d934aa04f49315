"""The push transport in Chromium against a real app process (pages/_push.py, assets/push.js): a
pushed wall gets every tick without polling, falls back to polling by itself when something in
front refuses the stream, and reconnects after a server restart without a reload. The maps' push
(pages/_push_map.py, assets/map_push.js): a level page's map and the wall's map take their counts
from pushed messages with their interval stopped, and poll by themselves when the stream is refused."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.db import utc_now
from tests.conftest import PUSH_PORTS, AppProcess, BlockedPushProcess, push_process
from tests.test_incident_queries import C_NJ1, CITY, HUANGPU, NANJING

pytestmark = pytest.mark.browser  # every test here drives Chromium
REFRESH_S = 1.0
TICK_WAIT = 2 * REFRESH_S + 3.0  # "within two ticks", plus the browser's own scheduling
AQI = '[data-indicator="aqi"] .tile__number'
STATE = """const p = window.citywallPush || {}; const st = window.__citywallPoll || {};
return {state: p.state || null, received: p.received || 0, failures: p.failures || 0, polls: st.n || 0,
        applied: p.applied === undefined ? null : p.applied};"""


def state(browser) -> dict:
    return browser.driver.execute_script(STATE)


def wait_for(browser, check, timeout: float, what: str) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = state(browser)
        if check(now):
            return now
        time.sleep(0.2)
    raise AssertionError(f"{what}: {state(browser)}")


def insert_aqi(engine: Engine, value: float) -> None:
    with engine.begin() as conn:
        conn.execute(schema.readings.insert().values(indicator_id="aqi", area_code="100000", ts=utc_now(),
                                                     value=value))


def only_the_refused_stream_logged(browser) -> None:
    """The browser logged the refused stream, and nothing else; nothing more while it polls."""
    logs = browser.get_logs()
    assert all("_citywall/push" in entry["message"] for entry in logs), logs
    time.sleep(3 * REFRESH_S)
    assert browser.get_logs() == []


def leave(browser, proc: AppProcess) -> None:
    """Off the app's pages first (a wall left open would reconnect into the next test), then stop it."""
    browser.driver.get("about:blank")
    proc.stop()


def test_pushed_wall_gets_each_tick_without_polling(browser, push_city: Engine) -> None:
    proc = push_process(push_city, PUSH_PORTS[0])
    proc.start()
    try:
        _pushed_wall(browser, proc, push_city)
    finally:
        leave(browser, proc)


def _pushed_wall(browser, pushed: AppProcess, push_city: Engine) -> None:
    browser.driver.get(pushed.url + "/")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    start = wait_for(browser, lambda s: s["state"] == "open" and s["received"] >= 2, 10, "no pushed ticks")
    insert_aqi(push_city, 263)
    browser.wait_for_text_to_equal(AQI, "263", timeout=TICK_WAIT)
    assert "tile--alarm" in browser.find_element('[data-indicator="aqi"]').get_attribute("class")
    browser.wait_for_contains_text("#wall-alarms", "空气质量指数", timeout=TICK_WAIT)
    end = wait_for(browser, lambda s: s["received"] >= start["received"] + 4, 4 * REFRESH_S + 4, "ticks stopped")
    assert end["polls"] - start["polls"] <= 1  # the stream brought the ticks (one resync poll at most)
    assert browser.find_element("#connection-badge").text == "在线"
    assert browser.get_logs() == []


def test_a_refused_stream_falls_back_to_polling(browser, push_city: Engine) -> None:
    proxy = BlockedPushProcess(push_process(push_city, PUSH_PORTS[1]).env, port=PUSH_PORTS[1])
    proxy.start()
    try:
        browser.driver.get(proxy.url + "/")
        browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
        refused = wait_for(browser, lambda s: s["failures"] >= 1, 10, "the refusal was not noticed")
        assert refused["state"] == "failed" and refused["received"] == 0
        insert_aqi(push_city, 271)
        browser.wait_for_text_to_equal(AQI, "271", timeout=TICK_WAIT)  # the wall polled it in
        polled = wait_for(browser, lambda s: s["polls"] >= refused["polls"] + 3, 4 * REFRESH_S + 3, "no polls")
        assert polled["failures"] == 1  # retried only after a while (FIRST_RETRY_MS), not at every tick
        assert browser.find_element("#connection-badge").text == "在线"
        only_the_refused_stream_logged(browser)
    finally:
        leave(browser, proxy)


def test_the_stream_comes_back_after_a_server_restart(browser, push_city: Engine) -> None:
    proc = push_process(push_city, PUSH_PORTS[2])
    proc.start()
    try:
        browser.driver.get(proc.url + "/")
        browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
        before = wait_for(browser, lambda s: s["state"] == "open" and s["received"] >= 2, 10, "no pushed ticks")
        browser.driver.execute_script("window.__notReloaded = true;")
        proc.stop()
        stopped = time.monotonic()
        browser.wait_for_contains_text("#connection-badge", "离线", timeout=3 * REFRESH_S + 4)
        assert time.monotonic() - stopped <= 3 * REFRESH_S + 4  # OFFLINE within 3 ticks, push or not
        proc.start()
        browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=20)
        back = wait_for(browser, lambda s: s["state"] == "open" and s["received"] >= before["received"] + 3, 40,
                        "the stream did not come back")
        insert_aqi(push_city, 277)
        browser.wait_for_text_to_equal(AQI, "277", timeout=TICK_WAIT)
        assert browser.driver.execute_script("return window.__notReloaded === true;")
        settled = wait_for(browser, lambda s: s["received"] >= back["received"] + 3, 3 * REFRESH_S + 4, "ticks")
        assert settled["polls"] - back["polls"] <= 1  # pushed again, not polled
        browser.get_logs()  # refused connections while the server was gone; nothing after recovery
        time.sleep(3 * REFRESH_S)
        assert browser.get_logs() == []
    finally:
        leave(browser, proc)


# --- the maps' push (pages/_push_map.py, assets/map_push.js) -----------------------------------------

STREET = NANJING  # a street of Huangpu (the district page's map labels it with its open incidents)
MAP_STATE = """const maps = (window.citywallMapPush || {}).maps || {}; const m = maps[arguments[0]] || {};
const streams = (window.citywallMapPush || {}).streams || {}; const s = Object.values(streams)[0] || {};
return {received: m.received || 0, applied: m.applied || 0, polls: m.polls || 0, resyncs: m.resyncs || 0,
        state: s.state || null, failures: s.failures || 0};"""


def map_state(browser, key: str) -> dict:
    return browser.driver.execute_script(MAP_STATE, key)


def wait_map(browser, key: str, check, timeout: float, what: str) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = map_state(browser, key)
        if check(now):
            return now
        time.sleep(0.2)
    raise AssertionError(f"{what}: {map_state(browser, key)}")


def open_count(browser, code: str) -> int | None:
    """The open incidents the map's label of ``code`` says (its text even when the label is hidden)."""
    text = browser.driver.execute_script(
        "const n = document.querySelector('.cw-tip[data-code=\"' + arguments[0] + '\"] .cw-n-open');"
        "return n ? n.textContent : null;", code)
    return int(text) if text not in (None, "") else None


def wait_count(browser, code: str, value: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if open_count(browser, code) == value:
            return
        time.sleep(0.2)
    raise AssertionError(f"{code}: {open_count(browser, code)} open, not {value}")


def insert_incident(engine: Engine, iid: str) -> None:
    now = utc_now()
    with engine.begin() as conn:
        conn.execute(schema.incidents.insert().values(
            incident_id=iid, category="city_appearance", subcategory="exposed_garbage", source="patrol", priority=1,
            status="reported", title="test", address="1号", lat=31.2326, lon=121.4652, cell_id=C_NJ1,
            street_code=NANJING, district_code=HUANGPU, reported_at=now - timedelta(minutes=5),
            due_at=now + timedelta(hours=20), closed_at=None, reopened=0))


def stop_interval(browser, key: str) -> None:
    """The map's tick stopped: whatever changes now came by push."""
    browser.driver.execute_script(
        "window.dash_clientside.set_props({type: 'cw-tick', id: arguments[0]}, {disabled: true});", key)


def test_pushed_maps_update_with_their_interval_stopped(browser, push_map_city: Engine) -> None:
    proc = push_process(push_map_city, PUSH_PORTS[0])
    proc.start()
    try:
        # A district page's map, on its own map stream.
        browser.driver.get(proc.url + f"/district/{HUANGPU}")
        browser.wait_for_element(f'.cw-tip[data-code="{STREET}"]', timeout=15)
        wait_map(browser, "district", lambda s: s["state"] == "open" and s["received"] >= 2, 10, "no pushed counts")
        stop_interval(browser, "district")
        before = map_state(browser, "district")
        count = open_count(browser, STREET)
        insert_incident(push_map_city, "map-push-1")
        wait_count(browser, STREET, count + 1, TICK_WAIT)
        after = map_state(browser, "district")
        assert after["applied"] > before["applied"] and after["polls"] == before["polls"]
        # The wall's map, on the wall's own stream (one stream for the screen).
        browser.driver.get(proc.url + "/")
        browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=30)  # the Shanghai pack's wall
        wait_map(browser, "wall", lambda s: s["received"] >= 2, 10, "no counts on the wall's stream")
        assert map_state(browser, "wall")["state"] is None  # no map stream of its own
        stop_interval(browser, "wall")
        before = map_state(browser, "wall")
        count = open_count(browser, HUANGPU)
        insert_incident(push_map_city, "map-push-2")
        wait_count(browser, HUANGPU, count + 1, TICK_WAIT + REFRESH_S)
        assert map_state(browser, "wall")["polls"] == before["polls"]
        # New colour breaks come with their legend (a component, as a poll's reply carries it): a message
        # handed in with the stream closed (the next real one would have the map poll its own delta).
        browser.driver.execute_script(
            "window.citywallPush.close();"
            "const m = window.citywallMapPush.maps.wall; window.citywallPushEvents.map({data: JSON.stringify("
            "{area: arguments[0], lang: 'zh', tick: 1, base: m.sig, sig: 'legend-test', areas: null, cells: null,"
            " breaks: [1, 2, 3], points: null, legend: {type: 'Div', namespace: 'dash_html_components',"
            " props: {children: 'new breaks', className: 'cw-legend-test'}}})});", CITY)
        browser.wait_for_text_to_equal(".cw-legend .cw-legend-test", "new breaks", timeout=5)
        assert browser.get_logs() == []
    finally:
        leave(browser, proc)


def test_a_refused_map_stream_falls_back_to_polling(browser, push_map_city: Engine) -> None:
    proxy = BlockedPushProcess(push_process(push_map_city, PUSH_PORTS[1]).env, port=PUSH_PORTS[1])
    proxy.start()
    try:
        browser.driver.get(proxy.url + f"/district/{HUANGPU}")
        browser.wait_for_element(f'.cw-tip[data-code="{STREET}"]', timeout=15)
        refused = wait_map(browser, "district", lambda s: s["failures"] >= 1, 10, "the refusal was not noticed")
        refused_at = time.monotonic()
        assert refused["state"] == "failed" and refused["received"] == 0
        count = open_count(browser, STREET)
        insert_incident(push_map_city, "map-poll-1")
        wait_count(browser, STREET, count + 1, TICK_WAIT)  # the map polled it in
        polled = wait_map(browser, "district", lambda s: s["polls"] >= refused["polls"] + 3, 4 * REFRESH_S + 3,
                          "no polls")
        # retried only after a while (10 s, then longer), not at every tick
        assert polled["failures"] <= 1 + (time.monotonic() - refused_at) // 10
        only_the_refused_stream_logged(browser)
    finally:
        leave(browser, proxy)
