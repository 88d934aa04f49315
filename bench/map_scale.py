"""How the incident map scales: 1,000,000 incidents (100,000 open) on SQLite and PostgreSQL.

    python bench/map_scale.py [--quick] [--postgres URL] [--keep]
    python bench/map_scale.py --demo sqlite:////tmp/map-demo.db --incidents 60000 --open 6000

Seeds the Shanghai pack and N seeded-random incidents (bulk executemany on SQLite, COPY on
PostgreSQL) into a fresh SQLite file and a fresh PostgreSQL schema, then times the map's
aggregation reads at each level (what one tick costs, before the tick cache shares it) and
measures the map's payload: geometry (once per page load) and the per-tick hideout. A naive
baseline runs in the same process: the raw open points shipped at city level, aggregated in
pandas. The last line is one JSON object with every figure. ``--quick``: 100,000 / 10,000.
``--demo URL`` only seeds a database (for screenshots) and exits; ``--measure URL`` only
measures an already seeded one (e.g. one kept by ``--demo``, while iterating).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from data_access import areas as queries  # noqa: E402
from data_access import incident_list, incidents  # noqa: E402
from data_access.db import init_db, make_engine, utc_now  # noqa: E402
from data_access.models import Area, IncidentFilter  # noqa: E402
from data_access.settings import DEFAULT_PACK  # noqa: E402
from feeder.pack import load_city_pack, read_categories  # noqa: E402
from pages import _map as im  # noqa: E402

COLUMNS = ("incident_id", "category", "subcategory", "source", "priority", "status", "title", "address", "lat",
           "lon", "cell_id", "street_code", "district_code", "reported_at", "dispatched_at", "started_at",
           "resolved_at", "closed_at", "due_at", "reopened")
TZ = "Asia/Shanghai"


def generate_incidents(engine: Engine, *, total: int, n_open: int, seed: int = 4) -> pd.DataFrame:
    """``total`` incidents, ``n_open`` of them open, over the pack's cells (hot spots included)."""
    rng = np.random.default_rng(seed)
    with engine.connect() as conn:
        cells = pd.read_sql(sa.text("SELECT g.cell_id, g.street_code, g.district_code, g.center_lat, g.center_lon,"
                                    " s.name AS street_name FROM v_grid_cells g"
                                    " JOIN v_areas s ON s.area_code = g.street_code ORDER BY g.cell_id"), conn)
    cats = read_categories(DEFAULT_PACK)
    now = pd.Timestamp(utc_now())
    weights = rng.pareto(1.2, len(cells)) + 0.05  # a few hot cells, a long tail
    cell_ix = rng.choice(len(cells), size=total, p=weights / weights.sum())
    cat_ix = rng.choice(len(cats), size=total, p=(cats["daily_rate"] / cats["daily_rate"].sum()).to_numpy())
    is_open = np.zeros(total, dtype=bool)
    is_open[rng.choice(total, size=n_open, replace=False)] = True
    sla = pd.to_timedelta(cats["sla_hours"].to_numpy()[cat_ix], unit="h")
    age_open = pd.to_timedelta(rng.exponential(20 * 3600, total).clip(60, 20 * 86400), unit="s")
    age_closed = pd.to_timedelta(rng.uniform(3600, 60 * 86400, total), unit="s")
    reported = now - np.where(is_open, age_open, age_closed)
    reported = pd.DatetimeIndex(reported).floor("s")
    handle = pd.to_timedelta(rng.uniform(0.2, 1.4, total), unit="s") * (sla.total_seconds().to_numpy())
    closed_at = pd.DatetimeIndex(reported + handle).floor("s")
    closed_at = closed_at.where(closed_at < now, now - pd.Timedelta(seconds=1))
    open_status = np.array(["reported", "dispatched", "in_progress", "resolved"])[
        rng.choice(4, size=total, p=[0.25, 0.3, 0.35, 0.1])]
    frame = pd.DataFrame({
        "incident_id": [f"B{i:07d}" for i in range(total)],
        "category": cats["category"].to_numpy()[cat_ix],
        "subcategory": cats["subcategory"].to_numpy()[cat_ix],
        "source": cats["source"].to_numpy()[cat_ix],
        "priority": cats["priority"].to_numpy()[cat_ix].astype(int),
        "status": np.where(is_open, open_status, "closed"),
        "title": cats["name"].to_numpy()[cat_ix],
        "address": cells["street_name"].to_numpy()[cell_ix] + " " + (rng.integers(1, 999, total)).astype(str) + "号",
        "lat": (cells["center_lat"].to_numpy()[cell_ix] + rng.uniform(-0.002, 0.002, total)).round(6),
        "lon": (cells["center_lon"].to_numpy()[cell_ix] + rng.uniform(-0.002, 0.002, total)).round(6),
        "cell_id": cells["cell_id"].to_numpy()[cell_ix],
        "street_code": cells["street_code"].to_numpy()[cell_ix],
        "district_code": cells["district_code"].to_numpy()[cell_ix],
        "reported_at": reported,
        "due_at": pd.DatetimeIndex(reported + sla).floor("s"),
    })
    frame["dispatched_at"] = frame["reported_at"] + pd.Timedelta(minutes=10)
    frame.loc[is_open & (frame["status"] == "reported"), "dispatched_at"] = pd.NaT
    frame["started_at"] = frame["dispatched_at"]
    frame["resolved_at"] = pd.Series(closed_at, index=frame.index).where(~is_open)
    frame["closed_at"] = pd.Series(closed_at, index=frame.index).where(~is_open)
    frame["reopened"] = 0
    return frame


def _text_times(frame: pd.DataFrame) -> list[tuple]:
    out = frame.copy()
    for column in ("reported_at", "dispatched_at", "started_at", "resolved_at", "closed_at", "due_at"):
        out[column] = out[column].dt.strftime("%Y-%m-%d %H:%M:%S")
    out = out.astype(object).where(out.notna(), None)
    return list(out[list(COLUMNS)].itertuples(index=False, name=None))


def bulk_insert(engine: Engine, frame: pd.DataFrame, chunk: int = 50_000) -> None:
    """executemany in chunks on SQLite, COPY on PostgreSQL; then ANALYZE."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            cursor = conn.connection.driver_connection.cursor()
            with cursor.copy(f"COPY incidents ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in _text_times(frame):
                    copy.write_row(row)
            conn.exec_driver_sql("ANALYZE incidents")
        return
    marks = ", ".join("?" * len(COLUMNS))
    sql = f"INSERT INTO incidents ({', '.join(COLUMNS)}) VALUES ({marks})"
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for start in range(0, len(frame), chunk):
            raw.executemany(sql, _text_times(frame.iloc[start:start + chunk]))
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def seed(engine: Engine, *, total: int, n_open: int) -> dict[str, float]:
    t0 = time.perf_counter()
    init_db(engine, timezone=TZ)
    load_city_pack(engine, pack_dir=DEFAULT_PACK)
    t1 = time.perf_counter()
    frame = generate_incidents(engine, total=total, n_open=n_open)
    t2 = time.perf_counter()
    bulk_insert(engine, frame)
    t3 = time.perf_counter()
    return {"pack_s": round(t1 - t0, 2), "generate_s": round(t2 - t1, 2), "insert_s": round(t3 - t2, 2)}


def timed(fn: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    fn()  # warm the page cache and the statement cache
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1000, 1), result


def nbytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def pick_areas(engine: Engine) -> dict[str, Area]:
    """The city, its busiest district and that district's busiest street."""
    city = queries.city_area(engine=engine)
    assert city is not None
    district = incidents.child_areas_ranked(engine=engine, parent_code=city.area_code).sort_values("open").iloc[-1]
    street = incidents.child_areas_ranked(engine=engine, parent_code=district.area_code).sort_values("open").iloc[-1]
    return {"city": city, "district": queries.area_by_code(engine=engine, area_code=district.area_code),
            "street": queries.area_by_code(engine=engine, area_code=street.area_code)}


def measure(engine: Engine) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tz = pd.Timestamp.now(tz=TZ).tz
    for level, area in pick_areas(engine).items():
        ms, update = timed(lambda a=area: im.load_update(engine=engine, area=a, lang="zh", tz=tz))
        geo_ms, geometry = timed(lambda a=area: im.load_geometry(engine=engine, area=a, lang="zh", lang_param=None),
                                 runs=1)
        tick = {"areas": update.areas_hideout["counts"], "cells": update.cells_hideout["counts"],
                "points": update.points}
        out[level] = {
            "area": area.area_code, "tick_query_ms": ms, "geometry_query_ms": geo_ms,
            "geometry_bytes": nbytes(geometry.areas) + nbytes(geometry.cells),
            "tick_bytes": nbytes(tick), "cells_shown": update.totals.get("cells"),
            "points": len(update.points["features"]) if update.points else 0,
        }
    # the naive baseline: every open incident shipped as a point at city level, counted in pandas
    def naive() -> tuple[int, pd.DataFrame]:
        with engine.connect() as conn:
            raw = pd.read_sql(sa.text("SELECT incident_id, priority, overdue, lat, lon, cell_id, district_code"
                                      " FROM v_open_incidents"), conn)
        features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                     "properties": {"id": r.incident_id, "p": int(r.priority), "od": int(r.overdue)}}
                    for r in raw.itertuples(index=False)]
        counts = raw.groupby("district_code").agg(open=("incident_id", "size"), overdue=("overdue", "sum"))
        return nbytes({"type": "FeatureCollection", "features": features}), counts
    naive_ms, (naive_bytes, _) = timed(naive, runs=1)
    out["naive_city"] = {"query_and_pandas_ms": naive_ms, "tick_bytes": naive_bytes}
    ms, filtered = timed(lambda: incident_list.list_incidents(engine=engine, filt=IncidentFilter.from_values(
        categories=["facilities"], overdue="1"), limit=100))
    count_ms, count = timed(lambda: incident_list.count_incidents(engine=engine, filt=IncidentFilter.from_values(
        categories=["facilities"], overdue="1")))
    out["list"] = {"first_page_ms": ms, "count_ms": count_ms, "matched": count, "rows": len(filtered)}
    return out


def postgres_schema(url: str) -> tuple[str, Callable[[], None]]:
    name = f"cw_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {name}")

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        admin.dispose()

    scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={name}"})
    return scoped.render_as_string(hide_password=False), drop


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100,000 incidents, 10,000 open")
    ap.add_argument("--postgres", default=os.environ.get("CITYWALL_TEST_POSTGRES_URL", ""),
                    help="PostgreSQL URL (a fresh schema is created and dropped); empty: SQLite only")
    ap.add_argument("--keep", action="store_true", help="keep the databases")
    ap.add_argument("--demo", metavar="URL", help="only seed this database (for screenshots) and exit")
    ap.add_argument("--measure", metavar="URL", help="only measure this already seeded database and exit")
    ap.add_argument("--incidents", type=int, default=None)
    ap.add_argument("--open", type=int, default=None)
    a = ap.parse_args()
    total = a.incidents or (100_000 if a.quick else 1_000_000)
    n_open = a.open or total // 10
    if a.demo:
        engine = make_engine(a.demo)
        print(json.dumps({"demo": a.demo, **seed(engine, total=total, n_open=n_open)}))
        return 0
    if a.measure:
        engine = make_engine(a.measure)
        init_db(engine, timezone=TZ)  # the current views and indexes
        print(json.dumps({"measure": a.measure, **measure(engine)}, separators=(",", ":")))
        return 0
    results: dict[str, Any] = {"incidents": total, "open": n_open}
    backends: list[tuple[str, str, Callable[[], None]]] = []
    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    backends.append(("sqlite", f"sqlite:///{tmp / 'bench.db'}", lambda: None))
    if a.postgres:
        url, drop = postgres_schema(a.postgres)
        backends.append(("postgresql", url, drop))
    for name, url, cleanup in backends:
        engine = make_engine(url)
        try:
            seeding = seed(engine, total=total, n_open=n_open)
            figures = measure(engine)
            results[name] = {"seed": seeding, **figures}
            print(f"== {name}: seeded {total:,} incidents ({n_open:,} open) in "
                  f"{seeding['generate_s'] + seeding['insert_s']:.1f} s", flush=True)
            for level in ("city", "district", "street"):
                f = figures[level]
                print(f"  {level:<8} tick query {f['tick_query_ms']:>8.1f} ms  tick payload {f['tick_bytes']:>9,} B"
                      f"  geometry once {f['geometry_bytes']:>10,} B  ({f['cells_shown']} cells, {f['points']} points)")
            nv = figures["naive_city"]
            print(f"  naive    raw open points + pandas {nv['query_and_pandas_ms']:>8.1f} ms  "
                  f"payload {nv['tick_bytes']:>10,} B per tick")
            li = figures["list"]
            print(f"  list     first page {li['first_page_ms']} ms, count {li['count_ms']} ms ({li['matched']:,} rows)")
        finally:
            engine.dispose()
            if not a.keep:
                cleanup()
    print(json.dumps(results, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
