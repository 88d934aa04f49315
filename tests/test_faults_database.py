"""Database faults, caused for real and watched in Chromium: a PostgreSQL instance this module
starts on its own port and data directory is stopped and started under a live wall, and one of its
views is made slow. Needs the PostgreSQL server binaries (/usr/lib/postgresql/*/bin); when they
are missing the tests fail, they never skip.

    CITYWALL_FAULT_OUTAGE_S   how long the database stays down (default 20; the issue's minute: 60)
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.db import init_db, make_engine, utc_now
from tests.conftest import AppProcess, free_port
from tests.fixtures import seed_small_city

REFRESH_S = 1.0
OUTAGE_S = float(os.environ.get("CITYWALL_FAULT_OUTAGE_S", "20"))
OFFLINE_WITHIN_S = 3 * REFRESH_S + 3.0  # the badge's 3 ticks, plus the browser's 1-s clock and scheduling
RECOVER_WITHIN_S = REFRESH_S + 2.0  # one tick, plus the clock and pool reconnect
TILE = '[data-indicator="{}"] .tile__number'


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or ([shutil.which(name)] if shutil.which(name)
                                                                     else [])
    if not found:
        pytest.fail(f"PostgreSQL server binary {name} not found (apt-get install postgresql)")
    return found[-1]


class OwnPostgres:
    """A throw-away PostgreSQL cluster on its own port and data directory (never the shared one)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cw-faults-pg-", dir="/tmp"))
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self._run(_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        result = subprocess.run([*self.as_postgres, *argv], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr[-2000:]

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
                   " -c fsync=off")
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        subprocess.run([*self.as_postgres, _bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pg() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def admin(pg: OwnPostgres) -> Iterator[Engine]:
    engine = make_engine(pg.url)
    init_db(engine)
    seed_small_city(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def app_process(admin: Engine, pg: OwnPostgres) -> Iterator[AppProcess]:
    proc = AppProcess({"CITYWALL_DATABASE_URL": pg.url, "CITYWALL_REFRESH_S": str(REFRESH_S),
                       "CITYWALL_FEEDER": "0", "CITYWALL_LANG": "zh", "CITYWALL_STATEMENT_TIMEOUT_S": "0.5"})
    proc.start()
    yield proc
    proc.stop()


def _fast(url: str, limit_s: float = 2.0) -> float:
    """The server answers a request that needs no database, quickly: no worker is stuck."""
    started = time.monotonic()
    with urllib.request.urlopen(url + "/_dash-layout", timeout=limit_s):
        pass
    return time.monotonic() - started


def _reading(engine: Engine, value: float) -> None:
    with engine.begin() as conn:
        conn.execute(schema.readings.insert().values(indicator_id="aqi", area_code="100000", ts=utc_now(),
                                                     value=value))


@pytest.mark.browser
def test_database_down_for_a_while_then_back(browser, app_process: AppProcess, pg: OwnPostgres,
                                            admin: Engine) -> None:
    browser.driver.get(app_process.url + "/")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    browser.wait_for_text_to_equal(TILE.format("aqi"), "150", timeout=10)
    browser.driver.execute_script("window.__notReloaded = true;")

    pg.stop()
    stopped = time.monotonic()
    browser.wait_for_contains_text("#connection-badge", "离线", timeout=OFFLINE_WITHIN_S)
    offline_after = time.monotonic() - stopped
    assert "最后有效数据" in browser.find_element("#connection-badge").text
    assert browser.find_element(TILE.format("aqi")).text == "150"  # the last data stays on screen
    while time.monotonic() - stopped < OUTAGE_S:
        assert _fast(app_process.url) < 2.0  # every worker still free while every query fails
        assert "离线" in browser.find_element("#connection-badge").text
        time.sleep(2.0)

    pg.start()
    back = time.monotonic()
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=RECOVER_WITHIN_S)
    recovered_after = time.monotonic() - back
    assert browser.driver.execute_script("return window.__notReloaded === true;")  # no reload by hand or script
    _reading(admin, 166)
    browser.wait_for_text_to_equal(TILE.format("aqi"), "166", timeout=2 * REFRESH_S + 2)
    print(f"\noutage {OUTAGE_S:.0f} s: OFFLINE after {offline_after:.1f} s, LIVE again {recovered_after:.1f} s"
          " after the database accepted connections")
    browser.get_logs()  # refused callbacks while the database was down are expected; nothing after
    time.sleep(2 * REFRESH_S)
    assert browser.get_logs() == []


@pytest.mark.browser
def test_a_slow_view_fails_only_its_own_panel(browser, app_process: AppProcess, admin: Engine) -> None:
    browser.driver.get(app_process.url + "/")
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
    browser.wait_for_contains_text("#wall-strip", "在办", timeout=5)
    with admin.begin() as conn:  # the incident figures' view now takes 30 s (the app's limit: 0.5 s)
        conn.exec_driver_sql("ALTER VIEW v_incident_counts RENAME TO v_incident_counts_fast")
        conn.exec_driver_sql("CREATE VIEW v_incident_counts AS SELECT f.* FROM v_incident_counts_fast f"
                             " CROSS JOIN LATERAL (SELECT pg_sleep(30)) s")
    try:
        browser.wait_for_contains_text("#wall-strip", "事件数据读取失败", timeout=3 * REFRESH_S + 3)
        _reading(admin, 188)  # the other panels keep updating
        browser.wait_for_text_to_equal(TILE.format("aqi"), "188", timeout=3 * REFRESH_S + 3)
        assert browser.find_element("#connection-badge").text == "在线"
        assert _fast(app_process.url) < 1.0
        time.sleep(3 * REFRESH_S)
        assert browser.find_element("#connection-badge").text == "在线"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql("DROP VIEW v_incident_counts")
            conn.exec_driver_sql("ALTER VIEW v_incident_counts_fast RENAME TO v_incident_counts")
    browser.wait_for_contains_text("#wall-strip", "在办", timeout=3 * REFRESH_S + 3)  # and it recovers
    assert browser.get_logs() == []


def test_statement_timeout_is_set_on_the_apps_sessions(pg: OwnPostgres, admin: Engine) -> None:
    from data_access.db import engine_from_settings
    from data_access.settings import Settings

    engine = engine_from_settings(Settings(database_url=pg.url, statement_timeout_s=0.3))
    try:
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="statement timeout"), engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 2
    finally:
        engine.dispose()
