"""What every importer shares: the one-line failure, GeoJSON reading with feature numbers, codes,
and the areas as the database holds them (read through the views). Geometry: importers/geometry.py;
writes: data_access/upsert.py.

An importer validates everything it can *before* its first write; when it cannot go on it raises
``ImportFailure`` whose text is one line, "<file>: <place>: <problem>", which the CLI prints as is.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry import MultiPolygon, Polygon, shape
from sqlalchemy.engine import Connection, Engine

from data_access import schema
from importers.geometry import Geom, polygonal

# The characters every page accepts in an area code (incident_queries.valid_code) ...
CODE_PATTERN = re.compile(r"^[0-9A-Za-z_.-]{1,32}$")
# ... and the wall's scope (/wall/<code>) is stricter: letters and digits only.
WALL_CODE_PATTERN = re.compile(r"^[0-9A-Za-z]{1,32}$")


class ImportFailure(ValueError):
    """An import that stopped before writing anything half-done; str() is one line naming the
    file, the place in it and the problem."""


@dataclass(frozen=True)
class Feature:
    number: int  # 1-based position in the file's "features" array, as messages name it
    properties: dict[str, Any]
    geometry: Geom
    repaired: bool


def slug(text: str) -> str:
    """An area code from a name: ASCII letters and digits only ("Staten Island" -> "statenisland"),
    so it works in every URL, the wall's /wall/<code> included."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^0-9a-z]", "", ascii_text.lower())[:32]


def text_value(value: Any) -> str | None:
    """A property as text (``12.0`` -> "12": numeric codes often arrive as floats), None when empty."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def read_polygons(path: Path) -> list[Feature]:
    """Every feature of a GeoJSON FeatureCollection of (Multi)Polygons, repaired where invalid.

    Raises ImportFailure naming the file and the feature number for anything unusable.
    """
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ImportFailure(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ImportFailure(f"{path}: byte {exc.start}: not UTF-8 text, so not GeoJSON") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImportFailure(f"{path}: line {exc.lineno} column {exc.colno}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        kind = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise ImportFailure(f"{path}: top level: expected a GeoJSON FeatureCollection, found {kind!r}")
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise ImportFailure(f"{path}: \"features\": expected a non-empty list of features")
    out: list[Feature] = []
    for number, item in enumerate(features, start=1):
        place = f"{path}: feature {number}"
        if not isinstance(item, dict) or item.get("type") != "Feature":
            raise ImportFailure(f"{place}: not a GeoJSON Feature")
        if not item.get("geometry"):
            raise ImportFailure(f"{place}: has no geometry")
        try:
            geom = shape(item["geometry"])
        except Exception as exc:  # noqa: BLE001 - shapely raises several kinds for broken coordinates
            raise ImportFailure(f"{place}: unreadable geometry ({exc})") from None
        if not isinstance(geom, Polygon | MultiPolygon):
            raise ImportFailure(f"{place}: a {geom.geom_type}, expected a Polygon or MultiPolygon")
        repaired = not geom.is_valid
        if repaired:  # self-intersections, bow-ties, wrong ring order: repair rather than refuse
            geom = polygonal(geom, repair=True)
            if geom is None:
                raise ImportFailure(f"{place}: invalid geometry that has no area once repaired")
        if geom.is_empty:
            raise ImportFailure(f"{place}: empty geometry")
        out.append(Feature(number, dict(item.get("properties") or {}), geom, repaired))
    return out


@dataclass(frozen=True)
class StoredArea:
    area_code: str
    level: str
    parent_code: str | None
    name: str
    name_en: str | None
    geometry: Geom | None


def stored_areas(engine: Engine) -> list[StoredArea]:
    """Every area as the app sees it (v_areas), with its shape."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT area_code, level, parent_code, name, name_en, geojson FROM v_areas"
            " ORDER BY level, sort_order, area_code")).all()
    out = []
    for r in rows:
        geom = shapely.from_geojson(r.geojson) if r.geojson else None
        out.append(StoredArea(r.area_code, r.level, r.parent_code, r.name, r.name_en,
                              polygonal(geom) if geom is not None else None))
    return out


def the_city(conn: Connection) -> tuple[str, str] | None:
    """(code, name) of the database's one city, None when there is none yet."""
    row = conn.execute(sa.select(schema.areas.c.area_code, schema.areas.c.name)
                       .where(schema.areas.c.level == "city").order_by(schema.areas.c.area_code)).first()
    return (row.area_code, row.name) if row else None
