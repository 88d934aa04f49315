"""The map's builders without a browser: what goes over the wire once, what goes every tick."""
from __future__ import annotations

import json
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import dash_leaflet as dl
import pytest
from sqlalchemy.engine import Engine

from components.incident_map import _geometry, area_breaks, bounds_of, create_incident_map
from components.links import area_href
from data_access.areas import area_by_code
from data_access.db import init_db, make_engine
from data_access.models import Area
from pages._map import load_geometry, load_update
from tests.test_incident_queries import C_NJ1, C_NJ2, C_TP1, C_WT1, CITY, HUANGPU, NANJING, seed_map_city

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('payload') / 'p.db'}")
    init_db(eng)
    seed_map_city(eng)
    yield eng
    eng.dispose()


def _area(engine: Engine, code: str) -> Area:
    area = area_by_code(engine=engine, area_code=code)
    assert area is not None
    return area


def test_pure_helpers() -> None:
    line = '{"type": "LineString", "coordinates": [[121.123456, 31.987654], [1, 2.00004]]}'
    assert _geometry(line) == {"type": "LineString", "coordinates": [[121.1235, 31.9877], [1, 2.0]]}
    assert _geometry("not json") is None and _geometry('{"type": "Point"}') is None and _geometry(None) is None
    fc = {"features": [{"geometry": {"coordinates": [[[121.0, 31.0], [122.0, 31.5], [121.5, 30.5]]]}}]}
    assert bounds_of(fc) == [[30.5, 121.0], [31.5, 122.0]]
    assert bounds_of({"features": []}) is None
    assert area_breaks([]) == [] and area_breaks([0, 0]) == []
    assert area_breaks([5]) == []  # a single value: one class, the top one
    assert area_breaks([1, 2, 3, 4, 5, 6, 7, 8]) == [2, 4, 6]
    assert area_href("district", "310101", None) == "/district/310101"
    assert area_href("street", "310101002", "en") == "/street/310101002?lang=en"


def test_city_geometry_is_sent_once_and_small(engine: Engine) -> None:
    city = _area(engine, CITY)
    geometry = load_geometry(engine=engine, area=city, lang="en", lang_param=None)
    assert len(geometry.areas["features"]) == 16
    assert {f["properties"]["href"] for f in geometry.areas["features"]} >= {f"/district/{HUANGPU}"}
    # only the cells with open incidents, each linking to its district
    assert sorted(f["properties"]["code"] for f in geometry.cells["features"]) == sorted([C_NJ1, C_NJ2, C_WT1, C_TP1])
    assert {f["properties"]["href"] for f in geometry.cells["features"]} == {"/district/310101", "/district/310104"}
    text = json.dumps(geometry.areas["features"][0]["geometry"])
    assert all(len(part.split(".")[-1].rstrip("]} ,")) <= 4 for part in text.split(",") if "." in part)
    south, west = geometry.bounds[0]
    assert 30 < south < 32 and 120 < west < 123


def test_tick_update_holds_counts_not_shapes(engine: Engine) -> None:
    update = load_update(engine=engine, area=_area(engine, HUANGPU), lang="zh", tz=TZ)
    payload = json.dumps([update.areas_hideout, update.cells_hideout])
    assert "coordinates" not in payload
    assert update.areas_hideout["counts"][NANJING] == [4, 3]
    assert update.cells_hideout["counts"] == {C_NJ1: [2, 1, 3], C_NJ2: [2, 2, 2], C_WT1: [1, 1, 1]}
    again = load_update(engine=engine, area=_area(engine, HUANGPU), lang="zh", tz=TZ)
    assert again.signature == update.signature  # nothing changed: the tick sends nothing


def test_street_points_have_their_popup_fields(engine: Engine) -> None:
    update = load_update(engine=engine, area=_area(engine, NANJING), lang="en", tz=TZ)
    first = update.points["features"][0]["properties"]
    assert first["iid"] == "m01" and first["p"] == 3 and first["od"] == 1
    assert first["cat"] == "Public facilities" and first["st"] == "Dispatched" and first["due"]
    assert isinstance(first["rep"], int)


def test_map_component_without_and_with_tiles(engine: Engine) -> None:
    city = _area(engine, CITY)
    geometry = load_geometry(engine=engine, area=city, lang="zh", lang_param=None)
    update = load_update(engine=engine, area=city, lang="zh", tz=TZ)

    def tile_layers(component: object) -> int:
        found = 0
        stack = [component]
        while stack:
            node = stack.pop()
            found += isinstance(node, dl.TileLayer)
            children = getattr(node, "children", None)
            stack.extend(children if isinstance(children, list) else [children] if children is not None else [])
        return found

    offline = create_incident_map(key="t", area=city, geometry=geometry, update=update, lang="zh",
                                     lang_param=None, refresh_s=5)
    assert tile_layers(offline) == 0
    online = create_incident_map(key="t", area=city, geometry=geometry, update=update, lang="zh", lang_param=None,
                                    refresh_s=5, tile_url="http://tiles.example/{z}/{x}/{y}.png")
    assert tile_layers(online) == 1


def test_geometry_payload_scales_with_open_cells_only(engine: Engine) -> None:
    city = _area(engine, CITY)
    geometry = load_geometry(engine=engine, area=city, lang="zh", lang_param=None)
    cells_bytes = len(json.dumps(geometry.cells, separators=(",", ":")))
    assert cells_bytes < 4 * 400  # four open cells, not the pack's 3,559
