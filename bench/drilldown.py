"""Drill-down in Chromium: a click on a district polygon of /city -> the district level drawn.

    python bench/drilldown.py [--samples 15] [--postgres URL] [--url DB_URL] [--no-naive]

Seeds a fresh PostgreSQL schema with bench/map_scale.py's seed (150,000 incidents, 100,000 open;
``--url`` reuses an already seeded database instead), serves it with gunicorn like bench/run.py
(2 workers, Redis tick cache, no feeder, no other load), and clicks each of the 16 largest
district polygons in turn (bench/run.py's ``measure_drilldown``: a real DOM click), timing
until the district's map has drawn its polygons. The first click warms Chromium and the server
and is not counted. Then the same against a naive server (``CITYWALL_NAIVE=1``: no tick cache,
so the geometry, the map's counts and the panels are read again for every page). Last line: JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import DEFAULT_PG, Database, Served, measure_drilldown, new_database, seed_map_scale  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=15)
    ap.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL URL (a fresh schema is seeded and dropped)")
    ap.add_argument("--url", help="an already seeded database to use instead (kept)")
    ap.add_argument("--total", type=int, default=150_000)
    ap.add_argument("--open", type=int, default=100_000)
    ap.add_argument("--refresh", type=float, default=5.0)
    ap.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    a = ap.parse_args()
    if a.url:
        db = Database("postgresql" if a.url.startswith("postgresql") else "sqlite", a.url)
    else:
        db = new_database("postgresql", ROOT, "drilldown", a.postgres)
        print(f"seeding {a.total:,} incidents ({a.open:,} open): {seed_map_scale(db, a.total, a.open):.1f} s",
              flush=True)
    out: dict[str, Any] = {"db": f"{db.backend}, {a.open} open of {a.total}" if not a.url else a.url}
    try:
        for mode in ("cached", *(() if a.no_naive else ("naive",))):
            served = Served(db, workers=2, naive=mode == "naive", refresh_s=a.refresh, feeder=False)
            try:
                out[mode] = measure_drilldown(served, samples=a.samples)
            finally:
                served.close()
            print(f"{mode:7} p50 {out[mode]['median_ms']} ms  p95 {out[mode]['p95_ms']} ms  {out[mode]['samples_ms']}",
                  flush=True)
    finally:
        if not a.url:
            db.cleanup()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
