"""When a wall polls, in Chromium against a real app process: once per tick, just after the tick's
data is ready (not at a random phase), so a new reading is on screen within one tick and a bit
of its insert."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.db import init_db, make_engine, utc_now
from tests.conftest import AppProcess
from tests.fixtures import seed_small_city

pytestmark = pytest.mark.browser  # every test here drives Chromium
REFRESH_S = 2.0
SPREAD_S = 0.2
# Where in its window a poll may leave: the tick's data ready (a few ms here) + the 100-ms
# margin + this screen's share of the spread, plus generous room for a loaded test machine.
LATEST_PHASE_MS = 100 + SPREAD_S * 1000 + 500

RECORD_POLLS = """
window.__polls = [];
const original = window.fetch;
window.fetch = function (url, options) {
  const isWall = options && typeof options.body === "string" && options.body.indexOf('"wall-poll"') >= 0;
  return original.apply(this, arguments).then(function (reply) {
    if (isWall) {
      reply.clone().json().then(function (body) {
        const status = body.response["status-store"].data;
        window.__polls.push({tick: status.tick, now_ms: status.now_ms, ready_ms: status.ready_ms});
      });
    }
    return reply;
  });
};
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("polling") / "wall.db"
    eng = make_engine(f"sqlite:///{path}")
    init_db(eng)
    seed_small_city(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def app_process(engine: Engine) -> Iterator[AppProcess]:
    proc = AppProcess({"CITYWALL_DATABASE_URL": str(engine.url), "CITYWALL_REFRESH_S": str(REFRESH_S),
                       "CITYWALL_POLL_SPREAD_S": str(SPREAD_S), "CITYWALL_FEEDER": "0",
                       "CITYWALL_TRANSPORT": "poll"})  # the polling transport (push: tests/test_push_browser.py)
    proc.start()
    yield proc
    proc.stop()


def test_the_wall_polls_once_per_tick_just_after_the_data_is_ready(browser, app_process: AppProcess) -> None:
    browser.driver.get(app_process.url + "/")
    browser.wait_for_text_to_equal('[data-indicator="aqi"] .tile__number', "150", timeout=15)
    time.sleep(2 * REFRESH_S)  # past the fresh server's first, cold reads (they time the polls after them)
    browser.driver.execute_script(RECORD_POLLS)
    time.sleep(6 * REFRESH_S + 0.5)
    polls = browser.driver.execute_script("return window.__polls")
    assert len(polls) >= 5, polls
    ticks = [p["tick"] for p in polls]
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), ticks  # one poll per tick, none skipped
    # The server's clock when it answered. The first recorded poll is left out: it was timed by
    # when the page load's (cold, first) read was ready; each later one by the warm tick before it.
    steady = polls[1:]
    phases = [p["now_ms"] % (REFRESH_S * 1000) for p in steady]
    assert all(phase <= LATEST_PHASE_MS for phase in phases), phases  # early in the window, every time
    assert all(p["ready_ms"] < phase for p, phase in zip(steady, phases, strict=True))  # after the data was ready
    assert browser.get_logs() == []


def test_a_new_reading_is_shown_in_the_next_window(browser, app_process: AppProcess, engine: Engine) -> None:
    browser.driver.get(app_process.url + "/")
    browser.wait_for_text_to_equal('[data-indicator="aqi"] .tile__number', "150", timeout=15)
    for value in (161, 172, 183):
        with engine.begin() as conn:
            conn.execute(schema.readings.insert().values(indicator_id="aqi", area_code="100000", ts=utc_now(),
                                                         value=value))
        inserted = time.monotonic()
        browser.wait_for_text_to_equal('[data-indicator="aqi"] .tile__number', str(value), timeout=3 * REFRESH_S)
        # Within the rest of this window, then the margin and the spread (+ slack for the test machine).
        assert time.monotonic() - inserted < REFRESH_S + LATEST_PHASE_MS / 1000 + 0.5, json.dumps(value)
        time.sleep(0.7)
    assert browser.get_logs() == []
