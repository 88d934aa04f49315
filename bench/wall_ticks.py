"""What a wall tick costs the database and the network, with 1 and N screens, against a naive
baseline in the same run (tick cache off, full payloads: CITYWALL_NAIVE=1).

    python bench/wall_ticks.py [--screens 50] [--ticks 4] [--refresh 5]

Seeds a SQLite demo city (1 day of history), serves the real app on loopback, and drives it the
way browsers do: every screen POSTs the wall's real refresh callback to /_dash-update-component
once per tick on the browser's poll schedule (first polls out of phase), each keeping what the
server told it (the tick it applied).
Counts database statements with a SQLAlchemy event. Prints a table; the last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from bench.wall_client import PageSpec  # noqa: E402
from data_access.settings import Settings  # noqa: E402
from feeder.loop import SimConfig, Simulator  # noqa: E402


def seed(url: str) -> None:
    from data_access.db import init_db, make_engine, utc_now
    from feeder.pack import load_city_pack

    engine = make_engine(url)
    init_db(engine)
    load_city_pack(engine, pack_dir=SimConfig().pack_dir)
    sim = Simulator(SimConfig(backfill_days=1))
    sim.prepare(engine)
    sim.backfill(engine, days=1, now=utc_now())
    engine.dispose()


class Served:
    """One app on a loopback port, with a statement counter on its engine."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        runtime = self.app.server.extensions["citywall"]
        self.statements = 0
        self._lock = threading.Lock()

        @sa.event.listens_for(runtime.engine, "before_cursor_execute")
        def count(*_args: object) -> None:
            with self._lock:
                self.statements += 1

        self.server = make_server("127.0.0.1", 0, self.app.server, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        requests.get(self.url + "/", timeout=30)  # first request: Dash registers its callbacks
        self.spec = PageSpec.read(self.url)

    def wall_payload(self, n: int, signatures: dict) -> dict:
        return self.spec.wall_payload(n, signatures)

    def close(self) -> None:
        self.server.shutdown()


def drive(served: Served, *, screens: int, ticks: int, refresh_s: float) -> dict:
    """Every screen refreshes once per tick on the browser's schedule (bench/wall_client.PollSchedule),
    first polls out of phase; the first tick (full payloads) is warm-up."""
    latencies: list[float] = []
    steady_bytes: list[int] = []
    errors = 0
    lock = threading.Lock()

    def screen(index: int) -> None:
        nonlocal errors
        session = requests.Session()
        signatures: dict = {}
        schedule = served.spec.schedule(index / screens)  # the browser's own poll schedule (citywall.js)
        time.sleep(refresh_s * index / screens)  # the first poll out of phase, as page loads are
        for n in range(1, ticks + 2):
            due = schedule.sent_now(time.time())
            started = time.perf_counter()
            try:
                reply = session.post(served.url + "/_dash-update-component",
                                     json=served.wall_payload(n, signatures), timeout=30)
                body = reply.content
                data = reply.json()["response"]
                signatures = served.spec.wall_kept(data, signatures)
                due = schedule.after_reply(data.get("status-store", {}).get("data"), time.time(), due)
            except (requests.RequestException, ValueError, KeyError):
                with lock:
                    errors += 1
                time.sleep(max(0.0, due - time.time()))
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if n > 1:
                with lock:
                    latencies.append(elapsed)
                    steady_bytes.append(len(body))
            time.sleep(max(0.0, due - time.time()))

    served.statements = 0
    time.sleep(refresh_s)  # let the warm-up tick's cache entry expire
    threads = [threading.Thread(target=screen, args=(i,)) for i in range(screens)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall_ticks = (time.perf_counter() - began) / refresh_s
    latencies.sort()
    return {
        "screens": screens,
        "queries_per_tick": round(served.statements / wall_ticks, 1),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1) if latencies else None,
        "median_ms": round(statistics.median(latencies), 1) if latencies else None,
        "bytes_per_request": int(statistics.mean(steady_bytes)) if steady_bytes else None,
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", type=int, default=50)
    parser.add_argument("--ticks", type=int, default=4)
    parser.add_argument("--refresh", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        seed(url)
        base = Settings(database_url=url, refresh_s=args.refresh, feeder=False)
        results = {}
        for label, settings in (("cached", base), ("naive", replace(base, naive=True))):
            served = Served(settings)
            try:
                for screens in (1, args.screens):
                    results[(label, screens)] = drive(served, screens=screens, ticks=args.ticks,
                                                      refresh_s=args.refresh)
            finally:
                served.close()
    print(f"{'mode':8} {'screens':>7} {'queries/tick':>13} {'p95 ms':>8} {'median ms':>10} {'bytes/req':>10}"
          f" {'errors':>6}")
    for (label, screens), r in results.items():
        print(f"{label:8} {screens:>7} {r['queries_per_tick']:>13} {r['p95_ms']!s:>8} {r['median_ms']!s:>10} "
              f"{r['bytes_per_request']!s:>10} {r['errors']:>6}")
    cached_n, naive_n = results[("cached", args.screens)], results[("naive", args.screens)]
    summary = {
        "queries_per_tick_1_screen": results[("cached", 1)]["queries_per_tick"],
        f"queries_per_tick_{args.screens}_screens": cached_n["queries_per_tick"],
        f"naive_queries_per_tick_{args.screens}_screens": naive_n["queries_per_tick"],
        f"callback_p95_ms_{args.screens}_screens": cached_n["p95_ms"],
        f"naive_callback_p95_ms_{args.screens}_screens": naive_n["p95_ms"],
        "bytes_per_tick_steady": cached_n["bytes_per_request"],
        "naive_bytes_per_tick": naive_n["bytes_per_request"],
        "query_ratio_naive_over_cached": round(naive_n["queries_per_tick"] / max(cached_n["queries_per_tick"], 0.1), 1),
        "bytes_ratio_naive_over_cached": round(naive_n["bytes_per_request"] / max(cached_n["bytes_per_request"], 1), 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
