"""A wall tab held open for hours in Chromium, pushed (issue 16, item 1: "a tab open for 24 hours").

    python bench/long_tab.py --hours 1 [--stream-max-s 30] [--restart-every-min 20] [--sample-min 3]

The real embedded default (``python app.py``: waitress, the feeder thread, push on, SQLite) and one
Chromium on its wall. Each push stream ends after ``--stream-max-s`` (CITYWALL_PUSH_STREAM_MAX_S;
300 s in production, shortened here so an hour holds as many reconnections as a day of 5-minute
streams would hold in 12 hours and more), and every ``--restart-every-min`` the server is stopped and
started again (a deploy, a crash). Every ``--sample-min`` minutes, after a forced garbage collection,
the bench takes CDP ``Performance.getMetrics`` (JS heap used, DOM nodes, event listeners, documents)
and ``performance.memory``, and checks that the wall is live: its badge says online, it applied a
newer tick than at the last sample, and it holds exactly one open EventSource (the page's
EventSource constructor is counted by a script the bench adds before the page's own).

It prints one JSON line per sample and, at the end, the slope of each metric per hour (least
squares over the samples after the first ``--warmup-min`` minutes) beside its first and last value:
a flat tab has slopes near zero; a leak shows as a slope that does not shrink with a longer run.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.run import PYTHON, chrome, free_port, wait_js  # noqa: E402

# Counts the page's EventSources (created, opened, closed, errors) before the page's own scripts run.
COUNT_EVENT_SOURCES = """
(function () {
  const Native = window.EventSource;
  if (!Native || window.__esCount) { return; }
  const count = window.__esCount = {created: 0, opens: 0, closed: 0, errors: 0, live: []};
  class Counted extends Native {
    constructor(url, init) {
      super(url, init);
      count.created += 1;
      count.live.push(this);
      this.addEventListener("open", function () { count.opens += 1; });
      this.addEventListener("error", function () { count.errors += 1; });
    }
    close() {
      count.closed += 1;
      super.close();
    }
  }
  window.EventSource = Counted;
})();
"""
SAMPLE_JS = """
const p = window.citywallPush || {};
const c = window.__esCount || {created: 0, opens: 0, closed: 0, errors: 0, live: []};
c.live = c.live.filter(function (es) { return es.readyState !== 2; });  // drop the closed ones
const badge = document.getElementById("connection-badge");
const mem = performance.memory || {};
return {state: p.state || null, received: p.received || 0, opened: p.opened || 0, resyncs: p.resyncs || 0,
        last_tick: p.lastTick === undefined ? null : p.lastTick, badge: badge ? badge.textContent : null,
        es_created: c.created, es_opens: c.opens, es_closed: c.closed, es_errors: c.errors,
        es_not_closed: c.live.length, used_js_heap: mem.usedJSHeapSize || null,
        polls: (window.__citywallPoll || {}).n || 0};
"""
ONLINE = "在线"


class App:
    """``python app.py`` (the one command) on its own SQLite file; stopped and started again on demand."""

    def __init__(self, db_path: Path, *, port: int, refresh_s: float, stream_max_s: float, backfill_days: int,
                 log_path: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.env = {**os.environ, "CITYWALL_DATABASE_URL": f"sqlite:///{db_path}", "CITYWALL_PORT": str(port),
                    "CITYWALL_HOST": "127.0.0.1", "CITYWALL_REFRESH_S": str(refresh_s), "CITYWALL_LANG": "zh",
                    "CITYWALL_TRANSPORT": "push", "CITYWALL_PUSH_STREAM_MAX_S": str(stream_max_s),
                    "CITYWALL_BACKFILL_DAYS": str(backfill_days), "CITYWALL_REDIS_URL": "",
                    "PYTHONPATH": str(ROOT)}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 600) -> float:
        started = time.monotonic()
        with self.log_path.open("ab") as log_file:
            self.proc = subprocess.Popen([PYTHON, "app.py"], cwd=ROOT, env=self.env, stdout=log_file,
                                         stderr=log_file, start_new_session=True)
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited; see {self.log_path}")
            try:
                if requests.get(self.url + "/_dash-layout", timeout=5).ok:
                    return time.monotonic() - started
            except requests.RequestException:
                time.sleep(0.5)
        raise RuntimeError("app did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def metrics(driver: Any) -> dict[str, Any]:
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    found = {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
    page = driver.execute_script(SAMPLE_JS)
    return {"js_heap_mb": round(found.get("JSHeapUsedSize", 0) / 2**20, 2), "nodes": int(found.get("Nodes", 0)),
            "listeners": int(found.get("JSEventListeners", 0)), "documents": int(found.get("Documents", 0)),
            **page}


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) in value per hour."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if not var:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var * 3600


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--refresh", type=float, default=5.0, help="CITYWALL_REFRESH_S")
    ap.add_argument("--stream-max-s", type=float, default=30.0, help="CITYWALL_PUSH_STREAM_MAX_S (production: 300)")
    ap.add_argument("--restart-every-min", type=float, default=20.0, help="stop and start the server (0: never)")
    ap.add_argument("--sample-min", type=float, default=3.0)
    ap.add_argument("--warmup-min", type=float, default=6.0, help="samples before this are left out of the slopes")
    ap.add_argument("--backfill-days", type=int, default=1)
    ap.add_argument("--out", default="", help="also append each sample's JSON line to this file")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="citywall-longtab-") as tmp:
        app = App(Path(tmp) / "wall.db", port=free_port(), refresh_s=a.refresh, stream_max_s=a.stream_max_s,
                  backfill_days=a.backfill_days, log_path=Path(tmp) / "app.log")
        print(f"# seeding and starting the app: {app.start():.0f} s", flush=True)
        driver = chrome()
        samples: list[dict[str, Any]] = []
        restarts: list[dict[str, Any]] = []
        try:
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_EVENT_SOURCES})
            driver.execute_cdp_cmd("Performance.enable", {})
            driver.get(app.url + "/")
            wait_js(driver, f"const b = document.getElementById('connection-badge'); return b && b.textContent "
                            f"=== '{ONLINE}' && window.citywallPush && window.citywallPush.received > 0;", 120)
            began = time.monotonic()
            end = began + a.hours * 3600
            next_sample = began
            next_restart = began + a.restart_every_min * 60 if a.restart_every_min > 0 else float("inf")
            previous_tick = None
            while time.monotonic() < end + 1:
                now = time.monotonic()
                if now >= next_restart and now < end - 60:
                    app.stop()
                    stopped = time.monotonic()
                    time.sleep(5)  # long enough for the wall to notice (and for the browser to retry a few times)
                    app.start()
                    back = wait_js(driver, f"return document.getElementById('connection-badge').textContent === "
                                           f"'{ONLINE}' && window.citywallPush.state === 'open';", 120, poll=0.2)
                    restarts.append({"at_min": round((stopped - began) / 60, 1),
                                     "online_again_s": round(time.monotonic() - stopped, 1) if back is not None
                                     else None})
                    print(json.dumps({"restart": restarts[-1]}), flush=True)
                    next_restart += a.restart_every_min * 60
                if now >= next_sample:
                    sample = {"min": round((now - began) / 60, 1), **metrics(driver)}
                    sample["live"] = (sample["badge"] == ONLINE and sample["es_not_closed"] == 1
                                      and (previous_tick is None or (sample["last_tick"] or 0) > previous_tick))
                    previous_tick = sample["last_tick"]
                    samples.append(sample)
                    line = json.dumps(sample)
                    print(line, flush=True)
                    if a.out:
                        with open(a.out, "a") as out:
                            out.write(line + "\n")
                    next_sample += a.sample_min * 60
                time.sleep(1)
            errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"
                      and "_citywall/push" not in e.get("message", "")]
        finally:
            driver.quit()
            app.stop()
    steady = [s for s in samples if s["min"] >= a.warmup_min] or samples
    report: dict[str, Any] = {"hours": a.hours, "refresh_s": a.refresh, "stream_max_s": a.stream_max_s,
                              "samples": len(samples), "restarts": restarts,
                              "not_live_samples": [s["min"] for s in samples if not s["live"]],
                              "event_sources_created": samples[-1]["es_created"] if samples else None,
                              "stream_opens": samples[-1]["es_opens"] if samples else None,
                              "ticks_received": samples[-1]["received"] if samples else None,
                              "resync_polls": samples[-1]["resyncs"] if samples else None,
                              "browser_errors_other_than_push": len(errors),
                              # refused polls while the server was down are expected; anything else is not
                              "browser_error_kinds": sorted({e["message"].split(" - ")[-1][:80] for e in errors})}
    print(f"\n{'metric':12} {'first':>9} {'last':>9} {'slope/h':>9}  (after {a.warmup_min:g} min)")
    for key in ("js_heap_mb", "nodes", "listeners", "documents"):
        slope = slope_per_hour([(s["min"] * 60, s[key]) for s in steady])
        first, last = steady[0][key] if steady else None, steady[-1][key] if steady else None
        report[f"{key}_first"], report[f"{key}_last"] = first, last
        report[f"{key}_slope_per_h"] = round(slope, 3) if slope is not None else None
        print(f"{key:12} {first!s:>9} {last!s:>9} {report[f'{key}_slope_per_h']!s:>9}")
    print(json.dumps(report))
    return 0 if samples and not report["not_live_samples"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
