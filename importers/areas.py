"""Start a city and import its boundaries: ``citywall new-city`` and ``citywall import-areas``.

One database (or PostgreSQL schema) holds one city. Districts hang under the city, streets under
districts; a street's district comes from a property, from containment, or from dissolving the
street layer on a region property (which creates the districts).
"""
from __future__ import annotations

import dataclasses
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
from data_access.db import CITY_TIMEZONE_KEY, init_db
from data_access.upsert import upsert
from importers.common import (
    CODE_PATTERN,
    WALL_CODE_PATTERN,
    Feature,
    ImportFailure,
    StoredArea,
    read_polygons,
    shape_columns,
    slug,
    stored_areas,
    text_value,
    the_city,
)
from importers.geometry import (
    FAR_OUTSIDE_MARGIN_M,
    FAR_OUTSIDE_SHARE,
    Geom,
    coverage_simplified,
    distance_m,
    fragments,
    inner_point,
    polygonal,
    share_inside,
    snapped,
    without,
)


@dataclass(frozen=True)
class CitySummary:
    code: str
    name: str
    timezone: str
    created: bool

    def __str__(self) -> str:
        verb = "created" if self.created else "updated"
        return (f"city {self.code} ({self.name}) {verb}, time zone {self.timezone} (recorded: every command and"
                f" the app use it); serve it with CITYWALL_FEEDER=0")


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


def english_plural(word: str) -> str:
    """"service region" -> "service regions", "borough" -> "boroughs", "community" -> "communities"."""
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def parse_level_name(text: str, *, lang: str, option: str) -> tuple[str, str]:
    """(singular, plural) from "singular" or "singular/plural"; a Chinese plural is the singular, an
    English one the singular + s (es, ies) unless given."""
    parts = [p.strip() for p in text.split("/")]
    if not 1 <= len(parts) <= 2 or not all(parts) or any(len(p) > 64 for p in parts):
        raise ImportFailure(f"{option} {text!r}: expected \"singular\" or \"singular/plural\" (1-64 characters each)")
    if len(parts) == 2:
        return parts[0], parts[1]
    return parts[0], english_plural(parts[0]) if lang == "en" else parts[0]


@dataclass(frozen=True)
class LevelNamesSummary:
    names: dict[str, tuple[str, str, str, str]]  # level -> name, plural, name_en, plural_en (after the change)

    def __str__(self) -> str:
        return "levels: " + "; ".join(f"{level} = {n[0]}/{n[1]}, {n[2]}/{n[3]}" for level, n in self.names.items())


def set_level_names(engine: Engine, given: dict[str, dict[str, tuple[str, str]]]) -> LevelNamesSummary:
    """Record what the city calls its levels: ``given`` = level -> {"zh"|"en": (singular, plural)}; a
    language not given keeps its recorded (or default) words. Pages read them from v_level_names."""
    from data_access.levels import level_names

    for level in given:
        if level not in schema.LEVELS:
            raise ImportFailure(f"level names: unknown level {level!r} (expected {', '.join(schema.LEVELS)})")
    current = level_names(engine=engine)
    rows = []
    for level, words in given.items():
        now = current[level]
        zh = words.get("zh", (now.name, now.name_plural))
        en = words.get("en", (now.name_en, now.name_en_plural))
        rows.append({"level": level, "name": zh[0], "name_plural": zh[1], "name_en": en[0], "name_en_plural": en[1]})
    with engine.begin() as conn:
        upsert(conn, schema.level_names, rows)
    after = level_names(engine=engine)
    return LevelNamesSummary({lv: (n.name, n.name_plural, n.name_en, n.name_en_plural) for lv, n in after.items()})


@dataclass
class AreaSummary:
    level: str
    imported: int
    created_parents: int = 0
    repaired: list[int] = field(default_factory=list)
    fragments: list[str] = field(default_factory=list)  # one line per feature with far-away fragments
    fragments_dropped: bool = False
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.imported} {self.level}s imported"
        if self.created_parents:
            text += f", {self.created_parents} districts created by dissolving"
        if self.repaired:
            shown = ", ".join(str(n) for n in self.repaired[:10]) + (" …" if len(self.repaired) > 10 else "")
            text += f"; invalid geometry repaired in feature(s) {shown}"
        lines = [text]
        if self.fragments:
            verb = "dropped" if self.fragments_dropped else "kept (maps fit to the bulk; --drop-fragments removes them)"
            lines.append(f"far-away fragments {verb}:")
            lines += [f"  {line}" for line in self.fragments]
        return "\n".join([*lines, *self.warnings])


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
    simplify_m: float = 0.0, approximate: bool = False, city_name: str | None = None, drop_fragments: bool = False,
    replace_districts: bool = False,
) -> AreaSummary:
    """Read, check and upsert one layer of districts or streets (and the districts dissolved from
    it) in one transaction; nothing is written when any feature is unusable."""
    path = Path(path)
    _check_options(level, code_property=code_property, code_from_name=code_from_name,
                   parent_property=parent_property, parent_spatial=parent_spatial, dissolve_property=dissolve_property)
    features = read_polygons(path)
    fragment_lines, features = _fragments(features, name_property=name_property, drop=drop_fragments)
    rows = _layer_rows(features, path=path, name_property=name_property, code_property=code_property,
                       code_from_name=code_from_name, parent_property=parent_property,
                       name_en_property=name_en_property)
    _unique(rows, path=path, what=level)
    summary = AreaSummary(level=level, imported=len(rows), repaired=[f.number for f in features if f.repaired],
                          fragments=fragment_lines, fragments_dropped=drop_fragments)
    existing = {a.area_code: a for a in stored_areas(engine)}
    city = _city_for(engine, path=path, city_name=city_name)
    parents: list[_Row] = []
    if dissolve_property:
        parents, rows = _dissolved(features, rows, path=path, city_code=city[0], dissolve_property=dissolve_property,
                                   dissolve_code_property=dissolve_code_property)
        summary.created_parents = len(parents)
        changes = _dissolve_changes(parents, rows, existing)
        if changes and not replace_districts:
            shown = "; ".join(changes[:5]) + (f"; … ({len(changes)} districts)" if len(changes) > 5 else "")
            raise ImportFailure(f"{path}: --dissolve-property {dissolve_property}: this file would shrink existing"
                                f" districts: {shown}. Nothing written; import the whole layer, or pass"
                                " --replace-districts to redraw them from this file")
        summary.warnings += [f"district redrawn: {c}" for c in changes]
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
        upsert(conn, schema.areas, _area_rows(parents, shapes_parents, "district", source="dissolved"))
        upsert(conn, schema.areas, _area_rows(rows, shapes_rows, level, source="generated" if approximate else "file"))
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


def _dissolve_changes(parents: list[_Row], rows: list[_Row], existing: dict[str, StoredArea]) -> list[str]:
    """What dissolving would take from districts the database already has: one line per district
    that would lose streets (missing from the file, or moved to another district)."""
    new_parent = {r.code: r.parent for r in rows}
    new_geom = {p.code: p.geom for p in parents}
    members: dict[str, list[str]] = defaultdict(list)
    for a in existing.values():
        if a.level == "street" and a.parent_code:
            members[a.parent_code].append(a.area_code)
    out = []
    for code, streets in sorted(members.items()):
        district = existing.get(code)
        if district is None or district.level != "district":
            continue
        missing = sorted(s for s in streets if s not in new_parent)
        moved = sorted(s for s in streets if s in new_parent and new_parent[s] != code)
        if not missing and not moved:
            continue
        kept = len(streets) - len(missing) - len(moved)
        what = [f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''} not in the file"] if missing else []
        what += [f"{', '.join(moved[:5])}{' …' if len(moved) > 5 else ''} moved to another district"] if moved else []
        line = f"{code!r} ({district.name}) from {kept} of its {len(streets)} streets ({'; '.join(what)})"
        if code in new_geom and district.geometry is not None and district.geometry.area > 0:
            line += f", {new_geom[code].area / district.geometry.area:.0%} of its area"
        elif code not in new_geom:
            line += ", its boundary unchanged"
        out.append(line)
    return out


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
        if district.geometry is not None and share_inside(r.geom, district.geometry,
                                                          margin_m=FAR_OUTSIDE_MARGIN_M) < FAR_OUTSIDE_SHARE:
            raise ImportFailure(f"{path}: feature {r.number}: {r.name!r} lies outside its district {r.parent!r}"
                                f" ({district.name}), {distance_m(r.geom, district.geometry) / 1000:,.1f} km from it:"
                                " are longitude and latitude swapped, or is it the wrong district?")


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


def _area_rows(rows: list[_Row], shapes: list[Geom], level: str, *, source: str) -> list[dict[str, Any]]:
    out = []
    for order, (r, geom) in enumerate(zip(rows, shapes, strict=True)):
        out.append({"area_code": r.code, "level": level, "parent_code": r.parent, "name": r.name,
                    "name_en": r.name_en, "sort_order": order, **shape_columns(snapped(geom), source=source)})
    return out


def _fragments(features: list[Feature], *, name_property: str, drop: bool) -> tuple[list[str], list[Feature]]:
    """(one line per feature with far-away fragments, the features, without them when ``drop``)."""
    lines, out = [], []
    for f in features:
        found = fragments(f.geometry)
        if found:
            name = text_value(f.properties.get(name_property)) or "?"
            share = sum(x.share for x in found)
            farthest = max(x.distance_m for x in found) / 1000
            lines.append(f"feature {f.number} ({name}): {len(found)} part(s), {share:.4%} of its area, up to"
                         f" {farthest:,.1f} km from the rest")
            if drop:
                f = dataclasses.replace(f, geometry=without(f.geometry, [x.part for x in found]))
        out.append(f)
    return lines, out


def _place_city(conn: sa.Connection, city_code: str) -> None:
    """The city's anchor point: inside the union of its districts (the map fits to the districts)."""
    a = schema.areas.c
    rows = conn.execute(sa.select(a.geojson, a.fit_west, a.fit_south, a.fit_east, a.fit_north)
                        .where(a.level == "district", a.geojson.is_not(None))).all()
    if not rows:
        return
    boxes = [shapely.box(r.fit_west, r.fit_south, r.fit_east, r.fit_north) if r.fit_west is not None
             else shapely.envelope(shapely.from_geojson(r.geojson)) for r in rows]
    hull = shapely.union_all(boxes)
    lat, lon = inner_point(hull)
    west, south, east, north = hull.bounds
    conn.execute(schema.areas.update().where(a.area_code == city_code)
                 .values(center_lat=lat, center_lon=lon, fit_west=west, fit_south=south, fit_east=east,
                         fit_north=north))
