"""Start a city and import its boundaries: ``citywall new-city`` and ``citywall import-areas``.

One database (or PostgreSQL schema) holds one city. Districts hang under the city, streets under
districts; a street's district comes from a property, from containment, or from dissolving the
street layer on a region property (which creates the districts).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.db import init_db
from data_access.upsert import upsert
from importers.common import (
    CODE_PATTERN,
    WALL_CODE_PATTERN,
    Feature,
    ImportFailure,
    StoredArea,
    read_polygons,
    slug,
    stored_areas,
    text_value,
    the_city,
)
from importers.geometry import Geom, coverage_simplified, geometry_text, inner_point, polygonal, snapped

CITY_TIMEZONE_KEY = "city_timezone"  # citywall_meta key: the zone new-city was given


@dataclass(frozen=True)
class CitySummary:
    code: str
    name: str
    timezone: str
    created: bool

    def __str__(self) -> str:
        verb = "created" if self.created else "updated"
        return (f"city {self.code} ({self.name}) {verb}; serve it with CITYWALL_TIMEZONE={self.timezone}"
                f" and CITYWALL_FEEDER=0")


def new_city(engine: Engine, *, code: str, name: str, name_en: str | None, timezone: str) -> CitySummary:
    """Create the tables and views (for the city's time zone) and the city row; idempotent for the
    same code, refused when the database already serves another city."""
    if not CODE_PATTERN.match(code):
        raise ImportFailure(f"new-city: --code {code!r}: use 1-32 letters, digits, '_', '.' or '-'")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportFailure(f"new-city: --timezone {timezone!r}: not an IANA time zone") from None
    init_db(engine, timezone=timezone)
    with engine.begin() as conn:
        existing = the_city(conn)
        if existing and existing[0] != code:
            raise ImportFailure(f"new-city: {engine.url.render_as_string(hide_password=True)}: already holds the city "
                                f"{existing[0]} ({existing[1]}); one city per database or schema")
        upsert(conn, schema.areas, [{"area_code": code, "level": "city", "parent_code": None, "name": name,
                                          "name_en": name_en, "sort_order": 0}])
        conn.execute(schema.meta.delete().where(schema.meta.c.key == CITY_TIMEZONE_KEY))
        conn.execute(schema.meta.insert().values(key=CITY_TIMEZONE_KEY, value=timezone))
    return CitySummary(code, name, timezone, created=existing is None)


def city_timezone(engine: Engine) -> str | None:
    """The time zone recorded by new-city, if any (so commands can warn about a different setting)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == CITY_TIMEZONE_KEY)
                            ).scalar_one_or_none()


@dataclass
class AreaSummary:
    level: str
    imported: int
    created_parents: int = 0
    repaired: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.imported} {self.level}s imported"
        if self.created_parents:
            text += f", {self.created_parents} districts created by dissolving"
        if self.repaired:
            shown = ", ".join(str(n) for n in self.repaired[:10]) + (" …" if len(self.repaired) > 10 else "")
            text += f"; invalid geometry repaired in feature(s) {shown}"
        return "\n".join([text, *self.warnings])


@dataclass(frozen=True)
class _Row:
    code: str
    name: str
    name_en: str | None
    parent: str | None
    geom: Geom
    number: int | None  # feature number, None for dissolved parents


def _prop(feature: Feature, key: str, *, path: Path, required: bool) -> str | None:
    value = text_value(feature.properties.get(key))
    if value is None and required:
        known = ", ".join(sorted(feature.properties)) or "none"
        raise ImportFailure(f"{path}: feature {feature.number}: property {key!r} is missing or empty"
                            f" (properties: {known})")
    return value


def _code(value: str, *, from_name: bool, place: str) -> str:
    code = slug(value) if from_name else value
    if not code or not CODE_PATTERN.match(code):
        raise ImportFailure(f"{place}: code {code!r} (from {value!r}): use 1-32 letters, digits, '_', '.' or '-'"
                            " (or --code-from-name)")
    return code


def _unique(rows: list[_Row], *, path: Path, what: str) -> None:
    seen: dict[str, _Row] = {}
    for row in rows:
        if row.code in seen:
            first = seen[row.code]
            where = (f"features {first.number} and {row.number}" if first.number and row.number
                     else f"{what} {row.name!r} and {first.name!r}")
            raise ImportFailure(f"{path}: {where}: both have the code {row.code!r}; codes must be unique")
        seen[row.code] = row


def _containing(children: list[Geom], parents: list[Geom]) -> np.ndarray:
    """Index of the parent holding each child (its inner point, else the largest overlap); -1: none."""
    owner = np.full(len(children), -1)
    if not parents:
        return owner
    tree = shapely.STRtree(np.asarray(parents, dtype=object))
    points = np.asarray([shapely.point_on_surface(g) for g in children], dtype=object)
    child_idx, parent_idx = tree.query(points, predicate="intersects")
    for c, p in zip(child_idx, parent_idx, strict=True):
        if owner[c] == -1 or p < owner[c]:
            owner[c] = p
    for c in np.flatnonzero(owner == -1):  # a child whose inner point is in no parent: best overlap
        overlap = shapely.area(shapely.intersection(np.asarray(parents, dtype=object), children[c]))
        if overlap.max(initial=0.0) > 0:
            owner[c] = int(np.argmax(overlap))
    return owner


def import_areas(
    engine: Engine, *, path: Path, level: str, name_property: str, code_property: str | None = None,
    code_from_name: bool = False, name_en_property: str | None = None, parent_property: str | None = None,
    parent_spatial: bool = False, dissolve_property: str | None = None, dissolve_code_property: str | None = None,
    simplify_m: float = 0.0, approximate: bool = False, city_name: str | None = None,
) -> AreaSummary:
    """Read, check and upsert one layer of districts or streets (and the districts dissolved from
    it) in one transaction; nothing is written when any feature is unusable."""
    path = Path(path)
    _check_options(level, code_property=code_property, code_from_name=code_from_name,
                   parent_property=parent_property, parent_spatial=parent_spatial, dissolve_property=dissolve_property)
    features = read_polygons(path)
    rows = _layer_rows(features, path=path, name_property=name_property, code_property=code_property,
                       code_from_name=code_from_name, parent_property=parent_property,
                       name_en_property=name_en_property)
    _unique(rows, path=path, what=level)
    summary = AreaSummary(level=level, imported=len(rows), repaired=[f.number for f in features if f.repaired])
    existing = {a.area_code: a for a in stored_areas(engine)}
    city = _city_for(engine, path=path, city_name=city_name)
    parents: list[_Row] = []
    if dissolve_property:
        parents, rows = _dissolved(features, rows, path=path, city_code=city[0], dissolve_property=dissolve_property,
                                   dissolve_code_property=dissolve_code_property)
        summary.created_parents = len(parents)
    elif level == "district":
        rows = [_Row(r.code, r.name, r.name_en, city[0], r.geom, r.number) for r in rows]
    elif parent_spatial:
        rows = _placed_in_districts(rows, existing, path=path)
    else:
        _check_parents(rows, existing, path=path, parent_property=parent_property)
    summary.warnings += _check_levels(parents, rows, existing, path=path, level=level,
                                      dissolve_property=dissolve_property)
    shapes_parents = coverage_simplified([p.geom for p in parents], simplify_m)
    shapes_rows = coverage_simplified([r.geom for r in rows], simplify_m)
    with engine.begin() as conn:
        if the_city(conn) is None:
            upsert(conn, schema.areas, [{"area_code": city[0], "level": "city", "parent_code": None,
                                         "name": city[1], "name_en": city[1], "sort_order": 0}])
        upsert(conn, schema.areas, _area_rows(parents, shapes_parents, "district", approximate=False))
        upsert(conn, schema.areas, _area_rows(rows, shapes_rows, level, approximate=approximate))
        _place_city(conn, city[0])
    return summary


def _check_options(level: str, *, code_property: str | None, code_from_name: bool, parent_property: str | None,
                   parent_spatial: bool, dissolve_property: str | None) -> None:
    if level not in ("district", "street"):
        raise ImportFailure(f"import-areas: --level {level!r}: expected district or street")
    if not code_property and not code_from_name:
        raise ImportFailure("import-areas: name the code with --code-property P, or use --code-from-name")
    if level == "district" and (parent_property or parent_spatial or dissolve_property):
        raise ImportFailure("import-areas: districts hang under the city: --parent-*/--dissolve-* are for streets")
    if level == "street" and sum(bool(x) for x in (parent_property, parent_spatial, dissolve_property)) != 1:
        raise ImportFailure("import-areas: streets need exactly one of --parent-property P, --parent-spatial"
                            " or --dissolve-property P")


def _layer_rows(features: list[Feature], *, path: Path, name_property: str, code_property: str | None,
                code_from_name: bool, parent_property: str | None, name_en_property: str | None) -> list[_Row]:
    rows: list[_Row] = []
    for f in features:
        place = f"{path}: feature {f.number}"
        name = _prop(f, name_property, path=path, required=True)
        code_raw = _prop(f, code_property or name_property, path=path, required=True)
        code = _code(code_raw, from_name=code_from_name or not code_property, place=place)
        parent = _prop(f, parent_property, path=path, required=True) if parent_property else None
        name_en = _prop(f, name_en_property, path=path, required=False) if name_en_property else None
        rows.append(_Row(code, name, name_en, parent, f.geometry, f.number))
    return rows


def _city_for(engine: Engine, *, path: Path, city_name: str | None) -> tuple[str, str]:
    """(code, name) of the database's city, or of the one --city-name creates."""
    with engine.connect() as conn:
        city = the_city(conn)
    if city is None and city_name:
        city = (slug(city_name) or "city", city_name)
    if city is None:
        raise ImportFailure(f"{path}: the database has no city yet: run citywall new-city --code C --name N"
                            " --timezone TZ first (or pass --city-name)")
    return city


def _dissolved(features: list[Feature], rows: list[_Row], *, path: Path, city_code: str, dissolve_property: str,
               dissolve_code_property: str | None) -> tuple[list[_Row], list[_Row]]:
    """(districts dissolved from the streets on ``dissolve_property``, the streets under them)."""
    parents: list[_Row] = []
    groups: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(features):
        groups[_prop(f, dissolve_property, path=path, required=True)].append(i)
    for value, members in sorted(groups.items()):
        first = features[members[0]]
        raw_code = _prop(first, dissolve_code_property, path=path, required=True) if dissolve_code_property \
            else value
        code = _code(raw_code, from_name=not dissolve_code_property, place=f"{path}: {dissolve_property}={value!r}")
        geom = polygonal(shapely.union_all([rows[i].geom for i in members]))
        parents.append(_Row(code, value, None, city_code, geom, None))
        rows = [r if i not in members else _Row(r.code, r.name, r.name_en, code, r.geom, r.number)
                for i, r in enumerate(rows)]
    _unique(parents, path=path, what="district")
    return parents, rows


def _placed_in_districts(rows: list[_Row], existing: dict[str, StoredArea], *, path: Path) -> list[_Row]:
    """The streets under the stored district that contains each one."""
    districts = [a for a in existing.values() if a.level == "district" and a.geometry is not None]
    owner = _containing([r.geom for r in rows], [d.geometry for d in districts])
    for r, o in zip(rows, owner, strict=True):
        if o == -1:
            raise ImportFailure(f"{path}: feature {r.number}: {r.name!r} lies in no district"
                                " (import the districts first, or use --parent-property)")
    return [_Row(r.code, r.name, r.name_en, districts[o].area_code, r.geom, r.number)
            for r, o in zip(rows, owner, strict=True)]


def _check_parents(rows: list[_Row], existing: dict[str, StoredArea], *, path: Path,
                   parent_property: str | None) -> None:
    for r in rows:
        district = existing.get(r.parent)
        if district is None or district.level != "district":
            raise ImportFailure(f"{path}: feature {r.number}: {parent_property}={r.parent!r} is not a district"
                                " code in the database (import the districts first)")


def _check_levels(parents: list[_Row], rows: list[_Row], existing: dict[str, StoredArea], *, path: Path,
                  level: str, dissolve_property: str | None) -> list[str]:
    """Refuse a code the database holds at another level; warnings for codes /wall/<code> refuses."""
    warnings = []
    for want, r in [*(("district", p) for p in parents), *((level, r) for r in rows)]:
        other = existing.get(r.code)
        if other is not None and other.level != want:
            where = f"feature {r.number}" if r.number else f"{dissolve_property}={r.name!r}"
            raise ImportFailure(f"{path}: {where}: code {r.code!r} is already a {other.level} ({other.name})")
        if not WALL_CODE_PATTERN.match(r.code):
            warnings.append(f"note: code {r.code!r} is not letters and digits only; its map pages work,"
                            " but /wall/<code> does not accept it")
    return warnings


def _area_rows(rows: list[_Row], shapes: list[Geom], level: str, *, approximate: bool) -> list[dict[str, Any]]:
    out = []
    for order, (r, geom) in enumerate(zip(rows, shapes, strict=True)):
        geom = snapped(geom)
        lat, lon = inner_point(geom)
        out.append({"area_code": r.code, "level": level, "parent_code": r.parent, "name": r.name,
                    "name_en": r.name_en, "geojson": geometry_text(geom), "center_lat": lat, "center_lon": lon,
                    "sort_order": order, "approximate": approximate})
    return out


def _place_city(conn: sa.Connection, city_code: str) -> None:
    """The city's anchor point: inside the union of its districts (the map fits to the districts)."""
    rows = conn.execute(sa.select(schema.areas.c.geojson).where(schema.areas.c.level == "district",
                                                                schema.areas.c.geojson.is_not(None))).all()
    if not rows:
        return
    hull = shapely.union_all([shapely.envelope(shapely.from_geojson(r.geojson)) for r in rows])
    lat, lon = inner_point(hull)
    conn.execute(schema.areas.update().where(schema.areas.c.area_code == city_code)
                 .values(center_lat=lat, center_lon=lon))
