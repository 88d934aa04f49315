"""The shift log's read of one shift (the last 8 hours) on the demo city, SQLite and PostgreSQL.

    python bench/shift_log.py [--days 1] [--runs 5] [--postgres URL] [--sqlite-url URL]

Seeds the demo city with ``--days`` of history (bench/run.py's seed_demo: every indicator of every
area by the minute, incidents), then times ``data_access.shift_log.load_shift_log`` for the last
8 hours (median of ``--runs``), and its alarm transitions against a naive baseline in the same run:
every minute row of the window read into pandas and compared with its predecessor there (what the
SQL's LAG() spares the wire). Both give the same transitions (checked). Last line: JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import DEFAULT_PG, Database, new_database, seed_demo  # noqa: E402


def _median_s(fn: Any, runs: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def naive_transitions(engine: Any, window: Any, lookback: timedelta) -> list[tuple]:
    """Every minute row of the window, diffed in pandas."""
    from data_access.sql import read_frame, utc_text

    rows = read_frame(engine, "SELECT indicator_id, area_code, minute, value, status FROM v_vitals_recent"
                              " WHERE minute >= :lookback AND minute <= :until AND value IS NOT NULL",
                      {"lookback": utc_text(window.since - lookback), "until": utc_text(window.until)},
                      times_in=("minute",))
    rows = rows.sort_values(["indicator_id", "area_code", "minute"]).reset_index(drop=True)
    same = (rows["indicator_id"] == rows["indicator_id"].shift()) & (rows["area_code"] == rows["area_code"].shift())
    previous = rows["status"].shift()
    changed = rows[same & (rows["status"] != previous) & (rows["minute"] >= window.since)]
    return sorted((str(r.indicator_id), str(r.area_code), r.minute) for r in changed.itertuples())


def measure(db: Database, runs: int) -> dict[str, Any]:
    from data_access.db import make_engine, utc_now
    from data_access.shift_log import alarm_transitions, load_shift_log, parse_window
    from data_access.vitals import indicator_catalogue

    engine = make_engine(db.url)
    try:
        window = parse_window(None, None, tz=ZoneInfo("Asia/Shanghai"), now=utc_now())
        catalogue = indicator_catalogue(engine=engine)
        whole_s, log = _median_s(lambda: load_shift_log(engine=engine, window=window), runs)
        sql_s, sql = _median_s(lambda: alarm_transitions(engine=engine, window=window, areas=None,
                                                         catalogue=catalogue), runs)
        lookback = timedelta(seconds=max(600.0, 2 * float(catalogue["period_s"].max())))
        naive_s, naive = _median_s(lambda: naive_transitions(engine, window, lookback), runs)
        ours = sorted((str(r.subject), str(r.area_code), r.at) for r in sql.itertuples())
        assert ours == naive, "the two reads disagree"
        totals = {k: sum(v.values()) for k, v in log.totals.items()}
        return {"backend": db.backend, "entries": log.total, "totals": totals,
                "log_ms": round(whole_s * 1000, 1), "alarm_transitions_ms": round(sql_s * 1000, 1),
                "naive_transitions_ms": round(naive_s * 1000, 1), "transitions": len(ours),
                "naive_over_sql": round(naive_s / sql_s, 2) if sql_s else None}
    finally:
        engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--postgres", default=DEFAULT_PG)
    ap.add_argument("--sqlite-url", help="an already seeded SQLite demo database to use instead (kept)")
    ap.add_argument("--no-postgres", action="store_true")
    a = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        backends = ["sqlite"] + ([] if a.no_postgres else ["postgresql"])
        for backend in backends:
            if backend == "sqlite" and a.sqlite_url:
                db = Database("sqlite", a.sqlite_url)
            else:
                db = new_database(backend, Path(tmp), "shift_log", a.postgres)
                print(f"{backend}: seeding {a.days:g} day(s) of the demo city: {seed_demo(db, days=a.days):.1f} s",
                      flush=True)
            try:
                row = measure(db, a.runs)
            finally:
                db.cleanup()
            results.append(row)
            print(f"{backend}: shift log (8 h) {row['log_ms']} ms, {row['entries']} entries; alarm transitions "
                  f"{row['alarm_transitions_ms']} ms (LAG in SQL) vs {row['naive_transitions_ms']} ms (naive: every "
                  f"minute row into pandas), ratio {row['naive_over_sql']}x, {row['transitions']} transitions",
                  flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
