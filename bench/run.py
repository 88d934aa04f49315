"""CityWall's benchmark suite, one entry point, a naive baseline in the same run.

    python bench/run.py [--quick] [--postgres URL] [--screens 200] [--workers 3] [--ticks N]
                        [--load-only] [--old-tick-path]

SQLite's 200 screens alone, the tick computer against the path before it, in about two minutes:
``python bench/run.py --quick --postgres '' --load-only --old-tick-path --ticks 6``
(CITYWALL_BENCH_REDIS_DB=N: one Redis database of your own for the whole run).

1. Seeds a demo city (Shanghai pack, 1 day of history; --quick: 2.4 h) on SQLite and on
   PostgreSQL (a fresh schema, dropped afterwards), then adds 1,000,000 incidents of which
   100,000 open (--quick: 100,000 open of 150,000) to the same database: the wall, the map and
   the drill-down are all measured at 100,000 open incidents.
2. For each backend, starts the real app with gunicorn (several workers, gthread, Redis as the
   shared tick cache) and the feeder as its own process (``python -m feeder``), and drives it
   the way browsers do: every screen POSTs the wall's and the wall map's real refresh callbacks
   to /_dash-update-component once per CITYWALL_REFRESH_S, screens started out of phase, each
   keeping what the server told it (the tick it applied, the map signature). Then the same load against
   the naive baseline (CITYWALL_NAIVE=1: no tick cache, full payloads every tick).
   SQL statements are counted across all workers by a SQLAlchemy ``before_cursor_execute``
   listener that increments one Redis key (bench/gunicorn_conf.py).
3. Times the map's per-tick aggregation (pages._map.load_update, city level) and
   the wall's whole per-tick read (data_access.wall.load_wall) at 100,000 open incidents.
4. In headless Chromium: a new reading's insert -> its value on the wall (freshness), and a
   click on a district of the /city map -> the district level drawn (drill-down).
5. Full run only: raises the number of screens until the callback p95 exceeds 250 ms.

Prints a table; the LAST line is one JSON object with every headline figure.
"""
from __future__ import annotations

import argparse
import collections
import itertools
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.wall_client import PageSpec  # noqa: E402

PYTHON = sys.executable
REDIS_URL = os.environ.get("CITYWALL_BENCH_REDIS", "redis://127.0.0.1:6379")
DEFAULT_PG = os.environ.get("CITYWALL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
P95_TARGET_MS = 250.0
MINUTE_TICKS = 12  # steady ticks of the one-screen phase (a minute at 5 s)
RELOAD_EVERY = 3  # freshness samples per page load of the measuring browser
_redis_db = itertools.cycle(range(10, 15))  # one Redis database per served app: runs never see each other's keys
# CITYWALL_BENCH_REDIS_DB: one Redis database for everything this run serves and counts (a shared
# machine: several runs at once never share a db); it is flushed before each served app starts.
OWN_REDIS_DB = os.environ.get("CITYWALL_BENCH_REDIS_DB", "")
LOG_DIR = os.environ.get("CITYWALL_BENCH_LOG_DIR", "")  # set: the served apps' stderr goes to files there


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))], 1)


# --- databases ---------------------------------------------------------------------------------

@dataclass
class Database:
    backend: str
    url: str
    cleanup: Callable[[], None] = lambda: None


def new_database(backend: str, tmp: Path, name: str, pg_url: str) -> Database:
    if backend == "sqlite":
        return Database("sqlite", f"sqlite:///{tmp / (name + '.db')}")
    from bench.map_scale import postgres_schema

    url, drop = postgres_schema(pg_url)
    return Database("postgresql", url, drop)


def seed_demo(db: Database, *, days: float) -> float:
    """The demo city with ``days`` of history (readings and incidents), as the feeder writes it."""
    from data_access.db import init_db, make_engine, utc_now
    from feeder.loop import SimConfig, Simulator
    from feeder.pack import load_city_pack

    started = time.perf_counter()
    engine = make_engine(db.url)
    init_db(engine)
    load_city_pack(engine, pack_dir=SimConfig().pack_dir)
    sim = Simulator(SimConfig(backfill_days=max(1, math.ceil(days))))
    sim.prepare(engine)
    sim.backfill(engine, days=days, now=utc_now())
    engine.dispose()
    return time.perf_counter() - started


def seed_map_scale(db: Database, total: int, n_open: int) -> float:
    """``total`` more incidents (``n_open`` open) over the demo city's grid (bench/map_scale.py)."""
    from bench.map_scale import seed
    from data_access.db import make_engine

    engine = make_engine(db.url)
    started = time.perf_counter()
    seed(engine, total=total, n_open=n_open)
    if db.backend == "postgresql":  # index-only scans need the visibility map (autovacuum does it later)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE incidents")
    engine.dispose()
    return time.perf_counter() - started


def map_agg_ms(db: Database, runs: int = 7) -> dict[str, float]:
    """Median time of the map's per-tick reads (load_update) at city and district level."""
    import pandas as pd

    from data_access import areas as queries
    from data_access import incidents
    from data_access.db import make_engine
    from pages import _map as im

    engine = make_engine(db.url)
    tz = pd.Timestamp.now(tz="Asia/Shanghai").tz
    out: dict[str, float] = {}
    try:
        city = queries.city_area(engine=engine)
        district = queries.area_by_code(engine=engine, area_code=queries.areas_at_level(
            engine=engine, level="district")[0].area_code)
        for level, area in (("city", city), ("district", district)):
            im.load_update(engine=engine, area=area, lang="zh", tz=tz)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                im.load_update(engine=engine, area=area, lang="zh", tz=tz)
                times.append((time.perf_counter() - t0) * 1000)
            out[level] = round(statistics.median(times), 1)
        t0 = time.perf_counter()
        incidents.incident_counts(engine=engine, area_code=city.area_code)
        out["incident_counts_city"] = round((time.perf_counter() - t0) * 1000, 1)
        # The wall's whole per-tick read (every panel's query, before the tick cache shares it).
        from data_access.db import utc_now
        from data_access.wall import load_wall

        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            load_wall(engine=engine, area=city, now=utc_now())
            times.append((time.perf_counter() - t0) * 1000)
        out["wall_read_city"] = round(statistics.median(times), 1)
    finally:
        engine.dispose()
    return out


# --- the served app ----------------------------------------------------------------------------

def free_port() -> int:
    """A free port: in CITYWALL_BENCH_PORTS (``8150-8159``, a shared machine's range of one's own) when set."""
    wanted = os.environ.get("CITYWALL_BENCH_PORTS", "")
    if wanted:
        low, _, high = wanted.partition("-")
        for port in range(int(low), int(high or low) + 1):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise RuntimeError(f"CITYWALL_BENCH_PORTS={wanted}: no free port")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children (gunicorn's arbiter and workers)."""
    import psutil

    total = 0.0
    for proc in _tree(pid):
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def tree_rss_mb(pid: int) -> float:
    """Resident memory (MB) of a process and its children."""
    import psutil

    total = 0
    for proc in _tree(pid):
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def _tree(pid: int) -> list:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def push_sizing(screens: int) -> int:
    """Push streams one gunicorn worker may hold for ``screens`` pushed screens (CITYWALL_PUSH_STREAMS;
    its threads must exceed it). Connections do not spread evenly over the workers (with 1.5× the even
    share, 65 of 500 pushed screens failed in one run), and a refused screen would poll, so a benchmark
    of push lets any worker hold them all: gthread starts its threads only when they are needed."""
    return screens + 10


def read_spec(url: str) -> PageSpec:
    """The wall page's spec, read again while a worker still starting answers without the pages' callbacks."""
    for attempt in range(10):
        try:
            return PageSpec.read(url)
        except (StopIteration, KeyError, ValueError, requests.RequestException):
            if attempt == 9:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


class Served:
    """gunicorn app:server (N workers, Redis cache when N > 1) + the feeder as its own process."""

    def __init__(self, db: Database, *, workers: int, naive: bool, refresh_s: float, feeder: bool = True,
                 threads: int = 8, counter_db: int = 15, feeder_args: Sequence[str] = (),
                 start_timeout_s: float = 60, env: dict[str, str] | None = None) -> None:
        """``counter_db``: the Redis db of the SQL-statement and callback-time counters (another benchmark
        running at the same time keeps its own); ``feeder_args``: added to the feeder's command line;
        ``env``: more variables for the app and the feeder (e.g. CITYWALL_TICK_COMPUTER)."""
        self.port = free_port()
        if OWN_REDIS_DB:
            counter_db = int(OWN_REDIS_DB)
        self.url = f"http://127.0.0.1:{self.port}"
        self.counter_key = f"citywall-bench:{uuid.uuid4().hex[:8]}:statements"
        counter_url = f"{REDIS_URL}/{counter_db}"
        self.counter = redis.Redis.from_url(counter_url)
        self.redis_db = int(OWN_REDIS_DB) if OWN_REDIS_DB else next(_redis_db)
        if OWN_REDIS_DB:
            redis.Redis.from_url(f"{REDIS_URL}/{self.redis_db}").flushdb()
        env = {**os.environ, "CITYWALL_DATABASE_URL": db.url, "CITYWALL_REFRESH_S": str(refresh_s),
               "CITYWALL_NAIVE": "1" if naive else "0", "CITYWALL_FEEDER": "0",
               "CITYWALL_REDIS_URL": f"{REDIS_URL}/{self.redis_db}" if workers > 1 else "",
               "CITYWALL_BENCH_COUNTER": self.counter_key, "CITYWALL_BENCH_COUNTER_REDIS": counter_url,
               "CITYWALL_BENCH_THREADS": str(threads), "PYTHONPATH": str(ROOT), **(env or {})}
        self.procs: list[subprocess.Popen] = []
        self.procs.append(subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "bench" / "gunicorn_conf.py"), "-w", str(workers),
             "-b", f"127.0.0.1:{self.port}", "app:server"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self._log("gunicorn"), start_new_session=True))
        if feeder:
            self.procs.append(subprocess.Popen(
                [PYTHON, "-m", "feeder", "--auto-rainstorm-after", "-1", *feeder_args], cwd=ROOT,
                env={**env, "CITYWALL_BENCH_COUNTER": ""}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True))
        deadline = time.monotonic() + start_timeout_s
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/_dash-layout", timeout=5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            self.close()
            raise RuntimeError("gunicorn did not start")
        try:
            self.spec = read_spec(self.url)
        except BaseException:
            self.close()
            raise

    def _log(self, name: str) -> Any:
        if not LOG_DIR:
            return subprocess.DEVNULL
        Path(LOG_DIR).mkdir(parents=True, exist_ok=True)
        run = self.counter_key.split(":")[1]  # one file per served app, even on a reused port
        return open(Path(LOG_DIR) / f"{name}-{self.port}-{run}.log", "w")  # noqa: SIM115 - the process holds it

    def statements(self) -> int:
        return int(self.counter.get(self.counter_key) or 0)

    def cpu_s(self) -> float:  # gunicorn's processes (the feeder apart)
        return tree_cpu_s(self.procs[0].pid)

    def rss_mb(self) -> float:
        return tree_rss_mb(self.procs[0].pid)

    def server_times(self, *, reset: bool = False) -> list[float]:
        """Milliseconds gunicorn spent on each callback request since the last reset (bench/gunicorn_conf.py)."""
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


SCREENS_PER_PROCESS = 100  # the load generator's processes: one Python process's GIL is not the bottleneck


def _screen_group(url: str, spec: PageSpec, group: list[tuple[int, float, float]], ticks: int, refresh_s: float,
                  stop: Any, stop_at_epoch: float, out: Any, timeout_s: float) -> None:
    """One load-generator process: a thread per screen (index, share, phase); puts its figures in ``out``."""
    latencies: list[float] = []
    sizes: dict[str, list[int]] = {"wall": [], "map": []}
    by_kind: dict[str, list[float]] = {"wall": [], "map": []}
    request_bytes: list[int] = []
    ready: list[int] = []  # when in its window each tick's wall was ready (ms), as the replies say
    helds: list[dict[int, float]] = []  # per screen: tick -> when it first held it (epoch s)
    ready_by_tick: dict[int, tuple[int, int]] = {}
    errors = [0]
    kinds: collections.Counter = collections.Counter()
    lock = threading.Lock()

    def screen(index: int, share: float, phase: float) -> None:
        session = requests.Session()
        headers = {"Content-Type": "application/json"}
        applied: dict = {}
        sig = spec.map_sig
        schedule = spec.schedule(share)
        now = time.time()
        due = {"wall": now + phase, "map": now + phase}
        done = {"wall": 0, "map": 0}
        held: dict[int, float] = {}
        with lock:
            helds.append(held)
        while True:
            if stop is not None:
                if stop.is_set():
                    break
            elif min(done.values()) > ticks or time.time() > stop_at_epoch:
                break
            kind = min(due, key=due.get) if stop is not None else min(
                (k for k in due if done[k] <= ticks), key=due.get)
            time.sleep(max(0.0, due[kind] - time.time()))
            n = done[kind] + 1
            body = json.dumps(spec.wall_payload(n, applied) if kind == "wall" else spec.map_payload(n, sig))
            due[kind] = schedule.sent_now(time.time()) if kind == "wall" else due[kind] + refresh_s
            t0 = time.perf_counter()
            try:
                reply = session.post(url + "/_dash-update-component", data=body, headers=headers, timeout=timeout_s)
                content = reply.content
                if reply.status_code not in (200, 204):
                    raise ValueError(reply.status_code)
                data = reply.json()["response"] if reply.status_code == 200 and content else {}
            except (requests.RequestException, ValueError, KeyError) as exc:
                with lock:
                    errors[0] += 1
                    kinds[type(exc).__name__ if not isinstance(exc, ValueError) else f"HTTP {exc}"] += 1
                done[kind] = n
                continue
            elapsed = (time.perf_counter() - t0) * 1000
            done[kind] = n
            status = data.get("status-store", {}).get("data", {}) if kind == "wall" else {}
            if kind == "wall":
                if status.get("ok") and isinstance(status.get("tick"), int):
                    held.setdefault(status["tick"], time.time())
                    if isinstance(status.get("ready_ms"), int):
                        with lock:
                            ready_by_tick.setdefault(status["tick"], (status["ready_ms"], 0))
                applied = spec.wall_kept(data, applied)
                due["wall"] = schedule.after_reply(status, time.time(), due["wall"])
            else:
                for key, value in data.items():
                    if '"cw-map-sig"' in key:
                        sig = value["data"]
            if n > 1:
                with lock:
                    latencies.append(elapsed)
                    by_kind[kind].append(elapsed)
                    sizes[kind].append(len(content))
                    request_bytes.append(len(body))
                    if isinstance(status.get("ready_ms"), int):
                        ready.append(status["ready_ms"])

    threads = [threading.Thread(target=screen, args=item, daemon=True) for item in group]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put({"latencies": latencies, "by_kind": by_kind, "sizes": sizes, "request_bytes": request_bytes, "ready": ready,
             "errors": errors[0], "error_kinds": dict(kinds), "helds": helds, "ready_by_tick": ready_by_tick})


def probe_bytes(served: Served) -> int | None:
    """One screen's wall + map reply on its second request (no schedule, no load): what a steady
    tick weighs when the baseline sends everything every tick (its replies do not depend on load).
    Taken before the baseline's load phase (an overwhelmed baseline works off the requests it
    queued long after their clients gave up); the long timeout is for a slow machine."""
    spec = served.spec
    try:
        return _probe_bytes(served, spec)
    except requests.RequestException as exc:
        log(f"  the naive baseline did not answer the bytes probe: {type(exc).__name__}")
        return None


def _probe_bytes(served: Served, spec: PageSpec) -> int | None:
    session = requests.Session()
    applied: dict = {}
    sig = spec.map_sig
    sizes: dict[str, int] = {}
    for n in (1, 2):
        wall = session.post(served.url + "/_dash-update-component", json=spec.wall_payload(n, applied), timeout=300)
        applied = spec.wall_kept(wall.json()["response"], applied) if wall.ok else applied
        map_reply = session.post(served.url + "/_dash-update-component", json=spec.map_payload(n, sig), timeout=300)
        if not (wall.ok and map_reply.ok):
            return None
        sizes = {"wall": len(wall.content), "map": len(map_reply.content)}
    return sizes["wall"] + sizes["map"]


def drive(served: Served, *, screens: int, ticks: int, refresh_s: float, stop: Any = None,
          timeout_s: float = 20.0) -> dict[str, Any]:
    """``screens`` browsers, each doing what a wall page does: the wall refresh on the browser's
    poll schedule (bench/wall_client.PollSchedule: just after each tick's data is ready, spread
    between screens) and the map refresh on its own dcc.Interval (a random phase). The first
    request of each kind per screen (full payloads, like a page load) is warm-up; the next
    ``ticks`` of each are steady state (or until ``stop``, a multiprocessing Event, is set).

    The screens run in several processes (SCREENS_PER_PROCESS each), on the same 2 cores as the
    server. Latency is measured twice: by the screens (HTTP round trip, including the load
    generator's own scheduling) and by gunicorn around each callback request (server-side)."""
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(screens)
    items = [(i, rng.random(), refresh_s * i / screens) for i in range(screens)]
    groups = [items[i::max(1, math.ceil(screens / SCREENS_PER_PROCESS))]
              for i in range(max(1, math.ceil(screens / SCREENS_PER_PROCESS)))]
    time.sleep(refresh_s)  # a fresh tick window: nothing cached from the previous phase
    before = served.statements()
    served.server_times(reset=True)
    out = ctx.Queue()
    stop_at_epoch = time.time() + refresh_s * (ticks + 2) + 20
    procs = [ctx.Process(target=_screen_group, args=(served.url, served.spec, g, ticks, refresh_s, stop,
                                                     stop_at_epoch, out, timeout_s), daemon=True) for g in groups]
    began = time.perf_counter()
    for proc in procs:
        proc.start()
    parts = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    elapsed_ticks = (time.perf_counter() - began) / refresh_s
    statements = served.statements() - before
    server_ms = served.server_times()
    latencies = [x for part in parts for x in part["latencies"]]
    ready = [float(x) for part in parts for x in part["ready"]]
    request_bytes = [x for part in parts for x in part["request_bytes"]]

    def mean(values: list[int]) -> int | None:
        return int(statistics.mean(values)) if values else None

    from bench.push import delivery_figures  # one home for delivery (the pushed screens' too)

    helds = [h for part in parts for h in part["helds"]]
    ready_by_tick: dict[int, tuple[int, int]] = {}
    for part in parts:
        for tick, stamp in part["ready_by_tick"].items():
            ready_by_tick.setdefault(tick, stamp)
    # the ticks after every screen's first (its page load's): a tick a screen started in is no delivery
    spans = [(min(h), max(h)) for h in helds if h]
    steady = range(max(a for a, _ in spans) + 1, max(b for _, b in spans) + 1) if spans else range(0)
    delivered = delivery_figures(helds, ready_by_tick, steady, refresh_s)
    wall_b = mean([x for part in parts for x in part["sizes"]["wall"]])
    map_b = mean([x for part in parts for x in part["sizes"]["map"]])
    return {
        "screens": screens,
        "queries_per_tick": round(statements / elapsed_ticks, 1),
        "p95_ms": pct(latencies, 0.95), "p50_ms": pct(latencies, 0.5),
        "server_p95_ms": pct(server_ms, 0.95), "server_p50_ms": pct(server_ms, 0.5),
        "wall_p95_ms": pct([x for part in parts for x in part["by_kind"]["wall"]], 0.95),
        "map_p95_ms": pct([x for part in parts for x in part["by_kind"]["map"]], 0.95),
        # one screen's wall reply + map reply per tick, steady state (each kind's mean over its replies)
        "bytes_per_tick": wall_b + map_b if wall_b is not None and map_b is not None else None,
        "wall_bytes": wall_b, "map_bytes": map_b,
        "request_bytes": 2 * mean(request_bytes) if request_bytes else None,
        "requests": len(latencies), "errors": sum(part["errors"] for part in parts),
        "error_kinds": dict(sum((collections.Counter(part["error_kinds"]) for part in parts), collections.Counter())),
        "ready_ms_p50": pct(ready, 0.5), "ready_ms_p95": pct(ready, 0.95),
        "delivery_p95_ms": delivered["delivery_p95_ms"], "delivery_ticks": delivered["ticks"],
        "connected": sum(1 for h in helds if h), "server_rss_mb": round(served.rss_mb(), 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),  # the machine is shared: the load beside every figure
    }


# --- Chromium ----------------------------------------------------------------------------------

def chrome() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = os.environ.get("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1920,1080", "--no-first-run", "--disable-background-networking"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                            options=options)


def wait_js(driver: Any, script: str, timeout: float, poll: float = 0.02) -> float | None:
    """Seconds until ``script`` returns truthy, or None on timeout."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if driver.execute_script(script):
            return time.perf_counter() - started
        time.sleep(poll)
    return None


def measure_freshness(db: Database, served: Served, *, samples: int, refresh_s: float,
                      load_screens: int) -> dict[str, Any]:
    """Insert a reading of an hourly wall indicator (the feeder will not overwrite it), time until
    the wall in Chromium shows its value, while ``load_screens`` other screens poll the same
    server (their polls decide when each tick's data is computed, as in a real control room)."""
    from components.formatting import format_value
    from data_access import schema
    from data_access.db import make_engine, utc_now

    engine = make_engine(db.url)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT indicator_id, decimals FROM v_indicators WHERE on_wall = :t AND "
                                   "level = 'city' AND period_s >= 3600 ORDER BY indicator_id LIMIT 1"),
                           {"t": True}).first()
        city = conn.execute(sa.text("SELECT area_code FROM v_areas WHERE level = 'city'")).scalar_one()
    indicator, decimals = row
    driver = chrome()
    delays: list[float] = []
    stop = multiprocessing.get_context("fork").Event()
    load: dict[str, Any] = {}
    background = threading.Thread(target=lambda: load.update(drive(served, screens=load_screens, ticks=0,
                                                                   refresh_s=refresh_s, stop=stop)), daemon=True)
    if load_screens:
        background.start()
    try:
        selector = f'[data-indicator="{indicator}"] .tile__number'
        rng = random.Random(5)
        for i in range(samples):
            if i % RELOAD_EVERY == 0:  # a new page: a new place in the poll spread, as another screen would have
                driver.get(served.url + "/")
                wait_js(driver, f"const e = document.querySelector('{selector}'); return e && e.textContent !== '' "
                                "&& e.textContent !== '—';", 60)
            # Inserts fall anywhere in a tick window: a uniform delay after the last poll is a uniform phase.
            time.sleep(rng.uniform(0, refresh_s))
            value = 4000 + 37 * i + rng.random()
            text = format_value(value, int(decimals), "zh")
            # The browser notes when the tile shows the value (a MutationObserver: no polling error).
            driver.execute_script(
                """const sel = arguments[0], want = arguments[1];
                   window.__cwSeen = null;
                   const node = document.querySelector(sel);
                   const check = function () { if (node.textContent === want && window.__cwSeen === null) {
                       window.__cwSeen = Date.now(); } };
                   if (window.__cwObserver) { window.__cwObserver.disconnect(); }
                   window.__cwObserver = new MutationObserver(check);
                   window.__cwObserver.observe(node, {childList: true, characterData: true, subtree: true});""",
                selector, text)
            with engine.begin() as conn:
                conn.execute(schema.readings.insert().values(indicator_id=indicator, area_code=city,
                                                             ts=utc_now(), value=value))
            inserted = time.time()  # committed: from here a reader can see it
            seen = wait_js(driver, "return window.__cwSeen !== null;", 4 * refresh_s, poll=0.1)
            seen_at = driver.execute_script("return window.__cwSeen;") if seen is not None else None
            delays.append(round(seen_at / 1000 - inserted, 2) if seen_at else 4 * refresh_s)
    finally:
        stop.set()
        if load_screens:
            background.join()
        driver.quit()
        engine.dispose()
    return {"samples": delays, "p95_s": pct(delays, 0.95), "median_s": pct(delays, 0.5), "indicator": indicator,
            "load_screens": load_screens, "load_p95_ms": load.get("p95_ms"), "load_errors": load.get("errors")}


DRILL_CLICK_JS = """
const sel = '.cw-map[data-level="city"] path.leaflet-interactive';
const paths = Array.from(document.querySelectorAll(sel));
const big = paths.map(p => [p, p.getBBox()]).filter(x => x[1].width * x[1].height > 400)
                 .sort((a, b) => b[1].width * b[1].height - a[1].width * a[1].height);
const pick = big[arguments[0] % Math.max(1, Math.min(big.length, 16))];
if (!pick) { return false; }
window.__cwDrawnMs = null;
// Drawn = the first frame after the district map's polygons are in the page, on the page's clock.
const observer = new MutationObserver(() => {
  if (document.querySelector('.cw-map[data-level="district"] path.leaflet-interactive')) {
    observer.disconnect();
    requestAnimationFrame(() => setTimeout(() => { window.__cwDrawnMs = performance.now() - clickAt; }, 0));
  }
});
observer.observe(document.body, {subtree: true, childList: true});
const clickAt = performance.now();
pick[0].dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true, view: window}));
return true;
"""
CITY_SETTLED_JS = ("return document.querySelectorAll('.cw-page--city .ag-root-wrapper').length >= 2"
                   " && document.querySelector('.cw-page--city .cw-list .ag-row') !== null;")


def measure_drilldown(served: Served, *, samples: int) -> dict[str, Any]:
    """Click a district on the /city map (a real DOM click on its polygon) -> the district level
    drawn (the first frame after the district map's polygons are in the page), timed on the
    page's own clock. Each click is made on a /city page that has finished loading (its list's
    first rows shown, then 1 s), as a leader's click is; the district's ranking and list are
    mounted after its map and are timed apart (``lists_ms``: click -> the list's first rows)."""
    driver = chrome()
    times: list[float] = []
    lists: list[float] = []
    try:
        for i in range(samples + 1):
            driver.get(served.url + "/city")
            if wait_js(driver, CITY_SETTLED_JS, 60) is None:
                raise RuntimeError("the /city page did not finish loading")
            time.sleep(1.0)
            t0 = time.perf_counter()
            if not driver.execute_script(DRILL_CLICK_JS, i):
                raise RuntimeError("no district polygon to click")
            if wait_js(driver, "return window.__cwDrawnMs != null;", 20) is None:
                raise RuntimeError("the district level was not drawn after the click")
            drawn = driver.execute_script("return window.__cwDrawnMs;")
            listed = wait_js(driver, "return document.querySelector('.cw-page--district .cw-list .ag-row') !== null;",
                             20, poll=0.01)
            if i > 0:  # the first click warms Chromium's and the server's caches of the page's code
                times.append(round(float(drawn), 1))
                if listed is not None:
                    lists.append(round((time.perf_counter() - t0) * 1000, 1))
    finally:
        driver.quit()
    return {"samples_ms": times, "p95_ms": pct(times, 0.95), "median_ms": pct(times, 0.5),
            "lists_ms": lists, "lists_p95_ms": pct(lists, 0.95)}


# --- main --------------------------------------------------------------------------------------

def cpu_reference_s() -> float:
    """Seconds for a fixed pure-Python loop (10 M additions, best of 3): this machine's speed on
    this day, so that absolute figures of runs on different machines or days can be compared."""
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best, 2)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="within 5 minutes on 2 cores")
    ap.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL URL (a fresh schema per database); "
                    "empty: SQLite only")
    ap.add_argument("--screens", type=int, default=200)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--refresh", type=float, default=5.0)
    ap.add_argument("--ticks", type=int, help="steady ticks of each load phase (default 2 with --quick, else 4)")
    ap.add_argument("--load-only", action="store_true",
                    help="only the screens' load at --screens (no naive baseline, one-screen phase or browser): "
                    "e.g. --quick --postgres '' --load-only for SQLite's 200 screens alone")
    ap.add_argument("--old-tick-path", action="store_true",
                    help="also serve with the tick's reads inside the web workers (CITYWALL_TICK_COMPUTER=off), "
                    "the path before the tick computer, in the same run")
    return ap.parse_args()


@dataclass
class Plan:
    """What one run measures: the sizes of --quick or of the full run."""

    quick: bool
    ticks: int
    total: int
    n_open: int
    history_days: float
    backends: list[str]

    @classmethod
    def of(cls, a: argparse.Namespace) -> Plan:
        total, n_open = (150_000, 100_000) if a.quick else (1_000_000, 100_000)
        return cls(quick=a.quick, ticks=a.ticks or (2 if a.quick else 4), total=total, n_open=n_open,
                   history_days=0.1 if a.quick else 1.0,  # the wall's sparklines need the last hour
                   backends=["sqlite"] + (["postgresql"] if a.postgres else []))


def seed_and_time_reads(plan: Plan, a: argparse.Namespace, tmp: Path, made: list[Database],
                        summary: dict[str, Any]) -> dict[str, Database]:
    """One database per backend: the demo city, then the incidents at scale; the per-tick reads timed."""
    demo: dict[str, Database] = {}
    for backend in plan.backends:
        demo[backend] = new_database(backend, tmp, "demo", a.postgres)
        made.append(demo[backend])
        log(f"seeding the demo city ({plan.history_days:g} d of history) on {backend}: "
            f"{seed_demo(demo[backend], days=plan.history_days):.1f} s")
        log(f"seeding {plan.total:,} incidents ({plan.n_open:,} open) on {backend}: "
            f"{seed_map_scale(demo[backend], plan.total, plan.n_open):.1f} s")
        agg = map_agg_ms(demo[backend])
        summary[f"map_agg_ms_{'postgres' if backend == 'postgresql' else 'sqlite'}_100k_open"] = agg["city"]
        summary[f"map_agg_district_ms_{backend}"] = agg["district"]
        summary[f"incident_counts_ms_{backend}_{plan.total // 1000}k"] = agg["incident_counts_city"]
        summary[f"wall_read_ms_{backend}"] = agg["wall_read_city"]
        log(f"map aggregation and wall read on {backend}: {agg}")
    return demo


def drive_and_browse(plan: Plan, a: argparse.Namespace, demo: dict[str, Database], rows: list,
                     summary: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Every backend served cached and naive, driven by screens; the browser measures on one of them.
    Returns the drill-down's and freshness's figures, and the pushed phase's by backend."""
    browser_backend = "postgresql" if "postgresql" in plan.backends else "sqlite"
    drill: dict[str, Any] = {}
    fresh: dict[str, Any] = {}
    pushed: dict[str, Any] = {}
    modes = ("cached", "old-tick") if a.old_tick_path else ("cached",)
    for backend in plan.backends:
        for mode in modes if a.load_only else (*modes, "naive"):
            if mode == "naive" and plan.quick and backend != "sqlite":
                continue  # the quick run's baseline is SQLite's (the full run measures both)
            # The naive baseline with one screen too: at 200 it falls over and few replies come back.
            wanted = [a.screens] if a.load_only or mode == "old-tick" or (
                plan.quick and (backend != "sqlite" or mode == "naive")) else [1, a.screens]
            # Served as push is deployed (docs/deploy.md): threads beyond its push streams, so that the pushed
            # screens of push_phase follow the polling ones on the same server. Every mode alike: the naive
            # baseline and the old tick path are compared with the same gunicorn.
            streams = push_sizing(a.screens)
            env = {"CITYWALL_TICK_COMPUTER": "off"} if mode == "old-tick" else {}
            served = Served(demo[backend], workers=a.workers, naive=mode == "naive", refresh_s=a.refresh,
                            threads=8 + streams, env={**env, "CITYWALL_PUSH_STREAMS": str(streams)})
            try:
                if mode == "naive":  # before the load: an overwhelmed baseline answers minutes later
                    summary[f"naive_probe_bytes_per_tick_{backend}"] = probe_bytes(served)
                for screens in wanted:
                    # One screen for a whole minute: each minute every age and sparkline moves on once,
                    # so the steady bytes per tick are the mean over a minute, not over a lucky 10 s.
                    phase_ticks = 1 if mode == "naive" else (MINUTE_TICKS if screens == 1 else plan.ticks)
                    log(f"{backend} {mode}: {screens} screens, {phase_ticks} steady ticks")
                    result = drive(served, screens=screens, ticks=phase_ticks, refresh_s=a.refresh)
                    rows.append((backend, mode, result))
                    log(f"  {result}")
                if mode == "cached" and backend == "sqlite":  # the same screens pushed, same server
                    pushed[backend] = push_phase(served, a, plan)
                if mode == "cached" and backend == browser_backend and not a.load_only:
                    log(f"Chromium: drill-down on the /city map ({backend})")
                    drill = measure_drilldown(served, samples=6 if plan.quick else 20)
                    log(f"  {drill}")
                    log(f"Chromium: freshness of a new reading on the wall, {a.screens} other screens polling")
                    fresh = measure_freshness(demo[backend], served, samples=8 if plan.quick else 30,
                                              refresh_s=a.refresh, load_screens=a.screens)
                    log(f"  {fresh}")
                if mode == "cached" and not plan.quick and backend == "postgresql" and not a.load_only:
                    summary["max_screens_p95_under_250ms"] = find_max_screens(served, a, rows, backend)
            finally:
                served.close()
    summary["drilldown_db"] = f"{browser_backend}, {plan.n_open} open of {plan.total}"
    return drill, fresh, pushed


PUSH_EXTRA_TICKS = 3  # the pushed phase's ticks beyond the polling phase's (ramp-up and leaving left out)


def push_phase(served: Served, a: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    """The polling phase's screens again, pushed (bench/push.py's screens and figures, one home)."""
    from bench.push import run_phase

    log(f"push: {a.screens} screens, {plan.ticks + PUSH_EXTRA_TICKS} ticks")
    result = run_phase("push", served, screens=a.screens, procs=max(1, math.ceil(a.screens / 500)),
                       ticks=plan.ticks + PUSH_EXTRA_TICKS, refresh_s=a.refresh)
    log(f"  {result}")
    return result


def transports(polled: dict[str, Any], pushed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Polling and push side by side (the same screens, the same server, one after the other)."""
    out = {}
    if polled:
        out["poll"] = {"delivery_p95_ms": polled.get("delivery_p95_ms"), "callback_p95_ms": polled.get("p95_ms"),
                       "screens_connected": polled.get("connected"), "server_mb": polled.get("server_rss_mb"),
                       "errors": polled.get("errors"), "load_avg_1m": polled.get("load_avg_1m")}
    if pushed:
        out["push"] = {"delivery_p95_ms": pushed.get("delivery_p95_ms"), "fanout_p95_ms": pushed.get("fanout_p95_ms"),
                       "screens_connected": pushed.get("connected"), "server_mb": pushed.get("server_rss_mb"),
                       "errors": pushed.get("errors"), "gen_cpu_share": pushed.get("gen_cpu_share"),
                       "load_avg_1m": pushed.get("load_avg_1m")}
    return out


def ratio(a_value: object, b_value: object) -> float | None:
    return round(a_value / b_value, 1) if isinstance(a_value, int | float) and isinstance(
        b_value, int | float) and b_value else None


def summarize(plan: Plan, a: argparse.Namespace, rows: list, summary: dict[str, Any], drill: dict[str, Any],
              fresh: dict[str, Any], pushed_by_backend: dict[str, Any]) -> None:
    """The headline figures, each against the naive baseline of the same run where there is one."""
    def pick(backend: str, mode: str, screens: int) -> dict:
        return next((r for b, m, r in rows if b == backend and m == mode and r["screens"] == screens), {})

    main_backend = "sqlite"
    one, many, naive = (pick(main_backend, "cached", 1), pick(main_backend, "cached", a.screens),
                        pick(main_backend, "naive", a.screens))
    summary.update({
        "queries_per_tick_1_screen": one.get("queries_per_tick"),
        f"queries_per_tick_{a.screens}_screens": many.get("queries_per_tick"),
        f"naive_queries_per_tick_{a.screens}_screens": naive.get("queries_per_tick"),
        f"callback_p95_ms_{a.screens}_screens": many.get("p95_ms"),
        f"naive_callback_p95_ms_{a.screens}_screens": naive.get("p95_ms"),
        f"server_callback_p95_ms_{a.screens}_screens": many.get("server_p95_ms"),
        f"naive_server_callback_p95_ms_{a.screens}_screens": naive.get("server_p95_ms"),
        "bytes_per_tick_steady": one.get("bytes_per_tick"),  # one screen over a minute (see MINUTE_TICKS)
        f"bytes_per_tick_{a.screens}_screens_window": many.get("bytes_per_tick"),
        "naive_bytes_per_tick": naive.get("bytes_per_tick") or pick(main_backend, "naive", 1).get("bytes_per_tick")
        or summary.get(f"naive_probe_bytes_per_tick_{main_backend}"),
    })
    if "postgresql" in plan.backends:
        pg_many, pg_naive = pick("postgresql", "cached", a.screens), pick("postgresql", "naive", a.screens)
        summary.update({
            f"postgres_queries_per_tick_{a.screens}_screens": pg_many.get("queries_per_tick"),
            f"postgres_naive_queries_per_tick_{a.screens}_screens": pg_naive.get("queries_per_tick"),
            f"postgres_callback_p95_ms_{a.screens}_screens": pg_many.get("p95_ms"),
            f"postgres_naive_callback_p95_ms_{a.screens}_screens": pg_naive.get("p95_ms"),
        })
    summary.update({  # the naive baseline over CityWall, measured in this run
        "ratio_queries_naive_over_cached": ratio(naive.get("queries_per_tick"), many.get("queries_per_tick")),
        "ratio_bytes_naive_over_cached": ratio(summary["naive_bytes_per_tick"], one.get("bytes_per_tick")),
        "ratio_p95_naive_over_cached": ratio(naive.get("p95_ms"), many.get("p95_ms")),
    })
    pushed = pushed_by_backend.get(main_backend, {})
    side = transports(many, pushed)
    summary[f"transports_{main_backend}_{a.screens}_screens"] = side
    for name, figures in side.items():  # flat too: one key per figure
        summary[f"{name}_delivery_p95_ms_{a.screens}_screens"] = figures["delivery_p95_ms"]
        summary[f"{name}_screens_connected"] = figures["screens_connected"]
        summary[f"{name}_server_mb"] = figures["server_mb"]
    if pushed:
        summary["push_gen_cpu_share"] = pushed.get("gen_cpu_share")
        summary["ratio_delivery_p95_poll_over_push"] = ratio(many.get("delivery_p95_ms"), pushed.get("delivery_p95_ms"))
    old = pick(main_backend, "old-tick", a.screens)
    if old:  # the tick's reads inside the web workers (before the tick computer), same run
        summary.update({f"old_tick_callback_p95_ms_{a.screens}_screens": old.get("p95_ms"),
                        f"old_tick_server_callback_p95_ms_{a.screens}_screens": old.get("server_p95_ms"),
                        "ratio_p95_old_tick_over_tick_computer": ratio(old.get("p95_ms"), many.get("p95_ms"))})
    if not drill:
        return
    summary.update({
        "drilldown_p95_ms_browser": drill["p95_ms"],
        "drilldown_lists_p95_ms_browser": drill.get("lists_p95_ms"),
        "freshness_load_screens": fresh.get("load_screens"),
        "freshness_p95_s": fresh["p95_s"],
    })


def print_table(rows: list, drill: dict[str, Any], fresh: dict[str, Any]) -> None:
    header = (f"{'backend':10} {'mode':7} {'screens':>7} {'queries/tick':>12} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'srv p95':>8} {'wall p95':>8} {'map p95':>8} {'B/tick':>8} {'wall B':>8} {'map B':>7} "
              f"{'req B':>7} {'requests':>8} {'errors':>6}")
    print(header)
    for backend, mode, r in rows:
        print(f"{backend:10} {mode:7} {r['screens']:>7} {r['queries_per_tick']:>12} {r['p50_ms']!s:>8} "
              f"{r['p95_ms']!s:>8} {r['server_p95_ms']!s:>8} {r['wall_p95_ms']!s:>8} {r['map_p95_ms']!s:>8} "
              f"{r['bytes_per_tick']!s:>8} {r['wall_bytes']!s:>8} {r['map_bytes']!s:>7} "
              f"{r['request_bytes']!s:>7} {r['requests']:>8} {r['errors']:>6}")
    if not drill:
        return
    print(f"(p50/p95: each screen's HTTP round trip, load generator on the same cores; srv: gunicorn's own time; "
          f"B/tick: one screen's wall + map replies; freshness {fresh.get('samples')} s; "
          f"drill-down {drill.get('samples_ms')} ms)")


def main() -> int:
    a = parse_args()
    plan = Plan.of(a)
    tmp = Path(tempfile.mkdtemp(prefix="cw-run-"))
    made: list[Database] = []
    rows: list[tuple[str, str, dict]] = []
    summary: dict[str, Any] = {"mode": "quick" if plan.quick else "full", "cpus": os.cpu_count(),
                               "cpu_reference_s": cpu_reference_s(), "workers": a.workers,
                               "load_avg_1m": round(os.getloadavg()[0], 2),
                               "refresh_s": a.refresh, "map_seed": f"{plan.total} incidents, {plan.n_open} open"}
    began = time.perf_counter()
    try:
        demo = seed_and_time_reads(plan, a, tmp, made, summary)
        drill, fresh, pushed = drive_and_browse(plan, a, demo, rows, summary)
    finally:
        for db in made:
            db.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    summarize(plan, a, rows, summary, drill, fresh, pushed)
    summary["elapsed_s"] = round(time.perf_counter() - began, 1)
    summary["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    print_table(rows, drill, fresh)
    print(json.dumps(summary))  # the LAST line: every headline figure
    return 0


def find_max_screens(served: Served, a: argparse.Namespace, rows: list, backend: str) -> int:
    """The largest number of screens whose callback p95 (each screen's round trip) holds the
    target: upwards from the phase already measured while it holds, downwards while it does not."""
    measured = next((r for b, m, r in rows if b == backend and m == "cached" and r["screens"] == a.screens), None)

    def holds(result: dict | None) -> bool:
        return bool(result) and result["p95_ms"] is not None and result["p95_ms"] <= P95_TARGET_MS \
            and not result["errors"]

    def run(screens: int) -> dict:
        log(f"{backend} cached: {screens} screens (max-screens search)")
        result = drive(served, screens=screens, ticks=3, refresh_s=a.refresh)
        rows.append((backend, "cached", result))
        log(f"  {result}")
        return result

    if holds(measured):
        best = a.screens
        for screens in (400, 600, 800, 1000, 1200):
            if not holds(run(screens)):
                break
            best = screens
        return best
    for screens in (150, 100, 50, 25):
        if holds(run(screens)):
            return screens
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
