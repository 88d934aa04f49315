"""As-of reads (issue 15, replay) against the live reads at 100,000 open incidents, SQLite and PostgreSQL.

    python bench/asof.py [--incidents N] [--open N] [--postgres URL] [--hours-back H ...] [--keep]

Seeds the Shanghai pack and N seeded-random incidents (bench/map_scale.py's generator: 1,000,000
incidents, 100,000 open by default; closures spread over 60 days) into a fresh SQLite file and a
fresh PostgreSQL schema, then times, for each read a replayed page makes, the live read (now) and
its as-of twin (``data_access/asof.py``) at moments ``--hours-back`` hours ago, uncached (what one
tick or one replayed minute costs before the cache shares it). The ratio printed is as-of / live.
A naive as-of baseline runs in the same process: the map counts with "open at T" written as one
``reported_at <= T AND (closed_at IS NULL OR closed_at > T)`` over v_incident_history (one scan of
the whole table instead of two index ranges). On PostgreSQL the plan of the as-of map counts is
printed (EXPLAIN: which index each half of the open set reads). The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench.map_scale import pick_areas, postgres_schema, seed, timed  # noqa: E402
from data_access import asof, incidents  # noqa: E402
from data_access.db import make_engine, utc_now  # noqa: E402
from data_access.incident_map import load_map_counts  # noqa: E402
from data_access.models import MapCounts  # noqa: E402
from data_access.readers.panels import load_panels  # noqa: E402
from data_access.sql import utc_text  # noqa: E402
from data_access.wall import load_wall  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")


def naive_map_counts_as_of(engine: Engine, at: Any) -> tuple[int, MapCounts]:
    """The as-of map counts with the open set as one OR: the baseline the two-range shape beats
    (the total open then, and the groups)."""
    with engine.connect() as conn:
        groups = conn.execute(sa.text(
            "SELECT district_code, street_code, cell_id, COUNT(*) AS n,"
            " SUM(CASE WHEN due_at < :at THEN 1 ELSE 0 END) AS od, MAX(priority) AS mp FROM v_incident_history"
            " WHERE reported_at <= :at AND (closed_at IS NULL OR closed_at > :at)"
            " GROUP BY district_code, street_code, cell_id"), {"at": utc_text(at)}).all()
    return sum(int(g.n) for g in groups), MapCounts.of([], [(g.cell_id, g.district_code, g.street_code, g.n, g.od,
                                                             g.mp) for g in groups])


def explain(engine: Engine, at: Any) -> list[str]:
    """PostgreSQL's plan of the as-of map counts' open set: the scan nodes (index names)."""
    sql = (f"EXPLAIN SELECT o.district_code, o.street_code, o.cell_id, COUNT(*) FROM "
           f"({asof._open_at(engine, 'h.district_code, h.street_code, h.cell_id, h.priority')}) o"
           " GROUP BY o.district_code, o.street_code, o.cell_id")
    with engine.connect() as conn:
        lines = [r[0] for r in conn.execute(sa.text(sql), {"at": utc_text(at)})]
    return [line.strip() for line in lines if "Scan" in line]


def measure(engine: Engine, hours_back: list[float]) -> dict[str, Any]:
    if engine.dialect.name == "postgresql":  # what autovacuum does to a table in service: the visibility map
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # (index-only scans)
            conn.exec_driver_sql("VACUUM ANALYZE incidents")
    areas = pick_areas(engine)
    city, district = areas["city"], areas["district"]
    now = utc_now()
    reads: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {
        "map_counts": (lambda: load_map_counts(engine=engine),
                       lambda at: asof.load_map_counts_as_of(engine=engine, at=at)),
        "counts_city": (lambda: incidents.incident_counts(engine=engine, area_code=city.area_code),
                        lambda at: asof.incident_counts_as_of(engine=engine, area_code=city.area_code, at=at, tz=TZ)),
        "counts_district": (lambda: incidents.incident_counts(engine=engine, area_code=district.area_code),
                            lambda at: asof.incident_counts_as_of(engine=engine, area_code=district.area_code,
                                                                  at=at, tz=TZ)),
        "open_list_city": (lambda: incidents.open_incidents(engine=engine, area=city),
                           lambda at: asof.open_incidents_as_of(engine=engine, area=city, at=at)),
        "wall_city": (lambda: load_wall(engine=engine, area=city, now=utc_now()),
                      lambda at: asof.load_wall_as_of(engine=engine, area=city, at=at, tz=TZ)),
        "panels_district": (lambda: load_panels(engine=engine, area=district),
                            lambda at: asof.load_panels_as_of(engine=engine, area=district, at=at, tz=TZ)),
    }
    out: dict[str, Any] = {"district": district.area_code}
    for name, (live, past) in reads.items():
        live_ms, _ = timed(live)
        row: dict[str, Any] = {"live_ms": live_ms}
        for hours in hours_back:
            at = (now - timedelta(hours=hours)).replace(second=0)
            ms, _ = timed(lambda a=at, read=past: read(a))
            row[f"asof_{hours:g}h_ms"] = ms
            row[f"ratio_{hours:g}h"] = round(ms / live_ms, 2) if live_ms else None
        out[name] = row
    at = (now - timedelta(hours=hours_back[0])).replace(second=0)
    fast_ms, fast = timed(lambda: asof.load_map_counts_as_of(engine=engine, at=at))
    naive_ms, naive = timed(lambda: naive_map_counts_as_of(engine, at), runs=1)
    assert fast.own[city.area_code][1] == naive[0], "the naive baseline must count the same"
    out["naive_map_counts"] = {"naive_ms": naive_ms, "asof_ms": fast_ms,
                               "naive_over_asof": round(naive_ms / fast_ms, 2) if fast_ms else None}
    with engine.connect() as conn:
        out["open_at_t"] = int(conn.execute(sa.text(
            f"SELECT COUNT(*) FROM ({asof._open_at(engine, 'h.incident_id')}) o"), {"at": utc_text(at)}).scalar_one())
    if engine.dialect.name == "postgresql":
        out["explain_map_counts"] = explain(engine, at)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=1_000_000)
    ap.add_argument("--open", type=int, default=100_000)
    ap.add_argument("--hours-back", type=float, nargs="+", default=[3.0, 23.0])
    ap.add_argument("--postgres", default=os.environ.get("CITYWALL_TEST_POSTGRES_URL", ""),
                    help="PostgreSQL URL (a fresh schema is created and dropped); empty: SQLite only")
    ap.add_argument("--sqlite-only", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the databases")
    ap.add_argument("--measure", metavar="URL", help="only measure this already seeded database (bench/map_scale.py"
                                                     " --demo URL seeds one) and exit")
    a = ap.parse_args()
    if a.measure:
        engine = make_engine(a.measure)
        print(json.dumps({"measure": a.measure, **measure(engine, a.hours_back)}, separators=(",", ":"), default=str))
        return 0
    results: dict[str, Any] = {"incidents": a.incidents, "open": a.open, "hours_back": a.hours_back}
    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-asof-"))
    backends: list[tuple[str, str, Callable[[], None]]] = [("sqlite", f"sqlite:///{tmp / 'asof.db'}", lambda: None)]
    if a.postgres and not a.sqlite_only:
        url, drop = postgres_schema(a.postgres)
        backends.append(("postgresql", url, drop))
    for name, url, cleanup in backends:
        engine = make_engine(url)
        try:
            seeding = seed(engine, total=a.incidents, n_open=a.open)
            figures = measure(engine, a.hours_back)
            results[name] = {"seed": seeding, **figures}
            print(f"== {name}: {a.incidents:,} incidents, {a.open:,} open now, {figures['open_at_t']:,} open "
                  f"{a.hours_back[0]:g} h ago (seeded in {seeding['generate_s'] + seeding['insert_s']:.1f} s)",
                  flush=True)
            for read, row in figures.items():
                if not isinstance(row, dict) or "live_ms" not in row:
                    continue
                past = "  ".join(f"{h:g} h ago {row[f'asof_{h:g}h_ms']:>8.1f} ms (x{row[f'ratio_{h:g}h']})"
                                 for h in a.hours_back)
                print(f"  {read:<16} live {row['live_ms']:>8.1f} ms   as of: {past}")
            nv = figures["naive_map_counts"]
            print(f"  naive as-of map counts (one OR) {nv['naive_ms']} ms vs two index ranges {nv['asof_ms']} ms"
                  f" (x{nv['naive_over_asof']})")
            for line in figures.get("explain_map_counts", []):
                print(f"    {line}")
        finally:
            engine.dispose()
            if not a.keep:
                cleanup()
    print(json.dumps(results, separators=(",", ":"), default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
