"""Invariants of the committed Shanghai demo-city pack (feeder/packs/shanghai), built by feeder.build_pack.

Reads only the pack files: no database, no builder run.
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

PACK = Path(__file__).parent.parent / "feeder" / "packs" / "shanghai"
DISTRICT_CODES = {
    "310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112",
    "310113", "310114", "310115", "310116", "310117", "310118", "310120", "310151",
}


@cache
def features(name: str) -> list[dict[str, Any]]:
    data = json.loads((PACK / name).read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection"
    return data["features"]


@cache
def areas() -> dict[str, tuple[dict[str, Any], Any]]:
    """area_code -> (properties, shapely geometry)."""
    return {f["properties"]["area_code"]: (f["properties"], shape(f["geometry"]))
            for f in features("areas.geojson")}


def by_level(level: str) -> dict[str, tuple[dict[str, Any], Any]]:
    return {code: pg for code, pg in areas().items() if pg[0]["level"] == level}


@cache
def streets_of(district: str) -> tuple[list[str], np.ndarray]:
    codes = sorted(c for c, (p, _) in by_level("street").items() if p["parent_code"] == district)
    return codes, np.array([areas()[c][1] for c in codes], dtype=object)


def center(props: dict[str, Any]) -> shapely.Point:
    return shapely.Point(props["center_lon"], props["center_lat"])


def test_one_feature_per_area_with_exact_properties() -> None:
    assert len(areas()) == len(features("areas.geojson"))
    keys = {"area_code", "level", "parent_code", "name", "name_en", "sort_order", "approximate",
            "center_lat", "center_lon"}
    for props, _ in areas().values():
        assert set(props) == keys
        assert isinstance(props["area_code"], str) and isinstance(props["sort_order"], int)
        assert props["approximate"] is (props["level"] == "street")


def test_city_and_districts() -> None:
    city = by_level("city")
    assert list(city) == ["310000"]
    props, _ = city["310000"]
    assert (props["name"], props["name_en"], props["parent_code"]) == ("上海市", "Shanghai", None)
    districts = by_level("district")
    assert set(districts) == DISTRICT_CODES
    assert all(p["parent_code"] == "310000" for p, _ in districts.values())
    orders = [districts[c][0]["sort_order"] for c in sorted(districts)]
    assert orders == list(range(1, 17))


def test_streets_belong_to_districts() -> None:
    streets = by_level("street")
    assert len(streets) == 234
    for code, (props, _) in streets.items():
        assert re.fullmatch(r"\d{9}", code)
        assert props["parent_code"] in DISTRICT_CODES
        assert code.startswith(props["parent_code"])
    for district in DISTRICT_CODES:
        codes, _ = streets_of(district)
        assert codes, district
        assert [streets[c][0]["sort_order"] for c in codes] == list(range(1, len(codes) + 1))


def test_names_in_both_languages() -> None:
    for props, _ in areas().values():
        assert props["name"].strip() and props["name_en"].strip(), props["area_code"]
    assert areas()["310101002"][0]["name_en"] == "Nanjing Donglu Subdistrict"
    assert areas()["310118102"][0]["name_en"] == "Zhujiajiao Town"


def test_geometries_valid_and_centers_inside() -> None:
    for code, (props, geom) in areas().items():
        assert geom.geom_type in ("Polygon", "MultiPolygon") and geom.is_valid and not geom.is_empty, code
        assert geom.contains(center(props)), code


def test_city_is_union_of_districts() -> None:
    city = areas()["310000"][1]
    union = shapely.union_all([g for _, g in by_level("district").values()])
    assert city.symmetric_difference(union).area < 1e-4 * city.area


@pytest.mark.parametrize("district", sorted(DISTRICT_CODES))
def test_streets_tile_their_district(district: str) -> None:
    dist = areas()[district][1]
    codes, polys = streets_of(district)
    outside = shapely.area(shapely.difference(polys, dist))
    assert (outside < 0.005 * shapely.area(polys)).all(), district
    assert dist.symmetric_difference(shapely.union_all(polys)).area < 0.001 * dist.area
    left, right = shapely.STRtree(polys).query(polys, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(polys[left[pairs]], polys[right[pairs]]))
    assert overlap.sum() < 1e-6 * dist.area, district


def test_cells_are_unique_and_every_street_has_one() -> None:
    cells = [f["properties"] for f in features("cells.geojson")]
    assert 1000 <= len(cells) <= 10000
    ids = Counter(c["cell_id"] for c in cells)
    assert max(ids.values()) == 1
    streets = by_level("street")
    for c in cells:
        assert re.fullmatch(re.escape(c["street_code"]) + r"\d{3}", c["cell_id"])
        assert streets[c["street_code"]][0]["parent_code"] == c["district_code"]
        assert isinstance(c["h3"], str) and c["h3"]
    assert {c["street_code"] for c in cells} == set(streets)


def test_each_cell_lies_in_exactly_one_street() -> None:
    by_district: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in features("cells.geojson"):
        by_district[f["properties"]["district_code"]].append(f)
    for district, feats in by_district.items():
        codes, polys = streets_of(district)
        points = np.array([center(f["properties"]) for f in feats], dtype=object)
        point_idx, street_idx = shapely.STRtree(polys).query(points, predicate="within")
        hits: dict[int, set[str]] = defaultdict(set)
        for p, s in zip(point_idx, street_idx, strict=True):
            hits[int(p)].add(codes[s])
        for i, f in enumerate(feats):
            assert hits[i] == {f["properties"]["street_code"]}, f["properties"]["cell_id"]


def test_cells_tile_their_street() -> None:
    feats = features("cells.geojson")
    cells = np.array([shape(f["geometry"]) for f in feats], dtype=object)
    assert shapely.is_valid(cells).all()
    owners = np.array([areas()[f["properties"]["street_code"]][1] for f in feats], dtype=object)
    assert (shapely.area(shapely.difference(cells, owners)) < 0.01 * shapely.area(cells) + 1e-9).all()
    covered: Counter[str] = Counter()
    for f, cell in zip(feats, cells, strict=True):
        covered[f["properties"]["street_code"]] += cell.area
    for code, (_, geom) in by_level("street").items():
        assert covered[code] == pytest.approx(geom.area, rel=1e-3), code


def test_pack_is_compact() -> None:
    assert (PACK / "areas.geojson").stat().st_size < 1_500_000
    assert (PACK / "cells.geojson").stat().st_size < 3_000_000
    assert "APPROXIMATE" in (PACK / "ATTRIBUTION.md").read_text(encoding="utf-8")
