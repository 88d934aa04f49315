"""Issue 13, item 4, end to end in Chromium against the real app process (auth on), the demo city
and the feeder as its own process: the rainstorm episode started with the CLI takes the district
wall over within two ticks (banner, marked tiles); a rotating kiosk wall stops and shows the
scenario board; a supervisor acknowledges on the banner; the kiosk goes back to its rotation.
Nothing is logged in either browser throughout.

The city is the Shanghai pack with two changes that keep the test short: its rain gauges
(rainfall, waterlogging points) report every GAUGE_S seconds instead of every 5 minutes, and its
scenarios are tests/data/takeover/scenarios.toml (loaded with ``citywall load-scenarios``), which
fire on the first alarm minute: the delay measured is the platform's, not the rule's or the
gauge's."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import sqlalchemy as sa

import security
from data_access.db import init_db, make_engine, utc_now
from feeder.loop import SimConfig, Simulator
from feeder.pack import RAIN_GAUGES, copy_pack, load_city_pack
from tests.conftest import PROJECT_ROOT, TEST_DATA, AppProcess

pytestmark = pytest.mark.browser  # every test here drives Chromium
REFRESH_S = 1.0
GAUGE_S = 2  # the rain gauges' period in the test's city
FEEDER_STEP_S = 1.0  # the feeder's own tick
# "within two ticks" of the first alarm reading, which comes within a gauge period and a feeder
# step of the episode's start; plus the browser's own scheduling
TICK_WAIT = GAUGE_S + FEEDER_STEP_S + 2 * REFRESH_S + 2.0
ROTATE_S = 20
DISTRICT, OTHER = "310101", "310104"  # Huangpu (the rainstorm), Xuhui (quiet)
SECRET = "5d1f0b3c9e7a24686e2c4a1b9f3d7e05"


class AuthAppProcess(AppProcess):
    ready_status = 401


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pack with its rain gauges reporting every GAUGE_S seconds."""
    return copy_pack(SimConfig().pack_dir, tmp_path_factory.mktemp("pack") / "shanghai",
                     periods=dict.fromkeys(RAIN_GAUGES, GAUGE_S))


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, pack: Path) -> str:
    """The demo city with two hours of history and the takeover tests' scenario catalogue."""
    url = f"sqlite:///{tmp_path_factory.mktemp('takeover') / 'takeover.db'}"
    engine = make_engine(url)
    init_db(engine)
    load_city_pack(engine, pack_dir=pack)
    sim = Simulator(SimConfig(pack_dir=pack, backfill_days=1))
    sim.prepare(engine)
    sim.backfill(engine, days=2 / 24, now=utc_now())
    engine.dispose()
    catalogue = TEST_DATA / "takeover" / "scenarios.toml"
    loaded = subprocess.run([sys.executable, "cli.py", "load-scenarios", str(catalogue)], cwd=PROJECT_ROOT,
                            env={**os.environ, "CITYWALL_DATABASE_URL": url}, capture_output=True, text=True,
                            timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    return url


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tusers") / "users.json"


@pytest.fixture(scope="module")
def app_process(city: str, users: Path, pack: Path) -> Iterator[AppProcess]:
    security.add_user(users, name="chief", password="chief-pass", role="admin", scope=None)
    proc = AuthAppProcess({"CITYWALL_DATABASE_URL": city, "CITYWALL_REFRESH_S": str(REFRESH_S),
                           "CITYWALL_FEEDER": "0", "CITYWALL_LANG": "zh", "CITYWALL_AUTH": "basic",
                           "CITYWALL_USERS_FILE": str(users), "CITYWALL_SECRET_KEY": SECRET})
    proc.start()
    launched = utc_now()
    feeder_log = Path(tempfile.mkstemp(prefix="citywall-feeder-", suffix=".log")[1])
    with feeder_log.open("wb") as log_file:  # a file, never a pipe nobody reads (conftest.AppProcess)
        feeder = subprocess.Popen(  # the demo's feeder as production runs it, beside the web process
            [sys.executable, "-m", "feeder", "--database-url", city, "--pack", str(pack), "--backfill-days", "0",
             "--tick", str(FEEDER_STEP_S), "--auto-rainstorm-after", "-1"], cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL, stderr=log_file)
    _until(lambda: _newest_reading(city) > launched, 90, "the feeder's first live readings")
    yield proc
    feeder.send_signal(signal.SIGTERM)
    feeder.wait(timeout=20)
    proc.stop()


def _newest_reading(url: str) -> datetime:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            newest = conn.execute(sa.text("SELECT MAX(ts) FROM v_vitals_latest")).scalar_one()
    finally:
        engine.dispose()
    return pd.Timestamp(newest).to_pydatetime() if newest is not None else datetime.min


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
        browser, second_browser, app_process: AppProcess, city: str, users: Path, pack: Path) -> None:
    kiosk, person = browser, second_browser
    wall_token = security.create_token(users, name="hall-wall-3", scope=None, role="wall")
    duty_token = security.create_token(users, name="huangpu-duty", scope=DISTRICT, role="supervisor")
    playlist = f"/wall/{DISTRICT},/wall/{OTHER}"
    _sign_in(person, app_process, duty_token, f"/wall/{DISTRICT}")
    person.wait_for_text_to_equal("#connection-badge", "在线", timeout=20)
    assert "cw-takeover" not in person.find_element("body").get_attribute("class")

    # The rule fires on the first minute whose average is in alarm (v_vitals_recent's minute status):
    # the minute after the episode's when it starts late enough in its minute (the readings before it
    # keep that minute's average below the alarm line), so the kiosk below is rotating when it begins.
    while not 24 <= time.time() % 60 <= 32:
        time.sleep(0.5)
    started = subprocess.run([sys.executable, "cli.py", "feed", "--episode", f"rain:{DISTRICT}:30:0", "--once",
                              "--database-url", city, "--pack", str(pack), "--backfill-days", "0",
                              "--auto-rainstorm-after", "-1"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             timeout=60)
    assert started.returncode == 0, started.stderr
    assert "episode rainstorm:" in started.stderr
    first_minute = (time.time() // 60 + 1) * 60  # epoch second the first all-alarm minute begins
    assert first_minute - time.time() > 10, "the CLI took too long to start"

    time.sleep(max(0.0, first_minute - 6 - time.time()))
    _sign_in(kiosk, app_process, wall_token, f"/wall/{DISTRICT}?kiosk=1&rotate={ROTATE_S}&playlist={playlist}")
    loaded = time.monotonic()
    kiosk.wait_for_text_to_equal("#connection-badge", "在线", timeout=20)
    assert kiosk.find_elements("#wall-ack") == []  # a wall principal never sees the button
    _until(lambda: kiosk.driver.execute_script("return !!window.__citywallRotate"), 5, "the kiosk's rotation timer")
    assert urlsplit(kiosk.driver.current_url).path == f"/wall/{DISTRICT}"

    # The supervisor's district wall: the banner within two ticks of that minute's first alarm
    # reading (a gauge period and a feeder step at most), the scenario's tiles marked.
    person.wait_for_element("body.cw-takeover--pending", timeout=first_minute - time.time() + TICK_WAIT)
    assert time.time() - first_minute <= TICK_WAIT
    # read in one script: the banner is rebuilt whenever its values change (a found element goes stale)
    line = person.driver.execute_script(
        "const l = document.querySelector('.takeover__item--pending'); if (!l) { return null; }"
        " const t = (c) => (l.querySelector(c) || {}).textContent;"
        " return {key: l.getAttribute('data-scenario'), name: t('.takeover__name'), area: t('.takeover__area'),"
        " reason: t('.takeover__reason'), since: t('.takeover__since')};")
    assert line["key"] == f"rainstorm:{DISTRICT}"
    assert (line["name"], line["area"]) == ("暴雨内涝", "黄浦区")
    assert "告警" in line["reason"] and line["since"].endswith("起")
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
    kiosk.wait_for_element(f'.sb[data-scenario="rainstorm"][data-area="{DISTRICT}"]', timeout=15)
    kiosk.wait_for_element("#takeover-return-target", timeout=10)  # the board's way back is there
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
