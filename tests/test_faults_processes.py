"""Process faults, caused for real and watched in Chromium: the feeder (``python -m feeder``, its
own process) is killed under a live wall, then the web app is killed under a live feeder, then the
app comes back as a new version (a deploy). One app process at a time, one Chromium."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access.db import make_engine
from tests.conftest import PROJECT_ROOT, AppProcess

pytestmark = pytest.mark.browser  # every test here drives Chromium
REFRESH_S = 1.0
FAST = "bridge_deflection_mm"  # a 5-second indicator of the demo pack: stale 10 s after its last reading
FRAME = f'[data-indicator="{FAST}"]'


class DeployedApp(AppProcess):
    """The app started from an explicit bootstrap, so a test can serve "the next version" (a deploy
    changes the code fingerprint; here the fingerprint function is replaced before the app starts)."""

    def __init__(self, env: dict[str, str], version: str | None = None, port: int | None = None) -> None:
        super().__init__(env, port)
        self.version = version

    def startup_code(self) -> str:
        patch = (f"import data_access.runtime as r; r.build_version = lambda: {self.version!r}; "
                 if self.version else "")
        return patch + super().startup_code()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


class Feeder:
    """``python -m feeder`` as its own process (what production runs beside the web workers)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "feeder", "--database-url", self.url, "--backfill-days", "0", "--tick", "1",
             "--auto-rainstorm-after", "-1"], cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def _readings(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT COUNT(*) FROM readings")).scalar_one()


def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{Path(tmp_path_factory.mktemp('proc')) / 'proc.db'}"


@pytest.fixture(scope="module")
def feeder(db_url: str) -> Iterator[Feeder]:
    feed = Feeder(db_url)
    feed.start()
    engine = make_engine(db_url)

    def ready() -> bool:
        try:
            return _readings(engine) > 0
        except sa.exc.SQLAlchemyError:
            return False

    _until(ready, 60, "the feeder's first readings")
    engine.dispose()
    yield feed
    if feed.alive():
        feed.kill()


@pytest.fixture(scope="module")
def app_process(db_url: str, feeder: Feeder) -> Iterator[DeployedApp]:
    proc = DeployedApp({"CITYWALL_DATABASE_URL": db_url, "CITYWALL_REFRESH_S": str(REFRESH_S),
                        "CITYWALL_FEEDER": "0", "CITYWALL_LANG": "zh"}, version="v1")
    proc.start()
    yield proc
    proc.stop()


def test_feeder_crash_makes_data_stale_not_the_app_down(browser, app_process: DeployedApp, feeder: Feeder) -> None:
    browser.driver.get(app_process.url + "/")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    _until(lambda: "tile--stale" not in browser.find_element(FRAME).get_attribute("class"), 15, "a fresh tile")
    before = browser.find_element(f"{FRAME} .tile__number").text
    feeder.kill()
    killed = time.monotonic()
    # 2 x 5 s after the last reading, plus a tick and the browser: greyed, last value kept, age shown
    browser.wait_for_class_to_equal(FRAME, "tile tile--stale", timeout=10 + 3 * REFRESH_S + 5)
    stale_after = time.monotonic() - killed
    assert browser.find_element(f"{FRAME} .tile__number").text not in ("", "—")
    assert "数据过期" in browser.find_element(f"{FRAME} .tile__age").text
    assert browser.find_element("#connection-badge").text == "在线"  # the app itself is fine
    assert app_process.process.poll() is None
    print(f"\nfeeder killed: {FAST} stale after {stale_after:.1f} s (was {before})")
    feeder.start()  # the feeder comes back: the tile is fresh again, no reload
    _until(lambda: "tile--stale" not in browser.find_element(FRAME).get_attribute("class"), 20, "fresh again")
    assert browser.get_logs() == []


def test_app_crash_never_takes_the_feeder_down(browser, app_process: DeployedApp, feeder: Feeder,
                                               db_url: str) -> None:
    browser.driver.get(app_process.url + "/")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    browser.driver.execute_script("window.__notReloaded = true;")
    engine = make_engine(db_url)
    try:
        app_process.kill()  # SIGKILL: no clean shutdown
        count = _readings(engine)
        browser.wait_for_contains_text("#connection-badge", "离线", timeout=3 * REFRESH_S + 3)
        _until(lambda: _readings(engine) > count, 10, "the feeder writing while the app is dead")
        assert feeder.alive()
        app_process.start()  # a worker restart: the wall reconnects by itself, same version, no reload
        browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=10)
        assert browser.driver.execute_script("return window.__notReloaded === true;")
        assert feeder.alive()
    finally:
        engine.dispose()
    browser.get_logs()  # refused connections while the app was down; nothing after
    time.sleep(2 * REFRESH_S)
    assert browser.get_logs() == []


def test_a_deploy_reloads_each_wall_once(browser, app_process: DeployedApp) -> None:
    browser.driver.get(app_process.url + "/")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    browser.driver.execute_script("window.__beforeDeploy = true;")
    app_process.stop()
    app_process.version = "v2"
    app_process.start()
    _until(lambda: not browser.driver.execute_script("return window.__beforeDeploy === true;"), 15,
           "the wall to reload for the new version")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    browser.driver.execute_script("window.__afterDeploy = true;")
    time.sleep(4 * REFRESH_S)  # exactly once: the new page keeps running
    assert browser.driver.execute_script("return window.__afterDeploy === true;")
    assert browser.find_element("#connection-badge").text == "在线"
