"""Benchmark ``citywall import-incidents`` on SQLite: a synthetic 311-style CSV of N rows (default
1,000,000) into a synthetic city, against a naive row-by-row importer on a smaller sample.

    python bench/import_incidents.py [--rows 1000000] [--naive-rows 5000]

Everything happens in a temporary folder. The CSV looks like a real export: US-style local times,
an optional due column, ~3 % of rows without coordinates, ~1 % outside the city, a few
unparseable times and unknown statuses, so the reject path is exercised too. The naive baseline does
what a first attempt does: csv.DictReader, strptime per row, a point-in-polygon test against each
street in turn, one INSERT ... ON CONFLICT per row. The last line is JSON.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from shapely.geometry import box, mapping

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_access import schema  # noqa: E402
from data_access.db import init_db, make_engine  # noqa: E402
from importers.areas import import_areas, new_city  # noqa: E402
from importers.grid import make_grid  # noqa: E402
from importers.incidents import import_incidents  # noqa: E402

LON0, LAT0, SPAN = -74.05, 40.60, 0.24  # a ~20 km square city, 4 districts x 9 streets
TYPES = ["Noise - Residential", "Illegal Parking", "Blocked Driveway", "Street Light Condition", "Rodent"]
MAPPING = """
[columns]
id = "Unique Key"
category = "Complaint Type"
status = "Status"
reported_at = "Created Date"
closed_at = "Closed Date"
due_at = "Due Date"
lat = "Latitude"
lon = "Longitude"
title = "{Complaint Type}: {Descriptor}"
address = "Incident Address"
[times]
format = "%m/%d/%Y %I:%M:%S %p"
timezone = "America/New_York"
[incidents]
id_prefix = "b-"
channel = "hotline_311"
[statuses]
Open = "reported"
Assigned = "dispatched"
Closed = "closed"
[categories]
"Noise - Residential" = "noise"
"Illegal Parking" = "parking"
"*" = "other"
[[category]]
category = "noise"
category_name = "Noise"
subcategory = "noise"
name = "Noise"
sla_hours = 8
[[category]]
category = "street_order"
category_name = "Street order"
subcategory = "parking"
name = "Parking"
sla_hours = 8
[[category]]
category = "requests"
category_name = "Requests"
subcategory = "other"
name = "Other"
sla_hours = 72
"""


def build_city(engine: sa.Engine, folder: Path) -> None:
    new_city(engine, code="BENCH", name="Bench City", name_en="Bench City", timezone="America/New_York")
    half = SPAN / 2
    features = []
    for d, (dx, dy) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        for s in range(9):
            x0, y0 = LON0 + dx * half + (s % 3) * half / 3, LAT0 + dy * half + (s // 3) * half / 3
            features.append({"type": "Feature", "properties": {"code": f"d{d}s{s}", "district": f"D{d}"},
                             "geometry": mapping(box(x0, y0, x0 + half / 3, y0 + half / 3))})
    path = folder / "streets.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    import_areas(engine, path=path, level="street", code_property="code", name_property="code",
                 dissolve_property="district")
    make_grid(engine, resolution=8)


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, rows), unit="s")
    closed_mask = rng.random(rows) < 0.9
    closed = created + pd.to_timedelta(rng.integers(600, 10 * 86400, rows), unit="s")
    due = created + pd.to_timedelta(rng.integers(3600, 14 * 86400, rows), unit="s")
    fmt = "%m/%d/%Y %I:%M:%S %p"
    lat = LAT0 + rng.random(rows) * SPAN * 1.02 - SPAN * 0.01  # ~4 % of the points fall outside
    lon = LON0 + rng.random(rows) * SPAN * 1.02 - SPAN * 0.01
    no_coords = rng.random(rows) < 0.03
    lat_text = pd.Series(np.round(lat, 6).astype(str)).where(~no_coords, "")
    lon_text = pd.Series(np.round(lon, 6).astype(str)).where(~no_coords, "")
    created_text = pd.Series(created.strftime(fmt))
    created_text[rng.random(rows) < 0.002] = "not a date"
    status = np.where(closed_mask, "Closed", np.where(rng.random(rows) < 0.5, "Open", "Assigned"))
    status[rng.random(rows) < 0.001] = "Mystery"
    frame = pd.DataFrame({
        "Unique Key": np.arange(10_000_000, 10_000_000 + rows).astype(str),
        "Created Date": created_text,
        "Closed Date": pd.Series(closed.strftime(fmt)).where(closed_mask, ""),
        "Agency": "NYPD",
        "Complaint Type": rng.choice(TYPES, rows),
        "Descriptor": rng.choice(["Loud Music/Party", "Banging/Pounding", "Blocked Hydrant", "Other"], rows),
        "Status": status,
        "Due Date": pd.Series(due.strftime(fmt)).where(rng.random(rows) < 0.8, ""),
        "Incident Address": pd.Series(rng.integers(1, 999, rows).astype(str)) + " BROADWAY",
        "Borough": "MANHATTAN",
        "Latitude": lat_text,
        "Longitude": lon_text,
    })
    frame.to_csv(path, index=False)


def naive_import(engine: sa.Engine, path: Path, limit: int) -> tuple[int, float]:
    """A first-attempt importer: one row at a time, everything in Python, one statement per row."""
    with engine.connect() as conn:
        streets = [(r.area_code, r.parent_code, shapely.from_geojson(r.geojson)) for r in conn.execute(sa.text(
            "SELECT area_code, parent_code, geojson FROM v_areas WHERE level = 'street'"))]
    tz, utc = ZoneInfo("America/New_York"), ZoneInfo("UTC")
    categories = {"Noise - Residential": ("noise", "noise", 8), "Illegal Parking": ("street_order", "parking", 8)}
    statuses = {"Open": "reported", "Assigned": "dispatched", "Closed": "closed"}
    fmt = "%m/%d/%Y %I:%M:%S %p"

    def parse(text: str) -> datetime | None:
        if not text:
            return None
        return datetime.strptime(text, fmt).replace(tzinfo=tz).astimezone(utc).replace(tzinfo=None)

    from sqlalchemy.dialects.sqlite import insert

    stmt = insert(schema.incidents)
    stmt = stmt.on_conflict_do_update(index_elements=["incident_id"],
                                      set_={c.name: stmt.excluded[c.name] for c in schema.incidents.columns
                                            if c.name not in ("incident_id", "reopened", "dispatched_at",
                                                              "started_at", "resolved_at", "source")})
    started = time.perf_counter()
    done = 0
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if done >= limit:
                break
            done += 1
            try:
                reported = parse(row["Created Date"])
                closed = parse(row["Closed Date"])
                due = parse(row["Due Date"])
            except ValueError:
                continue
            status = statuses.get(row["Status"])
            if status is None or not row["Latitude"]:
                continue
            point = shapely.Point(float(row["Longitude"]), float(row["Latitude"]))
            home = next(((code, parent) for code, parent, geom in streets if geom.contains(point)), None)
            if home is None:
                continue
            category, subcategory, sla = categories.get(row["Complaint Type"], ("requests", "other", 72))
            with engine.begin() as conn:
                conn.execute(stmt, {
                    "incident_id": "n-" + row["Unique Key"], "category": category, "subcategory": subcategory,
                    "priority": 1, "status": status, "title": row["Complaint Type"], "address": row["Incident Address"],
                    "lat": point.y, "lon": point.x, "cell_id": None, "street_code": home[0], "district_code": home[1],
                    "reported_at": reported, "closed_at": closed if status == "closed" else None,
                    "due_at": due or reported + timedelta(hours=sla)})
    return done, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-rows", type=int, default=5_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="citywall-bench-") as tmp:
        folder = Path(tmp)
        engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
        init_db(engine, timezone="America/New_York")
        build_city(engine, folder)
        csv_path, mapping_path = folder / "requests.csv", folder / "mapping.toml"
        mapping_path.write_text(MAPPING)
        t0 = time.perf_counter()
        write_csv(csv_path, args.rows)
        print(f"wrote {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        summary = import_incidents(engine, path=csv_path, mapping_path=mapping_path)
        print(summary)
        assert summary.imported + summary.rejected == args.rows
        again = import_incidents(engine, path=csv_path, mapping_path=mapping_path)
        print(f"re-import (all updates): {again.seconds:.1f} s, {again.updated:,} updated, {again.new:,} new")
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT COUNT(*) FROM incidents")).scalar_one()
        assert stored == summary.imported, (stored, summary.imported)
        naive_rows, naive_s = naive_import(engine, csv_path, args.naive_rows)
        engine.dispose()
    rate = summary.rows / summary.seconds
    naive_rate = naive_rows / naive_s
    print(f"citywall import-incidents: {rate:,.0f} rows/s ({summary.seconds:.1f} s wall clock,"
          f" {summary.cpu_seconds:.1f} s CPU for {summary.rows:,} rows)")
    print(f"naive row-by-row:          {naive_rate:,.0f} rows/s ({naive_s:.1f} s for {naive_rows:,} rows)"
          f" -> {rate / naive_rate:.0f}x")
    print(json.dumps({"rows": summary.rows, "seconds": round(summary.seconds, 2),
                      "cpu_seconds": round(summary.cpu_seconds, 2), "rows_per_s": round(rate),
                      "imported": summary.imported, "rejected": summary.rejected,
                      "reimport_seconds": round(again.seconds, 2), "naive_rows": naive_rows,
                      "naive_rows_per_s": round(naive_rate), "speedup": round(rate / naive_rate, 1),
                      "under_2_minutes": summary.seconds < 120}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
