"""Boundary files of any city (issue 14, items 2, 3 and 6), on SQLite and PostgreSQL:

- tiny fragments far away (tests/data/fragments.geojson: two 0.3 m slivers ~100 km out) are reported
  by feature and dropped on request, and every area (the city too) gets the box of its bulk to fit to;
- an import records where each boundary comes from: only what CityWall generated is approximate;
- coordinates outside [-180, 180] x [-90, 90] (tests/data/swapped.geojson) and a street far outside its
  district (tests/data/streets_far_outside.geojson) are refused, naming the feature, writing nothing.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from importers.areas import import_areas
from importers.common import ImportFailure
from importers.geometry import bulk_bounds, fragments
from importers.grid import import_grid, make_grid
from tests.conftest import BACKENDS
from tests.town import CODE, HOOD_OPTIONS, HOODS, town
from tests.town import stored_areas as _areas

DATA = Path(__file__).resolve().parent / "data"
FRAGMENTS = DATA / "fragments.geojson"


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with town(request.param, tmp_path, hoods=False) as eng:
        yield eng


def _box(row: sa.Row) -> tuple[float, float, float, float]:
    return row.fit_west, row.fit_south, row.fit_east, row.fit_north


def test_bulk_bounds_leave_far_fragments_out() -> None:
    hilltop = shapely.geometry.shape(json.loads(FRAGMENTS.read_text())["features"][1]["geometry"])
    assert hilltop.bounds[0] < -74.9 and hilltop.bounds[2] > -72.9  # the fragments stretch the plain bounds
    assert bulk_bounds(hilltop) == pytest.approx((-73.96, 40.70, -73.93, 40.72))
    found = fragments(hilltop)
    assert len(found) == 2 and all(f.distance_m > 80_000 for f in found) and sum(f.share for f in found) < 1e-6


def test_fragments_are_reported_and_maps_fit_to_the_bulk(engine: Engine) -> None:
    summary = import_areas(engine, path=FRAGMENTS, level="district", code_from_name=True, name_property="name")
    text = str(summary)
    assert "feature 2 (Hilltop): 2 part(s)" in text and "km from the rest" in text and "--drop-fragments" in text
    assert "feature 1" not in text
    areas = _areas(engine)
    assert _box(areas["hilltop"]) == pytest.approx((-73.96, 40.70, -73.93, 40.72), abs=1e-6)
    assert len(shapely.get_parts(shapely.from_geojson(areas["hilltop"].geojson))) == 3  # kept, not fitted to
    assert _box(areas[CODE]) == pytest.approx((-73.99, 40.70, -73.93, 40.72), abs=1e-6)  # the city's box too
    assert -73.99 < areas[CODE].center_lon < -73.93


def test_drop_fragments_removes_them(engine: Engine) -> None:
    summary = import_areas(engine, path=FRAGMENTS, level="district", code_from_name=True, name_property="name",
                           drop_fragments=True)
    assert "fragments dropped" in str(summary) and "feature 2 (Hilltop)" in str(summary)
    hilltop = shapely.from_geojson(_areas(engine)["hilltop"].geojson)
    assert hilltop.geom_type == "Polygon" and hilltop.bounds == pytest.approx((-73.96, 40.70, -73.93, 40.72))


def test_only_generated_boundaries_are_approximate(engine: Engine) -> None:
    import_areas(engine, path=HOODS, **HOOD_OPTIONS)
    import_areas(engine, path=FRAGMENTS, level="district", code_from_name=True, name_property="name")
    make_grid(engine, resolution=9)  # riverside and hilltop have no streets: one whole-district street each
    areas = _areas(engine)
    sources = {code: (a.boundary_source, bool(a.approximate)) for code, a in areas.items() if a.level != "city"}
    assert sources["n1"] == ("file", False) and sources["north"] == ("dissolved", False)
    assert sources["riverside"] == ("file", False) and sources["riverside00"] == ("district", False)
    import_areas(engine, path=FRAGMENTS, level="district", code_from_name=True, name_property="name",
                 approximate=True)
    areas = _areas(engine)
    assert (areas["hilltop"].boundary_source, bool(areas["hilltop"].approximate)) == ("generated", True)


def test_swapped_coordinates_are_refused_naming_the_feature(engine: Engine) -> None:
    before = _areas(engine)
    with pytest.raises(ImportFailure) as failure:
        import_areas(engine, path=DATA / "swapped.geojson", level="district", code_from_name=True,
                     name_property="name")
    text = str(failure.value)
    assert text.startswith(f"{DATA / 'swapped.geojson'}: feature 2: coordinates outside [-180, 180] x [-90, 90]")
    assert "lat -118.3" in text and "swapped" in text
    assert _areas(engine).keys() == before.keys()


def test_a_street_far_outside_its_district_is_refused(engine: Engine) -> None:
    import_areas(engine, path=HOODS, **HOOD_OPTIONS)
    before = _areas(engine)
    with pytest.raises(ImportFailure) as failure:
        import_areas(engine, path=DATA / "streets_far_outside.geojson", level="street", code_property="code",
                     name_property="name", parent_property="district")
    text = str(failure.value)
    assert text.startswith(f"{DATA / 'streets_far_outside.geojson'}: feature 2: 'W2' lies outside its district"
                           " 'north'")
    assert "km from it" in text and "swapped" in text
    assert _areas(engine).keys() == before.keys()


def test_the_demo_pack_marks_its_generated_streets() -> None:
    from data_access.settings import DEFAULT_PACK
    from feeder.pack import read_areas

    rows = {r["area_code"]: r for r in read_areas(DEFAULT_PACK)}
    levels = {level: [r for r in rows.values() if r["level"] == level] for level in ("city", "district", "street")}
    assert {(r["boundary_source"], r["approximate"]) for r in levels["street"]} == {("generated", True)}
    assert {(r["boundary_source"], r["approximate"]) for r in levels["district"]} == {("file", False)}
    city = levels["city"][0]
    assert city["fit_west"] == min(r["fit_west"] for r in levels["district"])


def test_a_partial_dissolve_is_refused_unless_told_to_replace(engine: Engine) -> None:
    """Item 7: tests/data/neighbourhoods_partial.geojson holds 1 of North's 3 neighbourhoods."""
    hoods = HOOD_OPTIONS
    import_areas(engine, path=HOODS, **hoods)
    before = _areas(engine)
    partial = DATA / "neighbourhoods_partial.geojson"
    with pytest.raises(ImportFailure) as failure:
        import_areas(engine, path=partial, **hoods)
    text = str(failure.value)
    assert text.startswith(f"{partial}: --dissolve-property region: this file would shrink existing districts:")
    assert "'north' (North) from 1 of its 3 streets (n2, n3 not in the file), 33% of its area" in text
    assert "'south'" not in text and "--replace-districts" in text
    assert _areas(engine) == before  # nothing written
    summary = import_areas(engine, path=partial, replace_districts=True, **hoods)
    assert "district redrawn: 'north' (North) from 1 of its 3 streets" in str(summary)
    north = shapely.from_geojson(_areas(engine)["north"].geojson)
    assert north.area == pytest.approx(shapely.from_geojson(before["n1"].geojson).area)
    import_areas(engine, path=HOODS, **hoods)  # the whole layer again: no question


def test_a_cell_far_outside_its_street_is_refused(engine: Engine) -> None:
    import_areas(engine, path=HOODS, **HOOD_OPTIONS)
    cells = DATA / "cells_far_outside.geojson"
    with pytest.raises(ImportFailure) as failure:
        import_grid(engine, path=cells, cell_property="cell", street_property="street")
    assert str(failure.value).startswith(f"{cells}: feature 2: cell 'c2' lies outside its street 'n1'")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM grid_cells")).scalar_one() == 0
