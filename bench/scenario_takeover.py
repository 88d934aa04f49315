"""Issue 13, item 4: from an episode's start to the takeover banner on a wall, with a naive baseline
in the same run.

    python bench/scenario_takeover.py [--runs 10] [--refresh 1] [--screens 20] [--gauge 1]

1. Seeds the demo city on SQLite: the Shanghai pack with its rain gauges (rainfall, waterlogging
   points) reporting every ``--gauge`` seconds instead of every 5 minutes, a few hours of history,
   and tests/data/takeover/scenarios.toml (loaded as ``citywall load-scenarios`` does; its rules
   fire on the first alarm minute), so what is measured is the platform's delay, not the gauge's.
2. Serves it twice at once, the way bench/run.py does (gunicorn app:server, gthread): the app as
   it is, and the naive baseline (CITYWALL_NAIVE=1: no tick cache, so the scenario state is
   computed for every screen's poll instead of once per tick). One feeder (``python -m feeder``)
   writes for both. ``--screens`` other walls poll each app meanwhile (bench/run.py ``drive``).
3. Each run: a Chromium on each app shows the same district's wall; just after a minute begins,
   a rainstorm starts there with ramp 0 (sudden), as ``citywall feed --episode rain:AREA:MIN:0``
   records it (feeder.episodes.start_episode, what that command calls); each browser notes (a
   MutationObserver) when a new pending takeover line is in its banner. The rule works on minute
   averages (data_access/scenarios.py): an episode started late in a minute fires in the next one
   (up to a minute later); started as a minute begins, the first alarm readings carry that minute.

Prints a table; the LAST line is one JSON object (delays in seconds from the episode's commit:
p95 / median / max over ``--runs`` runs per mode; the load's callback p95 (ms, server side) and
SQL statements per tick; naive/cached ratios).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.run import Database, Served, chrome, drive, log, pct, wait_js  # noqa: E402

PYTHON = sys.executable
REDIS_URL = os.environ.get("CITYWALL_BENCH_REDIS", "redis://127.0.0.1:6379")
COUNTER_DB = int(os.environ.get("CITYWALL_BENCH_REDIS_DB", "14"))  # only this benchmark's counter keys
CATALOGUE = ROOT / "tests" / "data" / "takeover" / "scenarios.toml"  # fires on the first alarm minute

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


def served_app(db: Database, *, naive: bool, refresh_s: float, pack: Path, feeder: bool) -> Served:
    """gunicorn app:server (one worker, its in-process tick cache) + the feeder as its own process
    (bench/run.py's Served); SQL statements and callback times counted in this benchmark's Redis db."""
    return Served(db, workers=1, naive=naive, refresh_s=refresh_s, feeder=feeder, counter_db=COUNTER_DB,
                  feeder_args=["--pack", str(pack), "--backfill-days", "0", "--tick", "1"], start_timeout_s=90)


def districts(db: Database) -> list[str]:
    engine = sa.create_engine(db.url)
    with engine.connect() as conn:
        codes = conn.execute(sa.text("SELECT area_code FROM v_areas WHERE level = 'district' ORDER BY area_code"))
        out = [row[0] for row in codes]
    engine.dispose()
    return out


class EpisodeStarter:
    """Records episodes as ``citywall feed --episode SPEC`` does, on an engine made beforehand (the
    moment of the start is what is timed, not an import or a connection)."""

    def __init__(self, db: Database) -> None:
        from data_access.db import make_engine

        self.engine = make_engine(db.url)

    def start(self, spec: str) -> float:
        """The epoch second the episode is committed."""
        from data_access.db import utc_now
        from feeder.episodes import parse_episode, start_episode

        start_episode(self.engine, episode=parse_episode(spec, now=utc_now()))
        return time.time()

    def close(self) -> None:
        self.engine.dispose()


def fast_pack(tmp: Path, gauge_s: int) -> Path:
    """The Shanghai pack with its rain gauges reporting every ``gauge_s`` seconds."""
    from feeder.loop import SimConfig
    from feeder.pack import RAIN_GAUGES, copy_pack

    return copy_pack(SimConfig().pack_dir, tmp / "shanghai", periods=dict.fromkeys(RAIN_GAUGES, gauge_s))


def seed(db: Database, pack: Path, hours: float) -> float:
    from data_access.db import init_db, make_engine, utc_now
    from feeder.loop import SimConfig, Simulator
    from feeder.pack import load_city_pack
    from importers.scenarios import load_scenarios

    started = time.perf_counter()
    engine = make_engine(db.url)
    init_db(engine)
    load_city_pack(engine, pack_dir=pack)
    sim = Simulator(SimConfig(pack_dir=pack, backfill_days=1))
    sim.prepare(engine)
    sim.backfill(engine, days=hours / 24, now=utc_now())
    load_scenarios(engine, path=CATALOGUE)
    engine.dispose()
    return time.perf_counter() - started


def _ready(driver: Any, url: str) -> None:
    driver.get(url)
    if wait_js(driver, "return !!document.querySelector('#wall-takeover-items') && window.__citywallPoll"
                       " && window.__citywallPoll.n >= 1;", 60) is None:
        raise RuntimeError(f"{url} did not load")


def run_all(db: Database, served: dict[str, Served], districts_: list[str], *, runs: int, refresh_s: float,
            load_screens: int) -> dict[str, dict[str, Any]]:
    """``runs`` episodes, one a minute, each watched on both apps; the load meanwhile."""
    drivers = {mode: chrome() for mode in served}
    delays: dict[str, list[float]] = {mode: [] for mode in served}
    missed = {mode: 0 for mode in served}
    stop = multiprocessing.get_context("fork").Event()
    loads: dict[str, dict[str, Any]] = {mode: {} for mode in served}
    threads = [threading.Thread(target=lambda m=mode: loads[m].update(
        drive(served[m], screens=load_screens, ticks=0, refresh_s=refresh_s, stop=stop)), daemon=True)
        for mode in served]
    if load_screens:
        for thread in threads:
            thread.start()
    timeout = 45.0
    starter = EpisodeStarter(db)
    try:
        for district in districts_[:runs]:
            boundary = (time.time() // 60 + 1) * 60
            if boundary - time.time() < 30:  # too late to load the walls before this minute: the next one
                boundary += 60
            time.sleep(max(0.0, boundary - 30 - time.time()))
            for mode, driver in drivers.items():
                _ready(driver, f"{served[mode].url}/wall/{district}")
            while time.time() > boundary - 2:  # the walls took long to load: start in the next minute
                boundary += 60
            time.sleep(max(0.0, boundary - 2 - time.time()))
            for driver in drivers.values():
                driver.execute_script(OBSERVE_JS)
            time.sleep(max(0.0, boundary + 0.2 - time.time()))
            started = starter.start(f"rain:{district}:20:0")
            for mode, driver in drivers.items():
                left = max(0.5, started + timeout - time.time())
                seen = wait_js(driver, "return window.__cwSeen !== null;", left, poll=0.05)
                seen_ms = driver.execute_script("return window.__cwSeen;") if seen is not None else None
                if seen_ms is None:
                    missed[mode] += 1
                    delays[mode].append(timeout)
                else:
                    delays[mode].append(round(seen_ms / 1000 - started, 3))
            log(f"  rain:{district} at :{started % 60:04.1f}: banner after {delays['cached'][-1]:.2f} s "
                f"(naive {delays['naive'][-1]:.2f} s)")
    finally:
        starter.close()
        stop.set()
        if load_screens:
            for thread in threads:
                thread.join()
        for driver in drivers.values():
            driver.quit()
    out = {}
    for mode in served:
        d, load = delays[mode], loads[mode]
        out[mode] = {"runs": len(d), "delays_s": d, "p95_s": pct(d, 0.95), "median_s": pct(d, 0.5),
                     "max_s": max(d) if d else None, "missed": missed[mode], "load_screens": load_screens,
                     "load_server_p95_ms": load.get("server_p95_ms"), "load_wall_p95_ms": load.get("wall_p95_ms"),
                     "load_queries_per_tick": load.get("queries_per_tick"), "load_errors": load.get("errors")}
    return out


def ratio(a: object, b: object) -> float | None:
    return round(a / b, 2) if isinstance(a, int | float) and isinstance(b, int | float) and b else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="episodes (one a minute; at least 10 for the p95)")
    parser.add_argument("--refresh", type=float, default=1.0, help="CITYWALL_REFRESH_S of the served apps")
    parser.add_argument("--screens", type=int, default=20, help="other walls polling each app meanwhile")
    parser.add_argument("--gauge", type=int, default=1, help="seconds between the rain gauges' readings")
    parser.add_argument("--hours", type=float, default=3.0, help="history seeded before the run")
    a = parser.parse_args()
    if a.runs < 1 or a.refresh <= 0 or a.screens < 0 or a.gauge < 1:
        parser.error("--runs >= 1, --refresh > 0, --screens >= 0, --gauge >= 1")
    tmp = Path(tempfile.mkdtemp(prefix="citywall-takeover-"))
    db = Database("sqlite", f"sqlite:///{tmp / 'takeover.db'}")
    pack = fast_pack(tmp, a.gauge)
    log(f"seeding the demo city ({a.hours:g} h of history, rain gauges every {a.gauge} s) ...")
    seed_s = seed(db, pack, a.hours)
    codes = districts(db)
    if a.runs > len(codes):
        parser.error(f"--runs at most {len(codes)} (one district each)")
    served: dict[str, Served] = {}
    try:
        for mode in ("cached", "naive"):
            served[mode] = served_app(db, naive=mode == "naive", refresh_s=a.refresh, pack=pack,
                                      feeder=mode == "cached")
        time.sleep(5)  # the feeder's first live readings
        log(f"{a.runs} runs, one a minute, refresh {a.refresh:g} s, {a.screens} other walls polling each app ...")
        results = run_all(db, served, codes, runs=a.runs, refresh_s=a.refresh, load_screens=a.screens)
    finally:
        for one in served.values():
            one.close()
    cached, naive = results["cached"], results["naive"]
    print(f"\nepisode start (ramp 0, at a minute's start) -> takeover banner on the district wall, refresh "
          f"{a.refresh:g} s, rain gauges every {a.gauge} s, {a.screens} other walls polling each app, {a.runs} runs "
          f"(seed {seed_s:.0f} s)")
    print(f"{'':28}{'cached':>12}{'naive':>12}{'naive/cached':>14}")
    for label, key in (("delay p95 (s)", "p95_s"), ("delay median (s)", "median_s"), ("delay max (s)", "max_s"),
                       ("missed", "missed"), ("callback p95 server (ms)", "load_server_p95_ms"),
                       ("wall poll p95 (ms)", "load_wall_p95_ms"), ("SQL statements/tick", "load_queries_per_tick"),
                       ("load errors", "load_errors")):
        print(f"{label:28}{cached.get(key)!s:>12}{naive.get(key)!s:>12}{ratio(naive.get(key), cached.get(key))!s:>14}")
    summary = {"bench": "scenario_takeover", "refresh_s": a.refresh, "gauge_s": a.gauge, "runs": a.runs,
               "screens": a.screens, "cached": cached, "naive": naive,
               "ratio_delay_p95": ratio(naive["p95_s"], cached["p95_s"]),
               "ratio_server_p95": ratio(naive["load_server_p95_ms"], cached["load_server_p95_ms"]),
               "ratio_statements_per_tick": ratio(naive["load_queries_per_tick"], cached["load_queries_per_tick"])}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
