"""Creating the district level by dissolving a layer of neighbourhoods on their region property, on
SQLite and PostgreSQL: the parents exist with exactly their members, their shapes are the union of
their members, the invalid member is repaired and reported by feature number; then a layer placed
by containment and a grid made over the result."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access.db import init_db, make_engine
from importers.areas import import_areas, new_city
from importers.grid import make_grid
from tests.conftest import BACKENDS, create_database

HOODS = Path(__file__).resolve().parent / "data" / "neighbourhoods.geojson"


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url, cleanup = create_database(request.param, tmp_path)
    eng = make_engine(url)
    init_db(eng, timezone="America/New_York")
    yield eng
    eng.dispose()
    cleanup()


def _areas(engine: Engine) -> dict[str, sa.Row]:
    with engine.connect() as conn:
        return {r.area_code: r for r in conn.execute(sa.text("SELECT * FROM v_areas"))}


def test_dissolving_children_creates_their_parents(engine: Engine) -> None:
    new_city(engine, code="TEST", name="Testtown", name_en="Testtown", timezone="America/New_York")
    summary = import_areas(engine, path=HOODS, level="street", code_property="hood_code", name_property="hood",
                           dissolve_property="region")
    assert summary.imported == 6 and summary.created_parents == 2
    assert summary.repaired == [6]  # the bow-tie, named by its feature number
    areas = _areas(engine)
    districts = {c: a for c, a in areas.items() if a.level == "district"}
    assert sorted(districts) == ["north", "south"]
    assert {a.name for a in districts.values()} == {"North", "South"}
    assert all(a.parent_code == "TEST" for a in districts.values())
    members = {c: sorted(s for s, a in areas.items() if a.parent_code == c) for c in districts}
    assert members == {"north": ["n1", "n2", "n3"], "south": ["s1", "s2", "s3"]}
    for code, children in members.items():
        parent = shapely.from_geojson(districts[code].geojson)
        union = shapely.union_all([shapely.from_geojson(areas[c].geojson) for c in children])
        assert parent.is_valid and parent.symmetric_difference(union).area < 1e-10
        for child in children:  # every member lies in its parent, and in no other
            point = shapely.points(areas[child].center_lon, areas[child].center_lat)
            assert parent.contains(point)
            other = next(c for c in districts if c != code)
            assert not shapely.from_geojson(districts[other].geojson).contains(point)
    assert shapely.from_geojson(areas["s3"].geojson).is_valid


def test_containment_parents_and_a_grid_over_them(engine: Engine, tmp_path: Path) -> None:
    new_city(engine, code="TEST", name="Testtown", name_en="Testtown", timezone="America/New_York")
    import_areas(engine, path=HOODS, level="street", code_property="hood_code", name_property="hood",
                 dissolve_property="region")
    inner = tmp_path / "blocks.geojson"
    inner.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"b1","n":"B1"},'
                     '"geometry":{"type":"Polygon","coordinates":[[[-73.985,40.705],[-73.982,40.705],[-73.982,40.708],'
                     '[-73.985,40.708],[-73.985,40.705]]]}}]}')
    import_areas(engine, path=inner, level="street", code_property="id", name_property="n", parent_spatial=True)
    assert _areas(engine)["b1"].parent_code == "south"
    summary = make_grid(engine, resolution=9)
    assert summary.cells > 0 and summary.created_streets == []
    with engine.connect() as conn:
        orphans = conn.execute(sa.text(
            "SELECT COUNT(*) FROM v_grid_cells g LEFT JOIN v_areas s ON s.area_code = g.street_code"
            " WHERE s.level IS NULL OR s.level <> 'street' OR g.district_code IS NULL")).scalar_one()
    assert orphans == 0
