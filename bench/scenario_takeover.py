"""Issue 13, item 4: from an episode's start to the takeover banner on a wall, with a naive baseline
in the same run.

    python bench/scenario_takeover.py [--runs 10] [--refresh 1] [--screens 30] [--minutes 20]

1. Seeds the demo city (the Shanghai pack with its scenarios, a few hours of history) on SQLite.
2. Serves it the way bench/run.py does (gunicorn app:server, gthread; the feeder as its own
   process, ``python -m feeder``), while ``--screens`` other walls (the city wall) poll through
   the wall's real refresh callback (bench/run.py ``drive``).
3. Opens a district wall in Chromium and starts an episode there with ramp 0 (sudden), as
   ``citywall feed --episode rain:AREA:MINUTES:0`` records it (feeder.episodes.start_episode, the
   function that command calls); times from the moment the episode is committed until a new
   pending takeover line is in the wall's banner (a MutationObserver in the page: no polling
   error). Each run takes a district where the kind's scenario is not active yet; kinds rotate
   (rain, crowd, gas) so runs do not wait for the previous one to end.
4. The same against the naive baseline (CITYWALL_NAIVE=1: no tick cache, so the scenario state
   is computed for every screen's poll instead of once per tick), in the same run.

Prints a table; the LAST line is one JSON object with the figures (delays in seconds: p95 and
median over ``--runs`` runs per mode; the load's wall callback p95 (ms, server side) and SQL
statements per tick; the naive/cached ratios).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.run import Database, chrome, drive, free_port, log, pct, seed_demo, wait_js  # noqa: E402
from bench.wall_client import PageSpec  # noqa: E402

PYTHON = sys.executable
REDIS_URL = os.environ.get("CITYWALL_BENCH_REDIS", "redis://127.0.0.1:6379")
COUNTER_DB = int(os.environ.get("CITYWALL_BENCH_REDIS_DB", "14"))  # only this benchmark's counter keys
KINDS = ("rain", "crowd", "gas")

OBSERVE_JS = """
const box = document.getElementById('wall-takeover-items');
if (!box) { return false; }
window.__cwSeen = null;
const pendingKeys = () => Array.from(box.querySelectorAll('.takeover__item--pending'))
  .map(n => n.getAttribute('data-scenario'));
const known = new Set(pendingKeys());
if (window.__cwObserver) { window.__cwObserver.disconnect(); }
window.__cwObserver = new MutationObserver(() => {
  if (window.__cwSeen === null && pendingKeys().some(k => !known.has(k))) { window.__cwSeen = Date.now(); }
});
window.__cwObserver.observe(box, {childList: true, subtree: true});
return true;
"""


class Served:
    """gunicorn app:server (one worker, its in-process tick cache) + the feeder as its own process;
    SQL statements and callback times counted by bench/gunicorn_conf.py in this benchmark's Redis db."""

    def __init__(self, db: Database, *, naive: bool, refresh_s: float, threads: int = 8) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.counter_key = f"citywall-bench-takeover:{uuid.uuid4().hex[:8]}:statements"
        counter_url = f"{REDIS_URL}/{COUNTER_DB}"
        self.counter = redis.Redis.from_url(counter_url)
        env = {**os.environ, "CITYWALL_DATABASE_URL": db.url, "CITYWALL_REFRESH_S": str(refresh_s),
               "CITYWALL_NAIVE": "1" if naive else "0", "CITYWALL_FEEDER": "0", "CITYWALL_REDIS_URL": "",
               "CITYWALL_BENCH_COUNTER": self.counter_key, "CITYWALL_BENCH_COUNTER_REDIS": counter_url,
               "CITYWALL_BENCH_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
        self.procs = [subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "bench" / "gunicorn_conf.py"), "-w", "1",
             "-b", f"127.0.0.1:{self.port}", "app:server"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
        self.procs.append(subprocess.Popen(
            [PYTHON, "-m", "feeder", "--auto-rainstorm-after", "-1", "--tick", "1"], cwd=ROOT,
            env={**env, "CITYWALL_BENCH_COUNTER": ""}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/_dash-layout", timeout=5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            self.close()
            raise RuntimeError("gunicorn did not start")
        self.spec = PageSpec.read(self.url)

    def statements(self) -> int:
        return int(self.counter.get(self.counter_key) or 0)

    def server_times(self, *, reset: bool = False) -> list[float]:
        key = self.counter_key + ":ms"
        if reset:
            self.counter.delete(key)
            return []
        return [float(v) for v in self.counter.lrange(key, 0, -1)]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.counter.delete(self.counter_key, self.counter_key + ":ms")


def districts(db: Database) -> list[str]:
    engine = sa.create_engine(db.url)
    with engine.connect() as conn:
        codes = conn.execute(sa.text("SELECT area_code FROM v_areas WHERE level = 'district' ORDER BY area_code"))
        out = [row[0] for row in codes]
    engine.dispose()
    return out


def start_episode(db: Database, spec: str) -> float:
    """Record the episode as ``citywall feed --episode SPEC`` does; the epoch second it is committed."""
    from data_access.db import make_engine, utc_now
    from feeder.episodes import parse_episode
    from feeder.episodes import start_episode as record

    engine = make_engine(db.url)
    try:
        record(engine, episode=parse_episode(spec, now=utc_now()))
        return time.time()
    finally:
        engine.dispose()


def measure(db: Database, served: Served, plan: list[tuple[str, str]], *, refresh_s: float, minutes: float,
            load_screens: int) -> dict[str, Any]:
    """One mode: ``plan`` runs (kind, district), the load of ``load_screens`` city walls meanwhile."""
    driver = chrome()
    driver.set_window_size(1920, 1080)
    delays: list[float] = []
    missed = 0
    stop = multiprocessing.get_context("fork").Event()
    load: dict[str, Any] = {}
    background = threading.Thread(target=lambda: load.update(drive(served, screens=load_screens, ticks=0,
                                                                   refresh_s=refresh_s, stop=stop)), daemon=True)
    if load_screens:
        background.start()
    timeout = max(30.0, 20 * refresh_s)
    try:
        for kind, district in plan:
            driver.get(f"{served.url}/wall/{district}")
            if wait_js(driver, "return !!document.querySelector('#wall-takeover-items') && "
                               "document.body.classList.contains('is-offline') === false && "
                               "window.__citywallPoll && window.__citywallPoll.n >= 1;", 60) is None:
                raise RuntimeError(f"the wall of {district} did not load")
            time.sleep(2 * refresh_s)  # its first replies are in: the banner shows what was active before
            driver.execute_script(OBSERVE_JS)
            started = start_episode(db, f"{kind}:{district}:{minutes:g}:0")
            seen = wait_js(driver, "return window.__cwSeen !== null;", timeout, poll=0.05)
            seen_ms = driver.execute_script("return window.__cwSeen;") if seen is not None else None
            if seen_ms is None:
                missed += 1
                log(f"  {kind}:{district}: no banner within {timeout:.0f} s")
                delays.append(timeout)
            else:
                delays.append(round(seen_ms / 1000 - started, 3))
                log(f"  {kind}:{district}: banner after {delays[-1]:.2f} s")
    finally:
        stop.set()
        if load_screens:
            background.join()
        driver.quit()
    return {"runs": len(plan), "delays_s": delays, "p95_s": pct(delays, 0.95), "median_s": pct(delays, 0.5),
            "max_s": max(delays) if delays else None, "missed": missed, "load_screens": load_screens,
            "load_server_p95_ms": load.get("server_p95_ms"), "load_wall_p95_ms": load.get("wall_p95_ms"),
            "load_queries_per_tick": load.get("queries_per_tick"), "load_errors": load.get("errors")}


def ratio(a: object, b: object) -> float | None:
    return round(a / b, 2) if isinstance(a, int | float) and isinstance(b, int | float) and b else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="episodes per mode (at least 10 for the p95)")
    parser.add_argument("--refresh", type=float, default=1.0, help="CITYWALL_REFRESH_S of the served app")
    parser.add_argument("--screens", type=int, default=30, help="other walls polling meanwhile")
    parser.add_argument("--minutes", type=float, default=20.0, help="each episode's duration")
    parser.add_argument("--hours", type=float, default=3.0, help="history seeded before the run")
    a = parser.parse_args()
    if a.runs < 1 or a.refresh <= 0 or a.screens < 0:
        parser.error("--runs >= 1, --refresh > 0, --screens >= 0")
    tmp = Path(tempfile.mkdtemp(prefix="citywall-takeover-"))
    db = Database("sqlite", f"sqlite:///{tmp / 'takeover.db'}")
    log(f"seeding the demo city ({a.hours:g} h of history) ...")
    seed_s = seed_demo(db, days=a.hours / 24)
    codes = districts(db)
    # every (kind, district) once: a run never lands where its scenario is already active
    combos = [(kind, code) for kind in KINDS for code in codes]
    if 2 * a.runs > len(combos):
        parser.error(f"--runs at most {len(combos) // 2} (kinds x districts, two modes)")
    plans = {"cached": combos[0::2][:a.runs], "naive": combos[1::2][:a.runs]}
    results: dict[str, dict[str, Any]] = {}
    for mode in ("cached", "naive"):
        log(f"{mode}: serving (refresh {a.refresh:g} s), {a.screens} other walls polling ...")
        served = Served(db, naive=mode == "naive", refresh_s=a.refresh)
        try:
            results[mode] = measure(db, served, plans[mode], refresh_s=a.refresh, minutes=a.minutes,
                                    load_screens=a.screens)
        finally:
            served.close()
    cached, naive = results["cached"], results["naive"]
    print(f"\nepisode start (ramp 0) -> takeover banner on the district wall, refresh {a.refresh:g} s, "
          f"{a.screens} other walls polling, {a.runs} runs per mode (seed {seed_s:.0f} s)")
    print(f"{'':24}{'cached':>12}{'naive':>12}{'naive/cached':>14}")
    for label, key in (("delay p95 (s)", "p95_s"), ("delay median (s)", "median_s"), ("delay max (s)", "max_s"),
                       ("missed", "missed"), ("callback p95 server (ms)", "load_server_p95_ms"),
                       ("wall poll p95 (ms)", "load_wall_p95_ms"),
                       ("SQL statements/tick", "load_queries_per_tick"), ("load errors", "load_errors")):
        print(f"{label:24}{cached.get(key)!s:>12}{naive.get(key)!s:>12}{ratio(naive.get(key), cached.get(key))!s:>14}")
    summary = {"bench": "scenario_takeover", "refresh_s": a.refresh, "runs": a.runs, "screens": a.screens,
               "cached": cached, "naive": naive,
               "ratio_delay_p95": ratio(naive["p95_s"], cached["p95_s"]),
               "ratio_poll_p95": ratio(naive["load_wall_p95_ms"], cached["load_wall_p95_ms"]),
               "ratio_statements_per_tick": ratio(naive["load_queries_per_tick"], cached["load_queries_per_tick"])}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
