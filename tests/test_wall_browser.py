"""The wall in Chromium against a real database and a real app process: layout at wall sizes,
alarms, staleness, scoped walls, languages, and an outage the wall must survive."""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.db import init_db, make_engine, utc_now
from tests.conftest import AppProcess, page_overflow
from tests.fixtures import seed_small_city

pytestmark = pytest.mark.browser  # every test here drives Chromium
REFRESH_S = 1.0
TICK_WAIT = 2 * REFRESH_S + 2.0  # "within two ticks", plus the browser's own scheduling
CJK = re.compile(r"[\u4e00-\u9fff]")


def tile(indicator_id: str) -> str:
    """The tile's frame (its class carries the state); .tile__number etc. are inside."""
    return f'[data-indicator="{indicator_id}"]'


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("wall") / "wall.db"
    eng = make_engine(f"sqlite:///{path}")
    init_db(eng)
    seed_small_city(eng)
    with eng.begin() as conn:  # a fast feed for the staleness test: 1-second period
        conn.execute(schema.indicators.insert().values(
            indicator_id="fast_feed", dimension="traffic", name="快速数据", name_en="Fast feed", unit="count",
            level="city", period_s=1, warn_high=100, alarm_high=200))
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def app_process(engine: Engine) -> Iterator[AppProcess]:
    proc = AppProcess({"CITYWALL_DATABASE_URL": str(engine.url), "CITYWALL_REFRESH_S": str(REFRESH_S),
                       "CITYWALL_FEEDER": "0", "CITYWALL_LANG": "zh"})
    proc.start()
    yield proc
    proc.stop()


@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160)])
def test_wall_shows_six_panels_without_scrollbars(browser, open_at_size, app_process: AppProcess,
                                                  size: tuple[int, int]) -> None:
    open_at_size(app_process.url + "/", size)
    browser.wait_for_text_to_equal(f"{tile('aqi')} .tile__number", "150", timeout=15)
    panels = browser.find_elements(".panel")
    assert len(panels) == 6
    assert [p.get_attribute("data-dimension") for p in panels] == [
        "infrastructure", "environment", "traffic", "supply", "safety", "vitality"]
    assert browser.find_element(f"{tile('water_pressure')} .tile__number").text == "0"  # 0 decimals in fixture
    assert page_overflow(browser) == [0, 0]
    assert browser.get_logs() == []


def test_alarm_reading_reaches_tile_and_alarm_list(browser, app_process: AppProcess, engine: Engine) -> None:
    browser.driver.get(app_process.url + "/")
    browser.wait_for_text_to_equal(f"{tile('aqi')} .tile__number", "150", timeout=15)
    assert "tile--warn" in browser.find_element(tile("aqi")).get_attribute("class")
    with engine.begin() as conn:
        conn.execute(schema.readings.insert().values(indicator_id="aqi", area_code="100000", ts=utc_now(),
                                                     value=260))
    browser.wait_for_text_to_equal(f"{tile('aqi')} .tile__number", "260", timeout=TICK_WAIT)
    assert "tile--alarm" in browser.find_element(tile("aqi")).get_attribute("class")
    browser.wait_for_contains_text("#wall-alarms", "空气质量指数", timeout=TICK_WAIT)
    first = browser.find_elements("#wall-alarms .alarm")[0]
    assert "alarm--alarm" in first.get_attribute("class")  # worst first
    assert browser.get_logs() == []


def test_stopped_feed_goes_stale(browser, app_process: AppProcess, engine: Engine) -> None:
    stop = threading.Event()

    def feed() -> None:  # a live feeder for one indicator, one reading a second
        while not stop.is_set():
            with engine.begin() as conn:
                conn.execute(schema.readings.insert().prefix_with("OR IGNORE").values(
                    indicator_id="fast_feed", area_code="100000", ts=utc_now(), value=42))
            stop.wait(1.0)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        browser.driver.get(app_process.url + "/")
        browser.wait_for_text_to_equal(f"{tile('fast_feed')} .tile__number", "42", timeout=15)
        browser.wait_for_class_to_equal(tile("fast_feed"), "tile tile--normal", timeout=TICK_WAIT)
    finally:
        stop.set()
        feeder.join()
    # Older than 2 x 1 s: greyed, last value kept, age shown.
    browser.wait_for_class_to_equal(tile("fast_feed"), "tile tile--stale", timeout=3 + TICK_WAIT)
    assert browser.find_element(f"{tile('fast_feed')} .tile__number").text == "42"
    assert "数据过期" in browser.find_element(f"{tile('fast_feed')} .tile__age").text
    assert browser.get_logs() == []


def test_scoped_wall_shows_the_districts_own_values(browser, app_process: AppProcess) -> None:
    browser.driver.get(app_process.url + "/wall/100100")
    browser.wait_for_text_to_equal(f"{tile('power_load')} .tile__number", "130", timeout=15)
    assert browser.find_element(".status-bar h1").text == "东区"
    # AQI exists only city-wide: shown, and marked as the city's value.
    browser.wait_for_text_to_equal(f"{tile('aqi')} .tile__origin", "市级", timeout=TICK_WAIT)
    assert not browser.find_element(f"{tile('power_load')} .tile__origin").is_displayed()  # its own value
    browser.driver.get(app_process.url + "/?scope=100200")
    browser.wait_for_text_to_equal(f"{tile('power_load')} .tile__number", "90", timeout=15)
    browser.wait_for_text_to_equal("#wall-strip .kpi__value", "1", timeout=TICK_WAIT)
    strip = browser.find_element("#wall-strip").text.split("\n")
    assert strip[:3] == ["城市事件", "在办", "1"]  # the district's own incidents
    assert browser.get_logs() == []


def test_unknown_scope_gives_a_clear_page(browser, app_process: AppProcess) -> None:
    for path in ("/wall/999999", "/?scope=%3Cscript%3E", "/wall/" + "9" * 300):
        browser.driver.get(app_process.url + path)
        browser.wait_for_contains_text(".not-found", "找不到", timeout=10)
        assert "Traceback" not in browser.driver.page_source
        assert browser.find_element(".not-found a").get_attribute("href").endswith("/")
    # The address itself answers 404 (docs/security.md); Chromium logs that, and nothing else may be logged.
    assert [e for e in browser.get_logs() if "status of 404" not in e["message"]] == []


def test_languages_have_no_untranslated_labels(browser, app_process: AppProcess) -> None:
    browser.driver.get(app_process.url + "/?lang=en")
    browser.wait_for_text_to_equal("#connection-badge", "LIVE", timeout=15)
    browser.wait_for_contains_text("#wall-strip", "Open", timeout=TICK_WAIT)
    text = browser.find_element(".wall").text
    assert not CJK.findall(text), CJK.findall(text)[:10]
    assert "Testville" in text and "Open" in text and "Infrastructure" in text
    browser.driver.get(app_process.url + "/?lang=zh")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    text = browser.find_element(".wall").text
    for english in ("Open", "Overdue", "Infrastructure", "LIVE", "Data as of", "dim_", "status_"):
        assert english not in text
    assert browser.get_logs() == []


def test_server_outage_shows_offline_and_recovers_without_reload(browser, app_process: AppProcess) -> None:
    browser.driver.get(app_process.url + "/")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    browser.driver.execute_script("window.__notReloaded = true;")
    app_process.stop()
    stopped = time.monotonic()
    browser.wait_for_contains_text("#connection-badge", "离线", timeout=3 * REFRESH_S + 4)
    assert time.monotonic() - stopped <= 3 * REFRESH_S + 4
    assert "最后有效数据" in browser.find_element("#connection-badge").text
    assert browser.find_element(f"{tile('aqi')} .tile__number").text != "—"  # last data stays visible
    app_process.start()
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    assert browser.driver.execute_script("return window.__notReloaded === true;")
    # While the server was gone the browser logged refused connections; nothing after recovery.
    browser.get_logs()
    time.sleep(3 * REFRESH_S)
    assert browser.get_logs() == []


def test_dead_database_gives_a_clear_page_not_a_traceback(browser) -> None:
    dead = AppProcess({"CITYWALL_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
                       "CITYWALL_REFRESH_S": str(REFRESH_S), "CITYWALL_FEEDER": "0", "CITYWALL_LANG": "zh"})
    dead.start()
    try:
        browser.driver.get(dead.url + "/")
        browser.wait_for_contains_text(".not-found", "数据库不可用", timeout=15)
        assert "Traceback" not in browser.driver.page_source
        assert browser.get_logs() == []
    finally:
        dead.stop()


def test_kiosk_mode_hides_chrome_and_rotates_to_the_next_scope(browser, app_process: AppProcess) -> None:
    browser.driver.get(app_process.url + "/?kiosk=1&rotate=10&playlist=/,/wall/100100")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    assert browser.find_elements(".nav") == []
    cursor = browser.driver.execute_script("return getComputedStyle(document.querySelector('.wall')).cursor;")
    assert cursor == "none"
    browser.wait_for_text_to_equal(".status-bar h1", "东区", timeout=25)  # rotated, still in kiosk mode
    assert "kiosk=1" in browser.driver.current_url and "/wall/100100" in browser.driver.current_url
    assert browser.find_elements(".nav") == []
    assert browser.get_logs() == []
