"""A pushed wall whose streams end again and again (CITYWALL_PUSH_STREAM_MAX_S: every 5 minutes in
production, every second here): the browser's own EventSource reconnects each time, the page keeps
one EventSource, applies every tick, and gains no listeners or timers (bench/long_tab.py runs the
same for hours and measures the heap)."""
from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import free_port, push_process
from tests.test_push_browser import leave, wait_for

pytestmark = pytest.mark.browser

# Before the page's own scripts: count EventSources and their (re)openings, and the pending timers.
COUNTERS = """
(function () {
  const c = window.__cw = {created: 0, opens: 0, closed: 0, sources: [], timeouts: new Set(), intervals: new Set()};
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(url, init) {
      super(url, init);
      c.created += 1;
      c.sources.push(this);
      this.addEventListener("open", function () { c.opens += 1; });
    }
    close() { c.closed += 1; super.close(); }
  };
  const setT = window.setTimeout, clearT = window.clearTimeout;
  const setI = window.setInterval, clearI = window.clearInterval;
  window.setTimeout = function (fn, ms, ...rest) {
    const id = setT(function () { c.timeouts.delete(id); if (typeof fn === "function") { fn(...rest); } }, ms);
    c.timeouts.add(id);
    return id;
  };
  window.clearTimeout = function (id) { c.timeouts.delete(id); clearT(id); };
  window.setInterval = function (...args) { const id = setI(...args); c.intervals.add(id); return id; };
  window.clearInterval = function (id) { c.intervals.delete(id); clearI(id); };
})();
"""
COUNTS = """const c = window.__cw, p = window.citywallPush || {};
return {created: c.created, opens: c.opens, closed: c.closed, live: c.sources.filter(s => s.readyState !== 2).length,
        timeouts: c.timeouts.size, intervals: c.intervals.size, received: p.received || 0, opened: p.opened || 0,
        polls: (window.__citywallPoll || {}).n || 0, state: p.state || null};"""


def counts(browser) -> dict:
    """The counters, with the fewest pending timeouts of a few looks (Dash and React come and go)."""
    found = browser.driver.execute_script(COUNTS)
    for _ in range(4):
        time.sleep(0.1)
        found["timeouts"] = min(found["timeouts"], browser.driver.execute_script("return window.__cw.timeouts.size;"))
    metrics = browser.driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
    found["listeners"] = next(m["value"] for m in metrics if m["name"] == "JSEventListeners")
    return found


def test_streams_ending_again_and_again_leave_one_event_source(browser, push_city: Engine) -> None:
    proc = push_process(push_city, free_port(), CITYWALL_PUSH_STREAM_MAX_S="1")
    proc.start()
    script = browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": COUNTERS})
    try:
        browser.driver.execute_cdp_cmd("Performance.enable", {})
        browser.driver.get(proc.url + "/")
        browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=15)
        wait_for(browser, lambda s: s["state"] == "open" and s["received"] >= 2, 10, "no pushed ticks")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and counts(browser)["opens"] < 2:  # the first stream ended
            time.sleep(0.2)
        start = counts(browser)
        assert start["opens"] >= 2, start
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and counts(browser)["opens"] < start["opens"] + 5:
            time.sleep(0.5)
        browser.driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
        end = counts(browser)
        assert end["opens"] >= start["opens"] + 5, end  # five more streams ended and were opened again
        # ...by the browser itself, on the one EventSource push.js opened: none made anew, none left open
        assert (end["created"], end["opened"], end["live"]) == (1, 1, 1), end
        assert end["received"] >= start["received"] + 5, end  # each new stream's first message at once
        assert end["polls"] - start["polls"] <= 1, (start, end)  # pushed throughout, never fell back to polling
        assert end["intervals"] == start["intervals"], (start, end)
        assert end["timeouts"] <= start["timeouts"] + 2, (start, end)
        assert end["listeners"] <= start["listeners"] + 3, (start, end)  # one per reconnection would be +5
        assert browser.find_element("#connection-badge").text == "在线"
        assert browser.get_logs() == []
    finally:
        browser.driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
        leave(browser, proc)
