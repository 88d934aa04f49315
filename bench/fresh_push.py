"""Freshness in Chromium with 1,000 other screens connected by push (issue 16 target: p95 ≤ 6 s).

    python bench/fresh_push.py [--screens 1000] [--samples 20] [--baseline-samples 6] [--refresh 5]

The real app as bench/push.py serves it (gunicorn, 3 workers, the tick cache in Redis, the feeder;
``CITYWALL_TRANSPORT=push``) on the demo city. First a baseline: bench/run.py's freshness probe
(``measure_freshness``: a reading inserted into the database -> the wall in Chromium shows it,
noted by a MutationObserver) with no other screen. Then the same probe while ``--screens``
lightweight pushed screens (bench/push.py's ``screen_group``: each holds the wall's push stream and
reads every event) are connected; the Chromium wall is pushed too. Reported: freshness p50/p95 of
both, their ratio, the load average during each, the load generator's CPU share, the server's CPU
and memory, and how many of the N screens still held the newest ticks at the end (connected).
"""
from __future__ import annotations

import argparse
import json
import math
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

import psutil  # noqa: E402

from bench.push import Server, log, screen_group  # noqa: E402
from bench.run import DEFAULT_PG, measure_freshness, new_database, seed_demo  # noqa: E402


class LoadWatch:
    """The 1-minute load average, sampled every few seconds while a phase runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(5):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float | None]:
        self._stop.set()
        self._thread.join()
        if not self.samples:
            return {"load1_mean": None, "load1_max": None}
        return {"load1_mean": round(sum(self.samples) / len(self.samples), 1), "load1_max": round(max(self.samples), 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screens", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--baseline-samples", type=int, default=6)
    ap.add_argument("--refresh", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--procs", type=int, default=3, help="load-generator processes")
    ap.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--pg", default=DEFAULT_PG)
    ap.add_argument("--port", type=int, default=8187)
    ap.add_argument("--redis-db", type=int, default=13)
    a = ap.parse_args()
    started = time.time()
    result: dict[str, Any] = {"screens": a.screens, "refresh_s": a.refresh, "workers": a.workers, "backend": a.backend}
    with tempfile.TemporaryDirectory(prefix="citywall-freshpush-") as tmp:
        db = new_database(a.backend, Path(tmp), "freshpush", a.pg)
        try:
            log(f"seeding the demo city on {a.backend}")
            seed_demo(db, days=0.1)
            per_worker = math.ceil(a.screens / a.workers * 1.5) + 10  # connections do not spread evenly
            # bench/push.py's screens do not reconnect: their streams must outlast the probe (a browser's
            # reconnection every 5 minutes is 3 a second for 1,000 screens: bench/long_tab.py covers it)
            os.environ["CITYWALL_PUSH_STREAM_MAX_S"] = "3600"
            server = Server(db.url, port=a.port, redis_db=a.redis_db, workers=a.workers,
                            streams_per_worker=per_worker, refresh_s=a.refresh)
            try:
                if a.baseline_samples:
                    log(f"baseline: freshness with no other screen ({a.baseline_samples} samples)")
                    watch = LoadWatch()
                    base = measure_freshness(db, server, samples=a.baseline_samples, refresh_s=a.refresh,
                                             load_screens=0)
                    result["baseline"] = {"p50_s": base["median_s"], "p95_s": base["p95_s"],
                                          "samples": base["samples"], **watch.stop()}
                    log(json.dumps(result["baseline"]))
                # The screens stay connected well past the probe (it takes about 2 ticks a sample, plus reloads).
                ramp_s = 20.0
                start_at = time.time() + 2
                end_at = start_at + ramp_s + 30 + a.samples * a.refresh * 3
                queue: Any = multiprocessing.Queue()
                sizes = [a.screens // a.procs + (1 if i < a.screens % a.procs else 0) for i in range(a.procs)]
                groups = [multiprocessing.Process(target=screen_group, args=(
                    "push", server.url, server.spec, n, 3000 + i, start_at, ramp_s, end_at, queue))
                    for i, n in enumerate(sizes) if n]
                for group in groups:
                    group.start()
                log(f"{a.screens} pushed screens connecting over {ramp_s:g} s")
                time.sleep(ramp_s + 2 + 2 * a.refresh)
                watch = LoadWatch()
                machine0, server0 = psutil.cpu_times(), server.cpu_s()
                probe_at = time.time()
                log(f"freshness with {a.screens} screens connected ({a.samples} samples)")
                fresh = measure_freshness(db, server, samples=a.samples, refresh_s=a.refresh, load_screens=0)
                probe_s = time.time() - probe_at
                machine1, server1 = psutil.cpu_times(), server.cpu_s()
                loaded = watch.stop()
                rss = server.rss_mb()
                results = [queue.get(timeout=end_at - time.time() + 120) for _ in groups]
                for group in groups:
                    group.join(timeout=30)
            finally:
                server.close()
        finally:
            db.cleanup()
    busy = sum(getattr(machine1, f) - getattr(machine0, f) for f in ("user", "system", "nice", "irq", "softirq"))
    helds = [h for r in results for h in r["held"]]
    newest = max((max(h) for h in helds if h), default=0)
    # connected at the end: held one of the last 3 ticks any screen held
    connected = sum(1 for h in helds if h and max(h) >= newest - 2)
    during = [h for h in helds if h]
    ticks_in_probe = math.floor(probe_s / a.refresh)
    result["loaded"] = {"p50_s": fresh["median_s"], "p95_s": fresh["p95_s"], "samples": fresh["samples"], **loaded,
                        "connected_at_end": connected, "screens_with_ticks": len(during),
                        "errors": sum(r["errors"] for r in results),
                        "gen_cpu_share": round(sum(r["cpu_s"] for r in results) / busy, 3) if busy else None,
                        "server_cpu_of_cores": round((server1 - server0) / (probe_s * (os.cpu_count() or 1)), 3),
                        "server_rss_mb": round(rss), "probe_s": round(probe_s), "ticks_in_probe": ticks_in_probe}
    if result.get("baseline", {}).get("p95_s"):
        result["ratio_p95_loaded_over_baseline"] = round(fresh["p95_s"] / result["baseline"]["p95_s"], 2)
    result["target_p95_s"] = 6.0
    result["elapsed_s"] = round(time.time() - started)
    print(f"\n{'phase':9} {'screens':>7} {'p50 s':>6} {'p95 s':>6} {'load1':>6} {'connected':>9} {'errors':>6}")
    if "baseline" in result:
        b = result["baseline"]
        print(f"{'baseline':9} {0:7d} {b['p50_s']:6.2f} {b['p95_s']:6.2f} {b['load1_mean'] or 0:6.1f} "
              f"{'-':>9} {'-':>6}")
    r = result["loaded"]
    print(f"{'loaded':9} {a.screens:7d} {r['p50_s']:6.2f} {r['p95_s']:6.2f} {r['load1_mean'] or 0:6.1f} "
          f"{r['connected_at_end']:9d} {r['errors']:6d}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    raise SystemExit(main())
