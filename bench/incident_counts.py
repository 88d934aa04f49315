"""Incident counts at city scale: what the wall's strip and the map's counts cost at 100,000,
1,000,000 and 10,000,000 incidents with the incident roll-ups, against the plain counts.

    python bench/incident_counts.py [--sizes 100000,1000000,10000000] [--sqlite-sizes 100000,1000000]
                                    [--open N] [--runs N] [--postgres URL] [--no-sqlite] [--no-postgres]

For each size, a fresh PostgreSQL schema (and a fresh SQLite file for ``--sqlite-sizes``) gets the
Shanghai pack (16 districts, 234 streets, 3,559 cells) and N incidents generated in SQL
(``generate_series`` on PostgreSQL, a recursive CTE on SQLite: no Python loop): a pseudo-random
cell (a few hot cells, a long tail) and subcategory each, ``--open`` of them open (default
min(N / 10, 100,000): a city's backlog does not grow with its history) reported up to 3 days ago,
the others reported 1 hour to 60 days ago and closed after 0.2 .. 1.4 times their SLA. The load
bypasses the roll-up triggers (PostgreSQL: triggers disabled and the secondary indexes rebuilt
afterwards; SQLite: the triggers dropped and recreated) and then builds the roll-ups with
``incident_rollups.rebuild`` (its time is printed).

Then, warm, median of ``--runs``, each read once with the roll-ups and once without (the plain
baseline: the same views with the watermark row deleted, i.e. counting the incidents
themselves, in the same run): the wall's strip for the city and for one district
(``wall.load_wall_incidents``: v_incident_counts, v_incident_sources, v_incident_as_of), the map's
counts of one tick (``incident_map.map_count_rows``: v_incident_open_areas and v_incident_cells),
the city's categories (v_incident_categories), and the city's districts ranked (the level page).
Also: the feeder's overdue step (``incident_rollups.advance`` over 5 s), the cost the triggers add
to writes (1,000 new incidents and 1,000 closures in one transaction each, with and without the
triggers, rolled back), and on PostgreSQL the alternative, materialized views of the plain
counts refreshed per tick (``REFRESH MATERIALIZED VIEW`` of the strip's and the map's views).
The last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench.map_scale import TZ, postgres_schema  # noqa: E402
from bench.shanghai_scale import _pg_indexes  # noqa: E402
from data_access import areas, incident_map, incident_rollups, incidents, schema  # noqa: E402
from data_access import wall as wall_reads  # noqa: E402
from data_access.db import init_db, make_engine, utc_now  # noqa: E402
from data_access.settings import DEFAULT_PACK  # noqa: E402
from data_access.upsert import execute_batches  # noqa: E402
from feeder.pack import load_city_pack, read_categories  # noqa: E402

DISTRICT = "310115"  # 浦东新区, the biggest district
TRIGGERS_SQLITE = ("trg_incident_rollups_insert", "trg_incident_rollups_delete", "trg_incident_rollups_update")

# One incident per g in [0, N): a few hash bits pick its cell (the product of two uniform picks:
# low cell numbers are hot), its subcategory, whether it is open, its age and handling time.
# h1, h2, h3 are Knuth-style multiplicative hashes of g (integers below 2^31).
SELECT_INCIDENTS = """
SELECT 'B' || CAST(x.g AS TEXT), k.category, k.subcategory, k.source, k.priority,
       CASE WHEN x.is_open = 1 THEN
           CASE x.h3 % 4 WHEN 0 THEN 'reported' WHEN 1 THEN 'dispatched' WHEN 2 THEN 'in_progress' ELSE 'resolved' END
       ELSE 'closed' END,
       c.cell_id, c.street_code, c.district_code, c.center_lat, c.center_lon,
       {reported}, {due},
       CASE WHEN x.is_open = 1 THEN NULL ELSE {closed} END,
       CASE WHEN x.is_open = 1 THEN NULL ELSE {closed} END
FROM (
    SELECT g, h1, h2, h3, CASE WHEN g % :every = 0 THEN 1 ELSE 0 END AS is_open,
           CASE WHEN g % :every = 0 THEN 60 + h2 % 259200 ELSE 3600 + h2 % 5180400 END AS age_s
    FROM (SELECT g, (g * 2654435761) % 2147483647 AS h1, (g * 40503 + 7919) % 2147483647 AS h2,
                 (g * 69069 + 1) % 2147483647 AS h3
          FROM {series}) s
) x
JOIN cw_bench_cells c ON c.n = ((x.h1 % :cells) * ((x.h1 / :cells) % :cells)) / :cells
JOIN cw_bench_cats k ON k.n = x.h3 % :cats
"""
COLUMNS = ("incident_id, category, subcategory, source, priority, status, cell_id, street_code, district_code,"
           " lat, lon, reported_at, due_at, resolved_at, closed_at")
TIME_SQL = {
    "postgresql": {
        "series": "generate_series(CAST(0 AS BIGINT), :n - 1) AS g",
        "reported": "(:now - make_interval(secs => x.age_s))",
        "due": "(:now - make_interval(secs => x.age_s) + make_interval(secs => k.sla_s))",
        "closed": "(:now - make_interval(secs => x.age_s) + make_interval(secs => k.sla_s * (20 + x.h3 % 120) / 100))",
    },
    "sqlite": {
        "series": "seq",
        "reported": "datetime(:now, '-' || x.age_s || ' seconds')",
        "due": "datetime(:now, (k.sla_s - x.age_s) || ' seconds')",
        "closed": "datetime(:now, (k.sla_s * (20 + x.h3 % 120) / 100 - x.age_s) || ' seconds')",
    },
}


def _lookup_tables(conn: sa.Connection) -> tuple[int, int]:
    temp = "TEMP " if conn.dialect.name == "sqlite" else ""
    conn.exec_driver_sql(f"CREATE {temp}TABLE cw_bench_cells AS SELECT cell_id, street_code, district_code,"
                         " center_lat, center_lon, 0 AS n FROM v_grid_cells")
    cells = conn.exec_driver_sql("SELECT cell_id FROM cw_bench_cells ORDER BY cell_id").scalars().all()
    conn.execute(sa.text("UPDATE cw_bench_cells SET n = :n WHERE cell_id = :c"),
                 [{"n": i, "c": c} for i, c in enumerate(cells)])
    cats = read_categories(DEFAULT_PACK)
    conn.exec_driver_sql(f"CREATE {temp}TABLE cw_bench_cats (n INTEGER, category TEXT, subcategory TEXT,"
                         " source TEXT, priority INTEGER, sla_s INTEGER)")
    rows = [{"n": i, "category": r.category, "subcategory": r.subcategory, "source": r.source,
             "priority": int(r.priority), "sla_s": int(r.sla_hours * 3600)} for i, r in enumerate(cats.itertuples())]
    conn.execute(sa.text("INSERT INTO cw_bench_cats VALUES (:n, :category, :subcategory, :source, :priority, :sla_s)"),
                 rows)
    return len(cells), len(cats)


def seed(engine: Engine, *, total: int, n_open: int) -> dict[str, float]:
    """The pack, then ``total`` incidents in one INSERT … SELECT, bypassing the roll-up triggers;
    then the roll-ups built from scratch."""
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    init_db(engine, timezone=TZ)
    load_city_pack(engine, pack_dir=DEFAULT_PACK)
    dialect = engine.dialect.name
    now = utc_now()
    t1 = time.perf_counter()
    with engine.begin() as conn:
        incident_rollups.invalidate(conn)
        n_cells, n_cats = _lookup_tables(conn)
        sql = SELECT_INCIDENTS.format(**TIME_SQL[dialect])
        params = {"n": total, "every": max(1, total // max(1, n_open)), "cells": n_cells, "cats": n_cats,
                  "now": now}
        if dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
            conn.exec_driver_sql("ALTER TABLE incidents DISABLE TRIGGER USER")
            indexes = [i for i in _pg_indexes(conn, "incidents") if not i[2]]
            for name, _, _ in indexes:
                conn.exec_driver_sql(f"DROP INDEX {name}")
            statement = sa.text(f"INSERT INTO incidents ({COLUMNS}) {sql}").bindparams(
                sa.bindparam("now", type_=sa.DateTime()))
            conn.execute(statement, params)
            t2 = time.perf_counter()
            for _, definition, _ in indexes:
                conn.exec_driver_sql(definition)
            conn.exec_driver_sql("ALTER TABLE incidents ENABLE TRIGGER USER")
        else:
            raw = conn.connection.driver_connection
            raw.execute("PRAGMA cache_size=-524288")
            triggers = [raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                                    (name,)).fetchone()[0] for name in TRIGGERS_SQLITE]
            for name in TRIGGERS_SQLITE:
                raw.execute(f"DROP TRIGGER {name}")
            series = "WITH RECURSIVE seq(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM seq WHERE g < :n - 1) "
            statement = sa.text(f"INSERT INTO incidents ({COLUMNS}) {series}{sql}").bindparams(
                sa.bindparam("now", type_=schema.UtcDateTime))
            conn.execute(statement, params)
            t2 = time.perf_counter()
            for trigger in triggers:
                raw.execute(trigger)
            raw.execute("PRAGMA cache_size=-2000")
        conn.exec_driver_sql("DROP TABLE cw_bench_cells")
        conn.exec_driver_sql("DROP TABLE cw_bench_cats")
    t3 = time.perf_counter()
    with engine.connect() as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql("SET work_mem = '64MB'")
        out["rollup_rebuild_s"] = incident_rollups.rebuild(conn, now=utc_now()).seconds
        conn.commit()
    t4 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # PostgreSQL: VACUUM sets the visibility map a freshly loaded table lacks (autovacuum would, in a
        # while), so the index-only scans the views plan are index-only (not a heap fetch per row).
        conn.exec_driver_sql("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE")
    out["vacuum_analyze_s"] = round(time.perf_counter() - t4, 1)
    out |= {"pack_s": round(t1 - t0, 1), "insert_s": round(t2 - t1, 1), "index_s": round(t3 - t2, 1),
            "total_s": round(time.perf_counter() - t0, 1)}
    return out


CPU_MS: dict[int, float] = {}  # id(result) -> this process's CPU ms of the timed runs (median)


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Wall ms (median of ``runs``, after one warm run) and the result. The process's own CPU ms
    (median) is kept in CPU_MS[id(result)]: on SQLite that is the query's cost without the waits
    of a busy machine (PostgreSQL's work is in the server: there only the wall time says it)."""
    result = fn()  # warm
    samples, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        samples.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU_MS[id(result)] = round(statistics.median(cpu) * 1000, 1)
    return round(statistics.median(samples) * 1000, 1), result


def _plain(engine: Engine) -> datetime:
    """Delete the watermark (the views count the incidents themselves); returns it for _rolled."""
    with engine.begin() as conn:
        mark = incident_rollups.watermark(conn)
        incident_rollups.invalidate(conn)
    assert mark is not None
    return mark


def _rolled(engine: Engine, mark: datetime) -> None:
    """Put the watermark back: nothing was written meanwhile (the triggers kept the tables anyway)."""
    with engine.begin() as conn:
        conn.execute(schema.rollup_watermarks.insert().values(rollup=incident_rollups.WATERMARK, rolled_until=mark))


def _write_cost(engine: Engine, *, triggers: bool) -> tuple[float, float]:
    """ms for 1,000 new open incidents (through execute_batches, as the feeder and the importers
    write) and for closing 1,000 open ones (the feeder's executemany UPDATE, one statement a row),
    each in a transaction that is rolled back."""
    now = utc_now()
    out = []
    saved: list[str] = []
    if engine.dialect.name == "sqlite":  # pysqlite commits DDL at once: the triggers are put back by hand
        with engine.connect() as conn:
            saved = [conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                                          (name,)).scalar_one() for name in TRIGGERS_SQLITE]
    for phase in ("insert", "close"):
        with engine.connect() as conn:
            if not triggers:
                if engine.dialect.name == "postgresql":
                    conn.exec_driver_sql("ALTER TABLE incidents DISABLE TRIGGER USER")
                else:
                    for name in TRIGGERS_SQLITE:
                        conn.exec_driver_sql(f"DROP TRIGGER {name}")
            inc = schema.incidents
            if phase == "insert":
                rows = [{"incident_id": f"W{triggers:d}{i:05d}", "category": "facilities", "source": "patrol",
                         "priority": 1, "status": "reported", "street_code": None, "district_code": DISTRICT,
                         "cell_id": None, "reported_at": now, "due_at": now + timedelta(hours=4)}
                        for i in range(1000)]
                t0 = time.perf_counter()
                execute_batches(conn, inc.insert(), rows)  # the writers' path (PostgreSQL: multi-row statements)
            else:
                ids = conn.execute(sa.select(inc.c.incident_id).where(inc.c.closed_at.is_(None))
                                   .order_by(inc.c.incident_id).limit(1000)).scalars().all()
                t0 = time.perf_counter()
                conn.execute(inc.update().where(inc.c.incident_id == sa.bindparam("b_id"))
                             .values(status="closed", closed_at=now, resolved_at=now),
                             [{"b_id": i} for i in ids])
            out.append(round((time.perf_counter() - t0) * 1000, 1))
            conn.rollback()
            if saved and not triggers:
                for sql in saved:
                    conn.exec_driver_sql(sql)
                conn.commit()
    return out[0], out[1]


def _matview_refresh(engine: Engine, runs: int) -> float:
    """ms to refresh materialized views of the plain counts the strip and the map read (run while
    the watermark is deleted, so the views count the incidents)."""
    views = ("v_incident_counts", "v_incident_sources", "v_incident_open_areas", "v_incident_cells")
    with engine.begin() as conn:
        for v in views:
            conn.exec_driver_sql(f"CREATE MATERIALIZED VIEW cw_bench_mv_{v} AS SELECT * FROM {v} WITH NO DATA")

    def refresh() -> None:
        with engine.begin() as conn:
            for v in views:
                conn.exec_driver_sql(f"REFRESH MATERIALIZED VIEW cw_bench_mv_{v}")

    try:
        return timed(refresh, max(1, runs // 2))[0]
    finally:
        with engine.begin() as conn:
            for v in views:
                conn.exec_driver_sql(f"DROP MATERIALIZED VIEW cw_bench_mv_{v}")


def measure(engine: Engine, *, runs: int, plain: bool = True) -> dict[str, Any]:
    city = areas.city_area(engine=engine)
    district = areas.area_by_code(engine=engine, area_code=DISTRICT)
    assert city is not None and district is not None

    def strip(area: Any) -> Any:
        found = wall_reads.load_wall_incidents(engine=engine, area=area)
        assert not found.failed and found.counts is not None
        return (found.counts.open, found.counts.overdue, found.counts.reported_today, found.counts.closed_today,
                None if found.counts.on_time_rate_30d is None else round(found.counts.on_time_rate_30d, 9),
                tuple(sorted(found.hotline.items())))

    def map_counts() -> Any:
        area_rows, cell_rows = incident_map.map_count_rows(engine=engine)
        return sum(r[2] for r in area_rows), sum(r[4] for r in cell_rows), len(cell_rows)

    def categories() -> Any:
        frame = incidents.open_incidents_by_category(engine=engine, area_code=city.area_code)
        return tuple(frame["open"].astype(int))

    def ranked() -> Any:
        frame = incidents.child_areas_ranked(engine=engine, parent_code=city.area_code)
        return tuple(frame["overdue"].astype(int))

    reads = [("strip_city", "wall strip, city", lambda: strip(city)),
             ("strip_district", f"wall strip, district {DISTRICT}", lambda: strip(district)),
             ("map_counts", "map counts of one tick (areas + cells)", map_counts),
             ("categories_city", "open by category, city", categories),
             ("districts_ranked", "districts ranked (level page)", ranked)]
    out: dict[str, Any] = {}
    for key, label, fn in reads:
        ms, result = timed(fn, runs)
        out[key] = {"label": label, "ms": ms, "cpu_ms": CPU_MS[id(result)], "result": result}
    # the feeder's per-tick overdue step: the watermark moved back 5 s each run
    def advance() -> None:
        with engine.begin() as conn:
            mark = incident_rollups.watermark(conn)
            conn.execute(schema.rollup_watermarks.update()
                         .where(schema.rollup_watermarks.c.rollup == incident_rollups.WATERMARK)
                         .values(rolled_until=mark - timedelta(seconds=5)))
            incident_rollups.advance(conn, now=mark)
    out["advance_ms"] = timed(advance, runs)[0]
    out["write_ms"] = dict(zip(("insert_1000", "close_1000"), _write_cost(engine, triggers=True), strict=True))
    out["write_ms_no_triggers"] = dict(zip(("insert_1000", "close_1000"), _write_cost(engine, triggers=False),
                                           strict=True))
    if not plain:
        for key, _, _ in reads:
            del out[key]["result"]
            out[key] |= {"plain_ms": None, "plain_cpu_ms": None}
        out["rows"] = _rows(engine)
        return out
    mark = _plain(engine)
    try:
        for key, _, fn in reads:
            ms, result = timed(fn, max(1, runs // 2))
            out[key] |= {"plain_ms": ms, "plain_cpu_ms": CPU_MS[id(result)]}
        if engine.dialect.name == "postgresql":
            out["matview_refresh_ms"] = _matview_refresh(engine, runs)
    finally:
        _rolled(engine, mark)
    for key, _, _ in reads:  # not compared with the plain read's: due dates pass between the two
        del out[key]["result"]
    out["rows"] = _rows(engine)
    return out


def _rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = {t: int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar_one())
                for t in ("incidents", "incident_open_counts", "incident_open_cells", "incident_hour_counts",
                          "incident_day_counts")}
        rows["open"] = int(conn.exec_driver_sql("SELECT COUNT(*) FROM incidents WHERE closed_at IS NULL").scalar_one())
    return rows


def print_table(name: str, total: int, seeding: dict[str, Any], m: dict[str, Any]) -> None:
    r = m["rows"]
    print(f"\n== {name}: {r['incidents']:,} incidents ({r['open']:,} open); roll-up rows:"
          f" open {r['incident_open_counts']:,}, cells {r['incident_open_cells']:,},"
          f" hours {r['incident_hour_counts']:,}, days {r['incident_day_counts']:,}; seeded in {seeding['total_s']} s"
          f" (insert {seeding['insert_s']} s, indexes {seeding['index_s']} s, roll-up rebuild"
          f" {seeding['rollup_rebuild_s']} s, vacuum/analyze {seeding.get('vacuum_analyze_s')} s)")
    cpu = name == "sqlite"
    print(f"{'read (warm, median)':<44}{'roll-ups ms':>13}{'plain ms':>12}{'speed-up':>10}"
          + (f"{'cpu ms':>10}{'plain cpu':>11}{'speed-up':>10}" if cpu else ""))
    for key in ("strip_city", "strip_district", "map_counts", "categories_city", "districts_ranked"):
        e = m[key]
        if e["plain_ms"] is None:
            print(f"{e['label']:<44}{e['ms']:>13,.1f}" + (f"{'':>22}{e['cpu_ms']:>10,.1f}" if cpu else ""))
            continue
        line = f"{e['label']:<44}{e['ms']:>13,.1f}{e['plain_ms']:>12,.1f}{e['plain_ms'] / max(e['ms'], 0.1):>9.1f}x"
        if cpu:
            line += (f"{e['cpu_ms']:>10,.1f}{e['plain_cpu_ms']:>11,.1f}"
                     f"{e['plain_cpu_ms'] / max(e['cpu_ms'], 0.1):>9.1f}x")
        print(line)
    w, nw = m["write_ms"], m["write_ms_no_triggers"]
    print(f"feeder overdue step (5 s): {m['advance_ms']} ms; writes with / without the triggers: 1,000 inserts"
          f" {w['insert_1000']} / {nw['insert_1000']} ms, 1,000 closures {w['close_1000']} / {nw['close_1000']} ms")
    if "matview_refresh_ms" in m:
        print("alternative: REFRESH MATERIALIZED VIEW of the plain strip + map views per tick:"
              f" {m['matview_refresh_ms']} ms")


def measure_kept(url: str, *, runs: int, plain: bool) -> int:
    """``--measure``: one kept database, measured as it is (no seeding)."""
    engine = make_engine(url, pool_size=2)
    try:
        started = time.perf_counter()
        rebuilt = init_db(engine, timezone=TZ)
        setup = {"total_s": round(time.perf_counter() - started, 1), "insert_s": 0, "index_s": 0,
                 "rollup_rebuild_s": "(in init_db)" if rebuilt else 0}
        if rebuilt and engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        print(f"== {engine.dialect.name}: measuring {url} (views rebuilt: {rebuilt}; load average"
              f" {os.getloadavg()[0]:.1f})", flush=True)
        figures = measure(engine, runs=runs, plain=plain)
        print_table(engine.dialect.name, figures["rows"]["incidents"], setup, figures)
        print(json.dumps({"url": url, "setup": setup, **figures,
                          "load_average_end": [round(x, 1) for x in os.getloadavg()]},
                         separators=(",", ":"), default=str))
    finally:
        engine.dispose()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000,10000000", help="PostgreSQL sizes (comma-separated)")
    ap.add_argument("--sqlite-sizes", default="100000,1000000", help="SQLite sizes (comma-separated)")
    ap.add_argument("--open", type=int, default=None, help="open incidents (default min(N / 10, 100,000))")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per read (median; plain: half)")
    ap.add_argument("--postgres", default=os.environ.get("CITYWALL_TEST_POSTGRES_URL")
                    or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the databases (prints their URLs)")
    ap.add_argument("--no-plain", action="store_true", help="the roll-ups' reads only (no plain baseline, no REFRESH)")
    ap.add_argument("--seed-only", action="store_true", help="seed and keep, measure nothing")
    ap.add_argument("--measure", metavar="URL", help="measure a database kept by --seed-only (after init_db: this"
                    " code's views, indexes and triggers; the roll-ups are recounted when those changed)")
    a = ap.parse_args()
    if a.measure:
        return measure_kept(a.measure, runs=a.runs, plain=not a.no_plain)
    started = time.perf_counter()
    results: dict[str, Any] = {"cpus": os.cpu_count(), "postgresql": {}, "sqlite": {}}
    plan: list[tuple[str, int]] = []
    if not a.no_sqlite:
        plan += [("sqlite", int(s)) for s in a.sqlite_sizes.split(",") if s]
    if not a.no_postgres:
        plan += [("postgresql", int(s)) for s in a.sizes.split(",") if s]
    for backend, total in plan:
        n_open = a.open or min(total // 10, 100_000)
        if backend == "postgresql":
            url, cleanup = postgres_schema(a.postgres)
        else:
            tmp = Path(tempfile.mkdtemp(prefix="cw-counts-"))
            url, cleanup = f"sqlite:///{tmp / 'counts.db'}", (lambda p=tmp: [f.unlink() for f in p.iterdir()])
        engine = make_engine(url, pool_size=2)
        try:
            print(f"== {backend}: seeding {total:,} incidents ({n_open:,} open) ... (load average"
                  f" {os.getloadavg()[0]:.1f})", flush=True)
            seeding = seed(engine, total=total, n_open=n_open)
            if a.seed_only:
                print(f"  seeded in {seeding['total_s']} s, kept: {url}", flush=True)
                continue
            figures = measure(engine, runs=a.runs, plain=not a.no_plain)
            print_table(backend, total, seeding, figures)
            results[backend][str(total)] = {"seed": seeding, **figures}
        finally:
            engine.dispose()
            if a.keep or a.seed_only:
                print(f"  kept: {url}")
            else:
                cleanup()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["load_average_end"] = [round(x, 1) for x in os.getloadavg()]  # a shared machine: how busy it was
    print(json.dumps(results, separators=(",", ":"), default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
