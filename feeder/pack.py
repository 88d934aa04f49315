"""Load a city pack (areas, grid cells, indicator catalogue, incident categories, field resources)
into the base tables.

A pack is a folder of four files (``areas.geojson``, ``cells.geojson``, ``indicators.csv``,
``categories.csv``) and an optional fifth, ``resource_types.csv`` (the resource types and the demo
fleet: ``fleet_size`` resources of each type in every area of its ``fleet_level``). Loading is an
upsert: running it again updates rows in place and never deletes anything, so readings and
incidents that reference the rows survive a reload, and a reload leaves the resources' positions
and statuses (the feeder's) alone.
"""
from __future__ import annotations

import csv
import json
import math
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.schema import FIT_COLUMNS
from data_access.upsert import upsert
from feeder.episodes import EPISODE_KINDS
from feeder.resources import fleet_rows
from importers.geometry import bulk_bounds
from importers.grid import name_cells
from importers.scenarios import (
    Known,
    ScenarioCatalogueRows,
    known_in_database,
    merge_known,
    parse_scenarios,
    write_scenarios,
)

AREAS_FILE = "areas.geojson"
CELLS_FILE = "cells.geojson"
INDICATORS_FILE = "indicators.csv"
CATEGORIES_FILE = "categories.csv"
SCENARIOS_FILE = "scenarios.toml"  # optional: the scenario catalogue (importers/scenarios.py)
RESOURCE_TYPES_FILE = "resource_types.csv"
RAIN_GAUGES = ("rainfall_mm_h", "waterlogging_points")  # the demo pack's rain gauges (a rainstorm's indicators)
FLEET_LEVELS = ("district", "street")
LEVEL_ORDER = {"city": 0, "district": 1, "street": 2}

# Columns of indicators.csv that are text; everything else is numeric (empty = NaN = no value).
_INDICATOR_TEXT = ("indicator_id", "dimension", "name", "name_en", "wall_name", "wall_name_en", "unit", "unit_en",
                   "level", "aggregate", "sim_rhythm", "sim_kind")
_INDICATOR_OPTIONAL_FLOATS = ("warn_low", "warn_high", "alarm_low", "alarm_high")
# Each episode kind's multiplier column (sim_rain_factor, ...); empty or missing = 1 (unaffected).
SIM_FACTOR_COLUMNS = tuple(kind.factor_column for kind in EPISODE_KINDS.values())
_CATEGORY_TEXT = ("category", "subcategory", "name", "name_en", "category_name", "category_name_en", "source")


@dataclass(frozen=True)
class PackSummary:
    """How many rows of each kind the pack held (and were upserted)."""

    areas: int
    districts: int
    streets: int
    cells: int
    indicators: int
    categories: int
    resource_types: int = 0
    resources: int = 0


# --- reading ------------------------------------------------------------------------------------

def _features(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    if data.get("type") != "FeatureCollection":
        raise ValueError(f"{path}: expected a GeoJSON FeatureCollection")
    return list(data["features"])


def _compact(geometry: dict[str, Any] | None) -> str | None:
    # Compact separators and raw UTF-8: the wall ships this text to every browser.
    return None if geometry is None else json.dumps(geometry, separators=(",", ":"), ensure_ascii=False)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    number = float(value)
    return None if math.isnan(number) else number


def read_areas(pack_dir: Path) -> list[dict[str, Any]]:
    """Rows for ``areas``, parents before children (city, districts, streets) for the parent FK."""
    rows = []
    for feature in _features(pack_dir / AREAS_FILE):
        p = feature["properties"]
        level = str(p["level"]).strip()
        if level not in LEVEL_ORDER:
            raise ValueError(f"{AREAS_FILE}: area {p.get('area_code')!r} has unknown level {level!r}")
        rows.append({
            "area_code": str(p["area_code"]).strip(),
            "level": level,
            "parent_code": _text(p.get("parent_code")),
            "name": str(p["name"]),
            "name_en": _text(p.get("name_en")),
            "geojson": _compact(feature.get("geometry")),
            "center_lat": _float(p.get("center_lat")),
            "center_lon": _float(p.get("center_lon")),
            "sort_order": int(p.get("sort_order") or 0),
            "approximate": bool(p.get("approximate") or False),
        })
    rows.sort(key=lambda r: (LEVEL_ORDER[r["level"]], r["sort_order"], r["area_code"]))
    _fit_boxes(rows)
    return rows


def _fit_boxes(rows: list[dict[str, Any]]) -> None:
    """Each area's boundary source and the box of its bulk (importers.geometry.bulk_bounds); an area
    without a boundary (the city) gets the box of its children's boxes."""
    for r in rows:
        r["boundary_source"] = None if r["geojson"] is None else ("generated" if r["approximate"] else "file")
        box = bulk_bounds(shapely.from_geojson(r["geojson"])) if r["geojson"] else (None,) * 4
        r.update(zip(FIT_COLUMNS, box, strict=True))
    for r in rows:
        if r["fit_west"] is None:
            boxes = [c for c in rows if c["parent_code"] == r["area_code"] and c["fit_west"] is not None]
            if boxes:
                r.update(fit_west=min(c["fit_west"] for c in boxes), fit_south=min(c["fit_south"] for c in boxes),
                         fit_east=max(c["fit_east"] for c in boxes), fit_north=max(c["fit_north"] for c in boxes))


def read_cells(pack_dir: Path) -> list[dict[str, Any]]:
    """Rows for ``grid_cells`` (the district comes from the street in the views, not stored)."""
    rows = []
    for feature in _features(pack_dir / CELLS_FILE):
        p = feature["properties"]
        rows.append({
            "cell_id": str(p["cell_id"]).strip(),
            "street_code": str(p["street_code"]).strip(),
            "geojson": _compact(feature.get("geometry")),
            "center_lat": _float(p.get("center_lat")),
            "center_lon": _float(p.get("center_lon")),
        })
    rows.sort(key=lambda r: r["cell_id"])
    return rows


def read_indicator_catalogue(pack_dir: Path) -> pd.DataFrame:
    """indicators.csv as a DataFrame, one row per indicator, including the ``sim_*`` columns.

    Text columns are str ('' when empty), thresholds float (NaN = none), flags bool.
    """
    frame = pd.read_csv(pack_dir / INDICATORS_FILE, dtype={c: str for c in _INDICATOR_TEXT},
                        keep_default_na=False, na_values={c: [""] for c in _INDICATOR_OPTIONAL_FLOATS})
    for column in _INDICATOR_TEXT:
        if column in frame:
            frame[column] = frame[column].fillna("").astype(str).str.strip()
    for column in _INDICATOR_OPTIONAL_FLOATS:
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype(float)
    for column in ("period_s", "sort_order", "sim_decimals"):
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype(int)
    for column in ("higher_is_better", "on_wall"):
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype(int).astype(bool)
    for column in SIM_FACTOR_COLUMNS:
        if column not in frame:
            frame[column] = 1.0  # a pack from before the episode kind: the kind leaves it alone
    for column in ("sim_base", "sim_night_ratio", "sim_noise", *SIM_FACTOR_COLUMNS):
        frame[column] = pd.to_numeric(frame[column].replace("", None), errors="raise").astype(float)
    for column in SIM_FACTOR_COLUMNS:
        frame[column] = frame[column].fillna(1.0)
    if frame["indicator_id"].duplicated().any():
        dupes = sorted(frame.loc[frame["indicator_id"].duplicated(), "indicator_id"])
        raise ValueError(f"{INDICATORS_FILE}: duplicate indicator_id {dupes}")
    bad = frame.loc[frame["period_s"] <= 0, "indicator_id"].tolist()
    if bad:
        raise ValueError(f"{INDICATORS_FILE}: period_s must be positive for {bad}")
    return frame.reset_index(drop=True)


def read_categories(pack_dir: Path) -> pd.DataFrame:
    """categories.csv as a DataFrame, one row per subcategory."""
    frame = pd.read_csv(pack_dir / CATEGORIES_FILE, dtype={c: str for c in _CATEGORY_TEXT},
                        keep_default_na=False)
    for column in _CATEGORY_TEXT:
        frame[column] = frame[column].fillna("").astype(str).str.strip()
    frame["sla_hours"] = pd.to_numeric(frame["sla_hours"], errors="raise").astype(float)
    frame["daily_rate"] = pd.to_numeric(frame["daily_rate"], errors="raise").astype(float)
    for column in ("priority", "sort_order"):
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype(int)
    if frame["subcategory"].duplicated().any():
        raise ValueError(f"{CATEGORIES_FILE}: duplicate subcategory")
    return frame.reset_index(drop=True)


def read_resource_types(pack_dir: Path) -> pd.DataFrame:
    """resource_types.csv as a DataFrame (no file: no rows): resource_type, name, name_en,
    sort_order and the demo fleet (fleet_level, fleet_size, period_s)."""
    columns = ["resource_type", "name", "name_en", "sort_order", "fleet_level", "fleet_size", "period_s"]
    path = pack_dir / RESOURCE_TYPES_FILE
    if not path.exists():
        return pd.DataFrame(columns=columns)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("resource_type", "name") if c not in frame]
    if missing:
        raise ValueError(f"{RESOURCE_TYPES_FILE}: missing column(s) {missing}")
    for column, default in (("name_en", ""), ("sort_order", "0"), ("fleet_level", "district"),
                            ("fleet_size", "0"), ("period_s", "60")):
        if column not in frame:
            frame[column] = default
    for column in ("resource_type", "name", "name_en", "fleet_level"):
        frame[column] = frame[column].str.strip()
    for column in ("sort_order", "fleet_size", "period_s"):
        frame[column] = pd.to_numeric(frame[column].replace("", None), errors="raise").fillna(0).astype(int)
    if frame["resource_type"].duplicated().any() or (frame["resource_type"] == "").any():
        raise ValueError(f"{RESOURCE_TYPES_FILE}: resource_type must be unique and not empty")
    bad = frame.loc[~frame["fleet_level"].isin(FLEET_LEVELS), "resource_type"].tolist()
    if bad:
        raise ValueError(f"{RESOURCE_TYPES_FILE}: fleet_level must be one of {FLEET_LEVELS} for {bad}")
    if ((frame["fleet_size"] > 0) & (frame["period_s"] <= 0)).any() or (frame["fleet_size"] < 0).any():
        raise ValueError(f"{RESOURCE_TYPES_FILE}: fleet_size must be >= 0 and period_s positive")
    return frame[columns].reset_index(drop=True)


def _optional(value: float) -> float | None:
    return None if pd.isna(value) else float(value)


def indicator_rows(catalogue: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows for the ``indicators`` table from a catalogue frame (``decimals`` <- ``sim_decimals``)."""
    return [{
        "indicator_id": r.indicator_id,
        "dimension": r.dimension,
        "name": r.name,
        "name_en": r.name_en or None,
        "wall_name": getattr(r, "wall_name", "") or None,  # a pack without them: the wall shows the name
        "wall_name_en": getattr(r, "wall_name_en", "") or None,
        "unit": r.unit,
        "unit_en": getattr(r, "unit_en", "") or None,
        "level": r.level,
        "period_s": int(r.period_s),
        "warn_low": _optional(r.warn_low),
        "warn_high": _optional(r.warn_high),
        "alarm_low": _optional(r.alarm_low),
        "alarm_high": _optional(r.alarm_high),
        "higher_is_better": bool(r.higher_is_better),
        "on_wall": bool(r.on_wall),
        "sort_order": int(r.sort_order),
        "decimals": int(r.sim_decimals),
    } for r in catalogue.itertuples(index=False)]


def category_rows(categories: pd.DataFrame) -> list[dict[str, Any]]:
    return [{
        "subcategory": r.subcategory,
        "category": r.category,
        "name": r.name,
        "name_en": r.name_en or None,
        "category_name": r.category_name,
        "category_name_en": r.category_name_en or None,
        "sla_hours": float(r.sla_hours),
        "priority": int(r.priority),
        "sort_order": int(r.sort_order),
    } for r in categories.itertuples(index=False)]


def read_pack_scenarios(engine: Engine, pack_dir: Path) -> ScenarioCatalogueRows | None:
    """The pack's scenarios.toml checked against the pack's own catalogues and the database's (None:
    the pack has none). Read before anything is written: a bad file loads nothing."""
    path = pack_dir / SCENARIOS_FILE
    if not path.exists():
        return None
    catalogue = read_indicator_catalogue(pack_dir)
    categories: dict[str, set[str]] = {}
    for r in read_categories(pack_dir).itertuples(index=False):
        categories.setdefault(r.category, set()).add(r.subcategory)
    types_file = pack_dir / "resource_types.csv"
    types = set(pd.read_csv(types_file, dtype=str)["resource_type"].str.strip()) if types_file.exists() else set()
    own = Known(indicators=dict(zip(catalogue["indicator_id"], catalogue["level"], strict=True)),
                categories=categories, resource_types=types)
    return parse_scenarios(path, merge_known(known_in_database(engine), own))


# --- writing ------------------------------------------------------------------------------------

def _write_fleet(conn: Any, types: list[dict[str, Any]], fleet: list[dict[str, Any]]) -> None:
    upsert(conn, schema.resource_types, [{k: t[k] for k in ("resource_type", "name", "sort_order")}
                                         | {"name_en": t["name_en"] or None} for t in types])
    # A new resource starts idle without a position; a known one keeps what the feeder wrote.
    upsert(conn, schema.resources, fleet, update=["resource_type", "name", "name_en", "area_code", "period_s"])


def seed_fleet(engine: Engine, *, pack_dir: Path) -> int:
    """The pack's resource types and demo fleet over the areas the database holds, when its
    ``resources`` table is empty (a database from before field resources); resources written."""
    with engine.connect() as conn:
        if conn.execute(sa.select(schema.resources.c.resource_id).limit(1)).first() is not None:
            return 0
        a = schema.areas
        areas = [dict(r) for r in conn.execute(sa.select(a.c.area_code, a.c.level, a.c.name, a.c.name_en)
                                                .order_by(a.c.sort_order, a.c.area_code)).mappings()]
    types = read_resource_types(Path(pack_dir)).to_dict("records")
    fleet = fleet_rows(types, areas)
    if fleet:
        with engine.begin() as conn:
            _write_fleet(conn, types, fleet)
    return len(fleet)


def load_city_pack(engine: Engine, *, pack_dir: Path) -> PackSummary:
    """Upsert the pack in ``pack_dir`` into areas, grid_cells, indicators and incident_categories.

    One transaction: a half-loaded pack never shows on the wall. Idempotent, never deletes (but the
    scenario catalogue, which an optional scenarios.toml replaces whole).
    """
    pack_dir = Path(pack_dir)
    scenarios = read_pack_scenarios(engine, pack_dir)
    areas = read_areas(pack_dir)
    cells = read_cells(pack_dir)
    catalogue = read_indicator_catalogue(pack_dir)
    categories = read_categories(pack_dir)
    codes = {a["area_code"] for a in areas}
    orphans = sorted({c["street_code"] for c in cells} - codes)
    if orphans:
        raise ValueError(f"{CELLS_FILE}: cells reference unknown streets {orphans[:5]}")
    name_cells(cells, {a["area_code"]: (a["name"], a["name_en"]) for a in areas if a["level"] == "street"})
    types = read_resource_types(pack_dir).to_dict("records")
    fleet = fleet_rows(types, areas)
    with engine.begin() as conn:
        # Level by level: each batch's parents are already in place (PostgreSQL checks the FK per statement).
        for level in ("city", "district", "street"):
            upsert(conn, schema.areas, [a for a in areas if a["level"] == level])
        if scenarios is not None:  # the file is the whole catalogue: replaced, in this transaction
            write_scenarios(conn, scenarios)
        upsert(conn, schema.grid_cells, cells)
        upsert(conn, schema.indicators, indicator_rows(catalogue))
        upsert(conn, schema.incident_categories, category_rows(categories))
        _write_fleet(conn, types, fleet)
    return PackSummary(
        areas=len(areas),
        districts=sum(a["level"] == "district" for a in areas),
        streets=sum(a["level"] == "street" for a in areas),
        cells=len(cells),
        indicators=len(catalogue),
        categories=len(categories),
        resource_types=len(types),
        resources=len(fleet),
    )


def copy_pack(pack_dir: Path, dest: Path, *, periods: Mapping[str, int]) -> Path:
    """A copy of the pack in ``pack_dir`` at ``dest`` whose indicators ``periods`` names report every
    ``periods[indicator_id]`` seconds (``period_s`` in indicators.csv); the rest as they are. What the
    takeover test and benchmark use to make a rainstorm quick: the rain gauges (RAIN_GAUGES) every
    second or two instead of every 5 minutes. An indicator the pack does not have is a ValueError."""
    copied = Path(shutil.copytree(pack_dir, dest))
    path = copied / INDICATORS_FILE
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    unknown = set(periods) - {row["indicator_id"] for row in rows}
    if unknown:
        raise ValueError(f"no such indicator in {pack_dir / INDICATORS_FILE}: {', '.join(sorted(unknown))}")
    for row in rows:
        if row["indicator_id"] in periods:
            row["period_s"] = str(int(periods[row["indicator_id"]]))
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return copied
