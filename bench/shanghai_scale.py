"""Shanghai scale on PostgreSQL (and optionally SQLite): ~1,700 indicators, 24 h of raw readings,
the roll-ups, 1,000,000 incidents (100,000 open), and what the wall's reads cost at that size.

    python bench/shanghai_scale.py [--quick] [--postgres URL] [--sqlite] [--runs N] [--keep]

Seeds a fresh PostgreSQL schema (``--sqlite``: also a fresh SQLite file) with the Shanghai pack
(16 districts, 234 streets, 3,559 grid cells), the catalogue at ``--scale 22`` (1,716 indicators;
the copies' reporting periods drawn from the feeder's COPY_PERIOD_MIX, 5 s .. 1 h), raw readings
at every indicator's own period for the raw retention window (25 h: the view's 24 h and the hour
"same time yesterday" reads), the minute roll-up for 48 h and the hourly roll-up for 30 days (the
feeder's RetentionPolicy), and bench/map_scale.py's 1,000,000 incidents. Values come from the
feeder's simulator (``Simulator.values``, the same numbers the live feeder writes); loads are bulk
(COPY on PostgreSQL with the readings' indexes and triggers rebuilt afterwards; executemany on
SQLite). The roll-ups over the raw window are written by the feeder's own roll-up step
(``feeder.rollups.roll_up``, its first run); the older minute/hour history, which in a real
deployment the roll-up would have written on earlier days, is generated directly (one simulator
value per bucket, its count the readings the period implies).

Then, warm, median of ``--runs``: ``SELECT * FROM v_vitals_latest``; the wall's per-tick read
(``data_access.wall.load_wall``) for the city and for one district; ``v_vitals_recent`` for the last
hour of every on-wall series; ``v_vitals_hourly`` for 7 days of one series; the roll-up's own
steps (one minute step, with its late window, and one hour step). The naive baseline runs the
same reads in the same process on a connection whose ``v_vitals_recent`` / ``v_vitals_hourly``
are the views as they were before the roll-ups (aggregating raw readings on the fly; TEMP views
that shadow the real ones on that connection only). Prints a table; the last line is one JSON
object (row counts and database size included). ``--quick``: scale 4, 3 h raw, 100,000 incidents.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench.map_scale import TZ, postgres_schema  # noqa: E402
from bench.map_scale import seed as seed_incidents  # noqa: E402
from data_access import areas, vitals  # noqa: E402
from data_access import wall as wall_reads  # noqa: E402
from data_access.db import make_engine, render_sql, utc_now  # noqa: E402
from data_access.models import Area  # noqa: E402
from data_access.schema import rollup_watermarks as schema_w  # noqa: E402
from feeder import rollups  # noqa: E402
from feeder.loop import SimConfig, Simulator  # noqa: E402

EPOCH = datetime(1970, 1, 1)
DISTRICT = "310115"  # 浦东新区, the biggest district

# The views as they were before the roll-ups (git history of data_access/views/2x): the baseline.
NAIVE_RECENT = """
CREATE TEMP VIEW v_vitals_recent AS
SELECT g.indicator_id, g.area_code, g.minute, g.value,
       CASE
           WHEN g.value IS NULL THEN NULL
           WHEN (COALESCE(t.alarm_low, i.alarm_low) IS NOT NULL AND g.value < COALESCE(t.alarm_low, i.alarm_low))
             OR (COALESCE(t.alarm_high, i.alarm_high) IS NOT NULL AND g.value > COALESCE(t.alarm_high, i.alarm_high))
                THEN 'alarm'
           WHEN (COALESCE(t.warn_low, i.warn_low) IS NOT NULL AND g.value < COALESCE(t.warn_low, i.warn_low))
             OR (COALESCE(t.warn_high, i.warn_high) IS NOT NULL AND g.value > COALESCE(t.warn_high, i.warn_high))
                THEN 'warn'
           ELSE 'normal'
       END AS status
FROM (
    SELECT r.indicator_id, r.area_code, {{MINUTE:r.ts}} AS minute, AVG(r.value) AS value
    FROM readings r
    WHERE r.ts >= {{SHIFT:{{NOW_UTC}}:-86400}}
    GROUP BY r.indicator_id, r.area_code, {{MINUTE:r.ts}}
) g
JOIN indicators i ON i.indicator_id = g.indicator_id
LEFT JOIN indicator_thresholds t ON t.indicator_id = g.indicator_id AND t.area_code = g.area_code
"""
NAIVE_HOURLY = """
CREATE TEMP VIEW v_vitals_hourly AS
SELECT r.indicator_id, r.area_code, {{HOUR:r.ts}} AS hour, AVG(r.value) AS value
FROM readings r
WHERE r.ts >= {{SHIFT:{{NOW_UTC}}:-691200}}
GROUP BY r.indicator_id, r.area_code, {{HOUR:r.ts}}
"""


def _epoch(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds())


def _ceil(t: int, step: int) -> int:
    return -((-t) // step) * step


class TextStamps:
    """'YYYY-MM-DD HH:MM:SS' of epoch seconds, cached (a handful of distinct seconds per load)."""

    def __init__(self) -> None:
        self._cache: dict[int, str] = {}

    def __call__(self, ts: np.ndarray) -> list[str]:
        out = []
        cache = self._cache
        for x in ts.tolist():
            s = cache.get(x)
            if s is None:
                s = cache[x] = (EPOCH + timedelta(seconds=x)).strftime("%Y-%m-%d %H:%M:%S")
            out.append(s)
        return out


def reading_batches(sim: Simulator, start: int, end: int, stamps: TextStamps
                    ) -> Iterator[tuple[str, list[str], list[str], np.ndarray]]:
    """(indicator_id, area codes, ts texts, values (areas x ts)) of every indicator's raw readings
    in [start, end], at its own period."""
    for ind in sim._indicators:
        t = np.arange(_ceil(start, ind.period_s), end + 1, ind.period_s, dtype=np.int64)
        if len(t):
            yield ind.indicator_id, ind.area_codes, stamps(t), sim.values(ind, t, [])


def bucket_batches(sim: Simulator, start: int, end: int, bucket: int, stamps: TextStamps
                   ) -> Iterator[tuple[str, list[str], list[str], np.ndarray, int]]:
    """Generated roll-up history: per indicator, buckets in [start, end) that hold a reading, one
    simulator value each (at the bucket's middle), n = readings the period puts in a bucket."""
    for ind in sim._indicators:
        p = ind.period_s
        step = max(bucket, p)  # a 1-hour indicator fills one minute an hour
        b = np.arange(_ceil(start, step), end, step, dtype=np.int64)
        if len(b):
            n = max(1, bucket // p)
            yield ind.indicator_id, ind.area_codes, stamps(b), sim.values(ind, b + min(bucket, p) // 2, []), n


def _fmt(v: float) -> str:
    return repr(v) if math.isfinite(v) else "\\N"


# --- loading ----------------------------------------------------------------------------------------

def _pg_copy(conn: sa.Connection, table: str, columns: str, lines: Iterator[str]) -> None:
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for chunk in lines:
            copy.write(chunk)


def _pg_indexes(conn: sa.Connection, table: str) -> list[tuple[str, str, bool]]:
    """(name, definition, is_constraint) of a table's indexes in the current schema."""
    rows = conn.exec_driver_sql(
        "SELECT i.indexname, i.indexdef, c.conname IS NOT NULL FROM pg_indexes i"
        " LEFT JOIN pg_constraint c ON c.conname = i.indexname AND c.connamespace ="
        " (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
        f" WHERE i.schemaname = current_schema() AND i.tablename = '{table}'").all()
    return [(r[0], r[1], bool(r[2])) for r in rows]


def _readings_text(batches: Iterator[tuple]) -> Iterator[str]:
    for iid, codes, ts, values in batches:
        lines = []
        for code, row in zip(codes, values.tolist(), strict=True):
            prefix = f"{iid}\t{code}\t"
            lines.extend(f"{prefix}{s}\t{_fmt(v)}\n" for s, v in zip(ts, row, strict=True))
        yield "".join(lines)


def _buckets_text(batches: Iterator[tuple]) -> Iterator[str]:
    for iid, codes, ts, values, n in batches:
        lines = []
        for code, row in zip(codes, values.tolist(), strict=True):
            prefix = f"{iid}\t{code}\t"
            lines.extend(f"{prefix}{s}\t{_fmt(v)}\t{n}\n" for s, v in zip(ts, row, strict=True))
        yield "".join(lines)


def load_postgres(engine: Engine, sim: Simulator, spans: dict[str, tuple[int, int]]) -> dict[str, float]:
    """COPY the raw readings and the generated roll-up history; indexes, constraints and the
    readings_latest trigger are dropped for the load and rebuilt (sorted builds) afterwards."""
    out: dict[str, float] = {}
    stamps = TextStamps()
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
        for table, lines, columns in (
            ("readings", _readings_text(reading_batches(sim, *spans["raw"], stamps)),
             "indicator_id, area_code, ts, value"),
            ("readings_minute", _buckets_text(bucket_batches(sim, *spans["minute"], 60, stamps)),
             "indicator_id, area_code, minute, value, n"),
            ("readings_hourly", _buckets_text(bucket_batches(sim, *spans["hour"], 3600, stamps)),
             "indicator_id, area_code, hour, value, n"),
        ):
            t0 = time.perf_counter()
            indexes = _pg_indexes(conn, table)
            fks = conn.exec_driver_sql(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                f" WHERE conrelid = '{table}'::regclass AND contype = 'f'").all()
            for name, _ in fks:
                conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
            for name, _, is_constraint in indexes:
                conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}" if is_constraint
                                     else f"DROP INDEX {name}")
            if table == "readings":
                conn.exec_driver_sql("ALTER TABLE readings DISABLE TRIGGER trg_readings_latest")
            _pg_copy(conn, table, columns, lines)
            t1 = time.perf_counter()
            for name, definition, is_constraint in indexes:
                if is_constraint:
                    cols = definition[definition.index("(") + 1:definition.rindex(")")]
                    conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY ({cols})")
                else:
                    conn.exec_driver_sql(definition)
            for name, definition in fks:
                conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
            if table == "readings":
                conn.exec_driver_sql("ALTER TABLE readings ENABLE TRIGGER trg_readings_latest")
                conn.exec_driver_sql(
                    "INSERT INTO readings_latest (indicator_id, area_code, ts, value)"
                    " SELECT DISTINCT ON (indicator_id, area_code) indicator_id, area_code, ts, value"
                    " FROM readings ORDER BY indicator_id, area_code, ts DESC"
                    " ON CONFLICT (indicator_id, area_code) DO UPDATE SET ts = EXCLUDED.ts, value = EXCLUDED.value")
            out[f"{table}_copy_s"] = round(t1 - t0, 1)
            out[f"{table}_index_s"] = round(time.perf_counter() - t1, 1)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE readings; ANALYZE readings_minute; ANALYZE readings_hourly;"
                             " ANALYZE readings_latest")
    return out


def load_sqlite(engine: Engine, sim: Simulator, spans: dict[str, tuple[int, int]]) -> dict[str, float]:
    """executemany in big transactions; the readings' time index and trigger rebuilt afterwards."""
    out: dict[str, float] = {}
    stamps = TextStamps()
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA cache_size=-1048576")
        trigger = raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'"
                              " AND name = 'trg_readings_latest'").fetchone()[0]
        raw.execute("DROP TRIGGER trg_readings_latest")
        t0 = time.perf_counter()
        for iid, codes, ts, values in reading_batches(sim, *spans["raw"], stamps):
            raw.executemany("INSERT INTO readings (indicator_id, area_code, ts, value) VALUES (?, ?, ?, ?)",
                            [(iid, code, s, v) for code, row in zip(codes, values.tolist(), strict=True)
                             for s, v in zip(ts, row, strict=True)])
        raw.execute("INSERT OR REPLACE INTO readings_latest (indicator_id, area_code, ts, value)"
                    " SELECT indicator_id, area_code, MAX(ts), value FROM readings GROUP BY indicator_id, area_code")
        raw.execute(trigger)
        out["readings_copy_s"] = round(time.perf_counter() - t0, 1)
        for table, column, bucket in (("readings_minute", "minute", 60), ("readings_hourly", "hour", 3600)):
            t0 = time.perf_counter()
            for iid, codes, ts, values, n in bucket_batches(sim, *spans[column], bucket, stamps):
                raw.executemany(f"INSERT INTO {table} (indicator_id, area_code, {column}, value, n)"
                                " VALUES (?, ?, ?, ?, ?)",
                                [(iid, code, s, v, n) for code, row in zip(codes, values.tolist(), strict=True)
                                 for s, v in zip(ts, row, strict=True)])
            out[f"{table}_copy_s"] = round(time.perf_counter() - t0, 1)
        raw.execute("PRAGMA cache_size=-2000")
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return out


def seed(url: str, *, scale: int, policy: rollups.RetentionPolicy, incidents: int, n_open: int
         ) -> tuple[dict[str, Any], Simulator]:
    times: dict[str, Any] = {}
    t0 = time.perf_counter()
    engine = make_engine(url)
    try:
        times["incidents"] = seed_incidents(engine, total=incidents, n_open=n_open)  # init_db + pack too
        sim = Simulator(SimConfig(scale=scale, timezone=TZ, retention=policy))
        sim.prepare(engine)
        now = utc_now()
        now_e = _epoch(now)
        raw_from = now_e - (policy.raw_s - 3600)  # raw: the raw window less one hour of margin
        raw_from -= raw_from % 3600  # whole hours, so the generated hourly history ends where raw begins
        spans = {"raw": (raw_from, now_e), "minute": (now_e - policy.minute_s, raw_from),
                 "hour": (now_e - policy.hourly_s, raw_from)}
        t1 = time.perf_counter()
        load = load_postgres if engine.dialect.name == "postgresql" else load_sqlite
        times["load"] = load(engine, sim, spans)
        t2 = time.perf_counter()
        # The feeder's roll-up over the raw window, an hour at a time (as the live feeder would have
        # written it, and so that each statement's aggregation fits in memory).
        first = rollups.RollupStats()
        minute_rows = hour_rows = 0
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET work_mem = '64MB'")
            for t in [*range(raw_from + 3600, now_e, 3600), now_e]:
                first = rollups.roll_up(conn, now=EPOCH + timedelta(seconds=t), policy=policy)
                conn.commit()
                minute_rows += first.minute_rows
                hour_rows += first.hour_rows
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        times["first_rollup_s"] = round(time.perf_counter() - t2, 1)
        times["first_rollup_rows"] = {"minute": minute_rows, "hour": hour_rows}
        # The feeder takes over: the seconds between the load and now (one step, rolled up), so the
        # data are live when measured.
        sim.reset()
        t3 = time.perf_counter()
        step = sim.step(engine, now=utc_now())
        times["catch_up_step"] = {"readings": step.readings, "rolled_minutes": step.rolled_minutes,
                                  "s": round(time.perf_counter() - t3, 2)}
        times["readings_gen_and_load_s"] = round(t2 - t1, 1)
        times["total_s"] = round(time.perf_counter() - t0, 1)
        return times, sim
    finally:
        engine.dispose()


# --- measuring --------------------------------------------------------------------------------------

def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    result = fn()  # warm
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    return round(statistics.median(samples) * 1000, 1), result


def naive_engine(url: str) -> Engine:
    """An engine whose every connection sees the pre-roll-up views (TEMP views shadow the real
    ones: PostgreSQL and SQLite both look in the temp schema first)."""
    engine = make_engine(url, pool_size=2)
    dialect = engine.dialect.name
    statements = [render_sql(sql, dialect=dialect, tz_name=TZ) for sql in (NAIVE_RECENT, NAIVE_HOURLY)]

    @sa.event.listens_for(engine, "connect")
    def _views(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        for sql in statements:
            cur.execute(sql)
        cur.close()
        if dialect == "postgresql":
            dbapi_conn.commit()

    return engine


def on_wall_series(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(
            "SELECT l.indicator_id, l.area_code FROM v_vitals_latest l"
            " JOIN v_indicators i ON i.indicator_id = l.indicator_id WHERE i.on_wall ORDER BY 1, 2")]


def measure(url: str, *, runs: int, policy: rollups.RetentionPolicy) -> dict[str, Any]:
    engine = make_engine(url, pool_size=2)
    naive = naive_engine(url)
    out: dict[str, Any] = {}
    try:
        city = areas.city_area(engine=engine)
        district = areas.area_by_code(engine=engine, area_code=DISTRICT)
        assert city is not None and district is not None
        series = on_wall_series(engine)
        hourly_series = next(s for s in series if s[1] == city.area_code and "__" not in s[0])
        out["on_wall_series"] = len(series)

        def latest(e: Engine) -> int:
            with e.connect() as conn:
                return len(conn.exec_driver_sql("SELECT * FROM v_vitals_latest").all())

        def wall(e: Engine, area: Area) -> int:
            snap = wall_reads.load_wall(engine=e, area=area, now=utc_now())
            assert not snap.failed, snap.failed
            return sum(len(v) for v in snap.sparks.values())

        strip = wall_reads.load_wall_incidents(engine=engine, area=city)

        def wall_vitals(e: Engine, area: Area) -> int:
            """The part of the tick a new reading waits for (the strip is read apart, pages/wall.py)."""
            snap = wall_reads.load_wall(engine=e, area=area, now=utc_now(), incidents=lambda: strip)
            assert not snap.failed, snap.failed
            return sum(len(v) for v in snap.sparks.values())

        def wall_strip(e: Engine, area: Area) -> int:
            found = wall_reads.load_wall_incidents(engine=e, area=area)
            assert not found.failed
            return 1

        def recent(e: Engine) -> int:
            return len(vitals.vitals_trends(engine=e, series=series, since=utc_now() - timedelta(hours=1)))

        def hourly(e: Engine) -> int:
            return len(vitals.vitals_history(engine=e, indicator_id=hourly_series[0], area_code=hourly_series[1],
                                              since=utc_now() - timedelta(days=7), resolution="hour"))

        reads = [("v_vitals_latest (all rows)", "latest", latest, False),
                 ("read_wall city", "wall_city", lambda e: wall(e, city), True),
                 (f"read_wall district {DISTRICT}", "wall_district", lambda e: wall(e, district), True),
                 ("wall tick: vital signs only, city", "wall_vitals_city", lambda e: wall_vitals(e, city), True),
                 ("wall tick: incident strip only, city", "wall_strip_city", lambda e: wall_strip(e, city), False),
                 ("v_vitals_recent 1 h, on-wall series", "recent_1h", recent, True),
                 ("v_vitals_hourly 7 d, one series", "hourly_7d", hourly, True)]
        for label, key, fn, has_naive in reads:
            ms, rows = timed(lambda f=fn: f(engine), runs)
            entry = {"label": label, "ms": ms, "rows": rows}
            if has_naive:
                naive_ms, naive_rows = timed(lambda f=fn: f(naive), max(1, runs // 2))
                entry |= {"naive_ms": naive_ms, "naive_rows": naive_rows}
            out[key] = entry
            print(f"  measured {label}: {ms} ms" + (f" (naive {entry['naive_ms']} ms)" if has_naive else ""),
                  flush=True)

        # The roll-up's own steps, as the feeder runs them: a minute step (the finished minute and
        # the late window before it) and an hour step. Each run moves the watermark back first.
        def step(rollup: str, back: timedelta) -> int:
            with engine.begin() as conn:
                marks = rollups.watermarks(conn)
                conn.execute(schema_w.update().where(schema_w.c.rollup == rollup)
                             .values(rolled_until=marks[rollup] - back))
                stats = rollups.roll_up(conn, now=utc_now(), policy=policy)
            return stats.minute_rows if rollup == "minute" else stats.hour_rows

        ms, rows = timed(lambda: step("minute", timedelta(minutes=1)), runs)
        out["rollup_minute_step"] = {"label": "roll-up minute step", "ms": ms, "rows": rows}
        ms, rows = timed(lambda: step("hour", timedelta(hours=1)), max(1, runs // 2))
        out["rollup_hour_step"] = {"label": "roll-up hour step", "ms": ms, "rows": rows}
        t0 = time.perf_counter()
        out["retention_s"] = rollups.apply_retention(engine, now=utc_now(), policy=policy).seconds
        out["retention_wall_s"] = round(time.perf_counter() - t0, 3)
        out["counts"], out["size_bytes"] = sizes(engine)
    finally:
        engine.dispose()
        naive.dispose()
    return out


TABLES = ("indicators", "areas", "grid_cells", "readings", "readings_latest", "readings_minute",
          "readings_hourly", "incidents")


def sizes(engine: Engine) -> tuple[dict[str, int], dict[str, int]]:
    with engine.connect() as conn:
        counts = {t: int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar_one()) for t in TABLES}
        counts["districts"] = int(conn.exec_driver_sql(
            "SELECT COUNT(*) FROM areas WHERE level = 'district'").scalar_one())
        counts["streets"] = int(conn.exec_driver_sql("SELECT COUNT(*) FROM areas WHERE level = 'street'").scalar_one())
        counts["open_incidents"] = int(conn.exec_driver_sql(
            "SELECT COUNT(*) FROM incidents WHERE closed_at IS NULL").scalar_one())
        if engine.dialect.name == "postgresql":
            size = {t: int(conn.exec_driver_sql(f"SELECT pg_total_relation_size('{t}')").scalar_one())
                    for t in TABLES}
            size["schema_total"] = int(conn.exec_driver_sql(
                "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
            ).scalar_one())
        else:
            db = Path(engine.url.database)
            size = {"file": db.stat().st_size, "schema_total": db.stat().st_size}
    return counts, size


def print_table(name: str, seeding: dict[str, Any], m: dict[str, Any]) -> None:
    c, s = m["counts"], m["size_bytes"]
    print(f"\n== {name}: {c['indicators']:,} indicators, {c['districts']} districts, {c['streets']} streets,"
          f" {c['grid_cells']:,} cells; readings {c['readings']:,} raw, {c['readings_minute']:,} minute,"
          f" {c['readings_hourly']:,} hourly; {c['incidents']:,} incidents ({c['open_incidents']:,} open);"
          f" {s['schema_total'] / 1e9:.2f} GB; seeded in {seeding['total_s']} s")
    print(f"{'read (warm, median)':<44}{'roll-ups ms':>13}{'naive ms':>12}{'speed-up':>10}{'rows':>9}")
    for key in ("latest", "wall_city", "wall_district", "wall_vitals_city", "wall_strip_city", "recent_1h",
                "hourly_7d", "rollup_minute_step", "rollup_hour_step"):
        e = m[key]
        naive = e.get("naive_ms")
        naive_text = "" if naive is None else f"{naive:,.1f}"
        ratio = "" if naive is None else f"{naive / max(e['ms'], 0.1):.1f}x"
        print(f"{e['label']:<44}{e['ms']:>13,.1f}{naive_text:>12}{ratio:>10}{e['rows']:>9,}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="scale 4, 3 h of raw readings, 100,000 incidents")
    ap.add_argument("--postgres", default=os.environ.get("CITYWALL_TEST_POSTGRES_URL")
                    or "postgresql+psycopg://postgres@127.0.0.1:5432/test",
                    help="PostgreSQL URL (a fresh schema is created and dropped)")
    ap.add_argument("--sqlite", action="store_true", help="also seed and measure a fresh SQLite file")
    ap.add_argument("--no-postgres", action="store_true", help="SQLite only (with --sqlite)")
    ap.add_argument("--scale", type=int, default=None, help="catalogue copies (default 22; --quick 4)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per read (median; naive: half)")
    ap.add_argument("--keep", action="store_true", help="keep the databases (prints their URLs)")
    a = ap.parse_args()
    started = time.perf_counter()
    scale = a.scale or (4 if a.quick else 22)
    policy = (rollups.RetentionPolicy(raw_s=4 * 3600, minute_s=6 * 3600, hourly_s=3 * 86400) if a.quick
              else rollups.DEFAULT_POLICY)
    incidents = 100_000 if a.quick else 1_000_000
    n_open = incidents // 10
    results: dict[str, Any] = {"mode": "quick" if a.quick else "full", "scale": scale, "cpus": os.cpu_count(),
                               "retention": {"raw_h": policy.raw_s / 3600, "minute_h": policy.minute_s / 3600,
                                             "hourly_d": policy.hourly_s / 86400}}
    backends: list[tuple[str, str, Callable[[], None]]] = []
    if not a.no_postgres:
        url, drop = postgres_schema(a.postgres)
        backends.append(("postgresql", url, drop))
    if a.sqlite:
        tmp = Path(tempfile.mkdtemp(prefix="cw-shanghai-"))
        backends.append(("sqlite", f"sqlite:///{tmp / 'shanghai.db'}", lambda: None))
    for name, url, cleanup in backends:
        try:
            print(f"== {name}: seeding (scale {scale}) ...", flush=True)
            seeding, _ = seed(url, scale=scale, policy=policy, incidents=incidents, n_open=n_open)
            print(f"  seeded: {json.dumps(seeding)}", flush=True)
            figures = measure(url, runs=a.runs, policy=policy)
            print_table(name, seeding, figures)
            results[name] = {"seed": seeding, **figures}
            if a.keep:
                print(f"  kept: {url}")
        finally:
            if not a.keep:
                cleanup()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    flat = {"mode": results["mode"], "scale": scale, "cpus": results["cpus"], "retention": results["retention"]}
    for name in ("postgresql", "sqlite"):
        if name in results:
            r = results[name]
            flat[name] = {
                "counts": r["counts"], "size_bytes": r["size_bytes"], "seed_s": r["seed"]["total_s"],
                **{f"{k}_ms": r[k]["ms"] for k in ("latest", "wall_city", "wall_district", "wall_vitals_city",
                                                   "wall_strip_city", "recent_1h", "hourly_7d",
                                                   "rollup_minute_step", "rollup_hour_step")},
                **{f"naive_{k}_ms": r[k]["naive_ms"] for k in ("wall_city", "wall_district", "wall_vitals_city",
                                                               "recent_1h", "hourly_7d")},
                "rollup_minute_rows": r["rollup_minute_step"]["rows"],
                "rollup_hour_rows": r["rollup_hour_step"]["rows"],
                "retention_s": r["retention_wall_s"],
            }
    flat["elapsed_s"] = results["elapsed_s"]
    print(json.dumps(flat, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
