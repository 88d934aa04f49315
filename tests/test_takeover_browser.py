"""Issue 13, item 4, end to end in Chromium against the real app process (auth on), the demo city
and the feeder as its own process: the rainstorm episode started with the CLI takes the district
wall over within two ticks (banner, marked tiles); a rotating kiosk wall stops and shows the
scenario board; a supervisor acknowledges on the banner; the kiosk goes back to its rotation.
Nothing is logged in either browser throughout."""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

import security
from data_access.db import init_db, make_engine, utc_now
from feeder.loop import SimConfig, Simulator
from feeder.pack import load_city_pack
from tests.conftest import PROJECT_ROOT, AppProcess
from tests.test_faults_processes import Feeder

pytestmark = pytest.mark.browser  # every test here drives Chromium
REFRESH_S = 1.0
FEEDER_STEP_S = 1.0  # the feeder's own tick: an episode's first readings are written within it
TICK_WAIT = FEEDER_STEP_S + 2 * REFRESH_S + 2.0  # "within two ticks", plus the browser's own scheduling
ROTATE_S = 15
DISTRICT, OTHER = "310101", "310104"  # Huangpu (the rainstorm), Xuhui (quiet)
SECRET = "5d1f0b3c9e7a24686e2c4a1b9f3d7e05"


class AuthAppProcess(AppProcess):
    ready_status = 401


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo city (the Shanghai pack and its scenarios) with two hours of history."""
    url = f"sqlite:///{tmp_path_factory.mktemp('takeover') / 'takeover.db'}"
    engine = make_engine(url)
    init_db(engine)
    load_city_pack(engine, pack_dir=SimConfig().pack_dir)
    sim = Simulator(SimConfig(backfill_days=1))
    sim.prepare(engine)
    sim.backfill(engine, days=2 / 24, now=utc_now())
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tusers") / "users.json"


@pytest.fixture(scope="module")
def app_process(city: str, users: Path) -> Iterator[AppProcess]:
    security.add_user(users, name="chief", password="chief-pass", role="admin", scope=None)
    proc = AuthAppProcess({"CITYWALL_DATABASE_URL": city, "CITYWALL_REFRESH_S": str(REFRESH_S),
                           "CITYWALL_FEEDER": "0", "CITYWALL_LANG": "zh", "CITYWALL_AUTH": "basic",
                           "CITYWALL_USERS_FILE": str(users), "CITYWALL_SECRET_KEY": SECRET})
    proc.start()
    feeder = Feeder(city)
    feeder.start()
    yield proc
    feeder.kill()
    proc.stop()


def _sign_in(browser, app_process: AppProcess, token: str, path: str) -> None:
    browser.driver.delete_all_cookies()
    browser.driver.get(f"{app_process.url}{path}{'&' if '?' in path else '?'}token={token}")


def _until(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_the_rainstorm_takes_the_district_wall_over_until_a_supervisor_acknowledges(
        browser, second_browser, app_process: AppProcess, city: str, users: Path) -> None:
    kiosk, person = browser, second_browser
    wall_token = security.create_token(users, name="hall-wall-3", scope=None, role="wall")
    duty_token = security.create_token(users, name="huangpu-duty", scope=DISTRICT, role="supervisor")
    playlist = f"/wall/{DISTRICT},/wall/{OTHER}"
    _sign_in(person, app_process, duty_token, f"/wall/{DISTRICT}")
    person.wait_for_text_to_equal("#connection-badge", "在线", timeout=20)
    _sign_in(kiosk, app_process, wall_token, f"/wall/{DISTRICT}?kiosk=1&rotate={ROTATE_S}&playlist={playlist}")
    loaded = time.monotonic()
    kiosk.wait_for_text_to_equal("#connection-badge", "在线", timeout=20)
    assert kiosk.find_elements("#wall-ack") == []  # a wall principal never sees the button
    assert "cw-takeover" not in kiosk.find_element("body").get_attribute("class")

    started = subprocess.run([sys.executable, "cli.py", "feed", "--episode", f"rain:{DISTRICT}:30:0", "--once",
                              "--database-url", city, "--backfill-days", "0", "--auto-rainstorm-after", "-1"],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    recorded = time.monotonic()

    # The supervisor's district wall: the banner within two ticks, the scenario's tiles marked.
    person.wait_for_element("body.cw-takeover--pending", timeout=TICK_WAIT)
    assert time.monotonic() - recorded <= TICK_WAIT
    line = person.find_element(".takeover__item--pending")
    assert line.get_attribute("data-scenario") == f"rainstorm:{DISTRICT}"
    assert person.find_element(".takeover__item--pending .takeover__name").text == "暴雨内涝"
    assert person.find_element(".takeover__item--pending .takeover__area").text == "黄浦区"
    assert "告警" in person.find_element(".takeover__item--pending .takeover__reason").text
    assert person.find_element(".takeover__item--pending .takeover__since").text.endswith("起")
    assert person.find_elements(".tile.tile--scenario")
    assert person.find_element("#wall-ack").is_displayed()

    # The kiosk wall: rotation stopped, the board of its scope instead, kiosk parameters kept.
    _until(lambda: "/scenario/" in kiosk.driver.current_url, TICK_WAIT, "the kiosk to show the board")
    assert time.monotonic() - loaded < ROTATE_S  # it never rotated
    board = urlsplit(kiosk.driver.current_url)
    assert board.path == f"/scenario/rainstorm/{DISTRICT}"
    query = parse_qs(board.query)
    assert query["kiosk"] == ["1"] and query["rotate"] == [str(ROTATE_S)] and query["playlist"] == [playlist]
    assert query["back"] == [f"/wall/{DISTRICT}"] and query["takeover"] == [DISTRICT]
    kiosk.wait_for_element("#takeover-return-state", timeout=10)
    time.sleep(2 * REFRESH_S)  # the board polls the takeover and stays while it stands
    assert urlsplit(kiosk.driver.current_url).path == board.path
    assert kiosk.get_logs() == [] and person.get_logs() == []

    # The supervisor acknowledges the takeover for the district on the banner.
    person.find_element("#wall-ack").click()
    person.wait_for_element(f'.takeover__item--acked[data-scenario="rainstorm:{DISTRICT}"]', timeout=TICK_WAIT)
    assert not person.find_element("#wall-ack").is_displayed()
    assert person.find_elements(".tile.tile--scenario")  # still active: still marked

    # The kiosk goes back to its wall, where the acknowledged scenario is shown but takes nothing over,
    # and rotates on from there.
    _until(lambda: urlsplit(kiosk.driver.current_url).path == f"/wall/{DISTRICT}", TICK_WAIT + 2,
           "the kiosk to go back to its wall")
    back = parse_qs(urlsplit(kiosk.driver.current_url).query)
    assert back["kiosk"] == ["1"] and back["rotate"] == [str(ROTATE_S)] and back["playlist"] == [playlist]
    kiosk.wait_for_element(f'.takeover__item--acked[data-scenario="rainstorm:{DISTRICT}"]', timeout=TICK_WAIT)
    assert kiosk.find_elements(".tile.tile--scenario")
    _until(lambda: urlsplit(kiosk.driver.current_url).path == f"/wall/{OTHER}", ROTATE_S + TICK_WAIT,
           "the kiosk to rotate on")
    kiosk.wait_for_text_to_equal("#connection-badge", "在线", timeout=20)
    assert "cw-takeover--pending" not in kiosk.find_element("body").get_attribute("class")
    assert kiosk.get_logs() == [] and person.get_logs() == []
