"""The replay in Chromium against the real app process (issue 15, items 1, 2): tests/asof_city.py's city,
whose state at the past minute T is written out there. A wall opened at ``?at=T`` shows the REPLAY
banner and frame, its badge says REPLAY (never LIVE or OFFLINE), its tiles and strip hold the values of
T; the slider moves the moment, the values and the URL; play at 60x moves them on by itself; a kiosk
wall opened with ``?at=`` stays live and loses ``?at=``. Nothing is logged in the browser."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.keys import Keys

from components.replay import at_param
from data_access.db import init_db, make_engine
from tests.asof_city import D1, MIN, TZ, T, seed_asof_city
from tests.conftest import AppProcess, page_overflow

pytestmark = pytest.mark.browser  # every test here drives Chromium
REFRESH_S = 1.0
WAIT = 20  # a replayed minute's first read, plus the browser's own scheduling


def tile(indicator_id: str) -> str:
    return f'[data-indicator="{indicator_id}"]'


@pytest.fixture(scope="module")
def app_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    path: Path = tmp_path_factory.mktemp("replay") / "replay.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    seed_asof_city(engine)
    engine.dispose()
    proc = AppProcess({"CITYWALL_DATABASE_URL": f"sqlite:///{path}", "CITYWALL_REFRESH_S": str(REFRESH_S),
                       "CITYWALL_FEEDER": "0", "CITYWALL_LANG": "zh", "CITYWALL_TIMEZONE": "Asia/Shanghai"})
    proc.start()
    yield proc
    proc.stop()


def _query(browser) -> dict[str, list[str]]:
    return parse_qs(urlsplit(browser.driver.current_url).query)


def _until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160)])
def test_a_replayed_wall_shows_the_banner_and_the_values_of_t(browser, open_at_size, app_process: AppProcess,
                                                              size: tuple[int, int]) -> None:
    open_at_size(f"{app_process.url}/wall/{D1}?at={at_param(T, TZ)}", size)
    browser.wait_for_text_to_equal("#replay-banner .replay__tag", "回放", timeout=WAIT)
    browser.wait_for_text_to_equal(f"{tile('power_load')} .tile__number", "130", timeout=WAIT)  # minute T: alarm
    assert "tile--alarm" in browser.find_element(tile("power_load")).get_attribute("class")
    assert browser.find_element(f"{tile('aqi')} .tile__number").text == "150"  # the city's AQI at T: warning
    browser.wait_for_text_to_equal('[data-kpi="open"] .kpi__value', "2", timeout=WAIT)  # D1's open incidents at T
    assert browser.find_element('[data-kpi="overdue"] .kpi__value').text == "1"
    assert browser.find_element("#replay-moment").text == at_param(T, TZ).replace("T", " ")
    browser.wait_for_text_to_equal("#connection-badge", "回放 · 非实时", timeout=WAIT)
    assert "badge--replay" in browser.find_element("#connection-badge").get_attribute("class")
    assert "cw-replay" in browser.find_element(".wall").get_attribute("class")
    time.sleep(4 * REFRESH_S)  # a replay is never OFFLINE for being in the past
    assert browser.find_element("#connection-badge").text == "回放 · 非实时"
    assert browser.find_element(f"{tile('power_load')} .tile__number").text == "130"
    assert page_overflow(browser) == [0, 0]
    assert browser.get_logs() == []


def test_the_slider_moves_the_moment_the_values_and_the_url(browser, app_process: AppProcess) -> None:
    browser.driver.get(f"{app_process.url}/wall/{D1}?at={at_param(T, TZ)}")
    browser.wait_for_text_to_equal(f"{tile('power_load')} .tile__number", "130", timeout=WAIT)
    thumb = browser.find_element("#replay-slider [role=slider]")
    for _ in range(10):  # ten minutes back: power load was 90 then (normal)
        thumb.send_keys(Keys.ARROW_LEFT)
    earlier = at_param(T - 10 * MIN, TZ)
    browser.wait_for_text_to_equal("#replay-moment", earlier.replace("T", " "), timeout=WAIT)
    _until(lambda: _query(browser).get("at") == [earlier], WAIT, "the moment in the URL")
    browser.wait_for_text_to_equal(f"{tile('power_load')} .tile__number", "90", timeout=WAIT)
    assert "tile--normal" in browser.find_element(tile("power_load")).get_attribute("class")
    # the URL is shareable: opened afresh it replays the same moment
    browser.driver.get(browser.driver.current_url)
    browser.wait_for_text_to_equal("#replay-moment", earlier.replace("T", " "), timeout=WAIT)
    browser.wait_for_text_to_equal(f"{tile('power_load')} .tile__number", "90", timeout=WAIT)
    assert browser.get_logs() == []


def test_play_at_60x_moves_the_moment_on_by_itself(browser, app_process: AppProcess) -> None:
    start = T - 10 * MIN
    browser.driver.get(f"{app_process.url}/wall/{D1}?at={at_param(start, TZ)}")
    browser.wait_for_text_to_equal(f"{tile('power_load')} .tile__number", "90", timeout=WAIT)
    browser.find_element('[id*="replay-speed"][id*="60"]').click()
    _until(lambda: _query(browser).get("speed") == ["60"], WAIT, "the speed in the URL")
    browser.find_element("#replay-play").click()
    # a minute a second: T (power load 130, alarm) is reached within ten seconds and a few ticks
    browser.wait_for_text_to_equal(f"{tile('power_load')} .tile__number", "130", timeout=WAIT + 10)
    browser.find_element("#replay-play").click()  # pause
    paused = browser.find_element("#replay-moment").text
    time.sleep(2.5)
    assert browser.find_element("#replay-moment").text == paused
    assert _query(browser)["at"] == [paused.replace(" ", "T")]
    assert browser.get_logs() == []


def test_a_kiosk_wall_opened_with_at_stays_live(browser, app_process: AppProcess) -> None:
    browser.driver.get(f"{app_process.url}/wall/{D1}?kiosk=1&at={at_param(T, TZ)}")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=WAIT)  # LIVE, not REPLAY
    browser.wait_for_text_to_equal(f"{tile('power_load')} .tile__number", "50", timeout=WAIT)  # the newest value
    assert browser.find_elements("#replay-banner") == []
    assert "cw-replay" not in browser.find_element(".wall").get_attribute("class")
    _until(lambda: "at" not in _query(browser), WAIT, "?at= taken out of the kiosk's address")
    assert _query(browser)["kiosk"] == ["1"]
    assert browser.get_logs() == []
