"""The map's and the list's reads (data_access/incident_queries.py, v_incident_funnel) on SQLite and
PostgreSQL, against the Shanghai pack plus nine hand-made incidents whose answers are written out.

``seed_map_city`` is shared with the map and list browser tests.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.areas import area_by_code, area_chain, valid_code
from data_access.db import init_db, make_engine, utc_now
from data_access.incident_list import count_incidents, iter_incidents, list_incidents
from data_access.incident_map import cell_shapes_by_id, load_map_counts, open_cell_shapes, open_incident_points
from data_access.incidents import child_areas_ranked, incident_funnel, open_counts, open_incidents_by_cell
from data_access.models import OPEN_STATUSES, Area, IncidentFilter, MapCounts
from data_access.settings import DEFAULT_PACK
from feeder.pack import load_city_pack
from pages._map import load_update
from tests.conftest import BACKENDS, create_database

T = utc_now()
H = timedelta(hours=1)
CITY, HUANGPU, XUHUI = "310000", "310101", "310104"
NANJING, WAITAN, TIANPING = "310101002", "310101013", "310104003"
C_NJ1, C_NJ2, C_WT1, C_TP1 = "310101002001", "310101002002", "310101013001", "310104003001"
CENTERS = {C_NJ1: (31.23262, 121.46526), C_NJ2: (31.23203, 121.47234), C_WT1: (31.2441, 121.48323),
           C_TP1: (31.21966, 121.45118)}


def _incident(iid: str, category: str, sub: str, priority: int, status: str, cell: str | None, street: str,
              district: str, reported_h: float, due_h: float | None, title: str, closed_h: float | None = None) -> dict:
    lat, lon = CENTERS.get(cell, (None, None)) if cell else (None, None)
    return {"incident_id": iid, "category": category, "subcategory": sub, "source": "patrol", "priority": priority,
            "status": status, "title": title, "address": f"{street} 1号", "lat": lat, "lon": lon, "cell_id": cell,
            "street_code": street, "district_code": district, "reported_at": T - reported_h * H,
            "due_at": None if due_h is None else T + due_h * H,
            "closed_at": None if closed_h is None else T - closed_h * H, "reopened": 0}


INCIDENTS = [
    _incident("m01", "facilities", "manhole_cover_missing", 3, "dispatched", C_NJ1, NANJING, HUANGPU, 5, -3,
              "井盖缺失"),
    _incident("m02", "city_appearance", "exposed_garbage", 1, "reported", C_NJ1, NANJING, HUANGPU, 1, 23,
              "1000 bags of garbage"),
    _incident("m03", "facilities", "manhole_cover_damaged", 2, "in_progress", C_NJ2, NANJING, HUANGPU, 30, -18,
              "井盖破损"),
    _incident("m04", "city_appearance", "exposed_garbage", 1, "resolved", C_WT1, WAITAN, HUANGPU, 48, -24,
              "100% 垃圾_桶"),
    _incident("m05", "street_order", "fire_lane_parking", 3, "reported", C_TP1, TIANPING, XUHUI, 1 / 3, 5 / 3,
              "占用消防通道"),
    _incident("m06", "facilities", "hydrant_damaged", 2, "closed", C_NJ1, NANJING, HUANGPU, 20, 4, "消火栓", 1),
    _incident("m07", "city_appearance", "exposed_garbage", 1, "reported", None, WAITAN, HUANGPU, 2, None, "无坐标"),
    _incident("m08", "facilities", "street_light_out", 1, "dispatched", C_NJ2, NANJING, HUANGPU, 50, -2,
              "Manhole near Bund"),
    _incident("m09", "facilities", "street_light_out", 1, "reported", C_TP1, TIANPING, XUHUI, 1 / 6, 47, "路灯不亮"),
]
DEFAULT_ORDER = ["m01", "m05", "m03", "m08", "m04", "m07", "m02", "m09"]


def seed_map_city(engine: Engine) -> None:
    """The Shanghai pack and the nine incidents above (eight open)."""
    load_city_pack(engine, pack_dir=DEFAULT_PACK)
    with engine.begin() as conn:
        conn.execute(schema.incidents.insert(), INCIDENTS)


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url, cleanup = create_database(request.param, tmp_path_factory.mktemp("incq"))
    eng = make_engine(url)
    init_db(eng)
    seed_map_city(eng)
    yield eng
    eng.dispose()
    cleanup()


def _area(engine: Engine, code: str) -> Area:
    area = area_by_code(engine=engine, area_code=code)
    assert area is not None
    return area


def test_valid_code_rejects_odd_input() -> None:
    assert valid_code("310101") and valid_code("abc")
    for bad in ("", "x" * 33, "31'01", "a b", "../etc", None, 310101, "%"):
        assert not valid_code(bad), bad


def area_lineage(**kwargs: object) -> list:
    """The lineage city first (the breadcrumb's order): ``area_chain`` reversed."""
    return list(reversed(area_chain(**kwargs)))


def test_area_lineage(engine: Engine) -> None:
    assert [a.area_code for a in area_lineage(engine=engine, area_code=NANJING)] == [CITY, HUANGPU, NANJING]
    assert [a.level for a in area_lineage(engine=engine, area_code=HUANGPU)] == ["city", "district"]
    assert area_lineage(engine=engine, area_code="999999") == []
    assert area_lineage(engine=engine, area_code="a'b") == []


def test_child_areas_ranked_worst_first(engine: Engine) -> None:
    districts = child_areas_ranked(engine=engine, parent_code=CITY)
    assert len(districts) == 16
    top = districts.head(2)
    assert list(zip(top["area_code"], top["open"], top["overdue"], strict=True)) == [(HUANGPU, 6, 4), (XUHUI, 2, 0)]
    assert districts["open"].iloc[2:].sum() == 0
    streets = child_areas_ranked(engine=engine, parent_code=HUANGPU)
    assert list(streets["area_code"].head(2)) == [NANJING, WAITAN]
    assert list(streets["open"].head(2)) == [4, 2]


def test_cells_and_shapes(engine: Engine) -> None:
    got = open_incidents_by_cell(engine=engine, area=None)
    assert [tuple(r) for r in got[["cell_id", "open", "overdue", "max_priority"]].itertuples(index=False)] == [
        (C_NJ1, 2, 1, 3), (C_NJ2, 2, 2, 2), (C_WT1, 1, 1, 1), (C_TP1, 2, 0, 3)]
    huangpu = _area(engine, HUANGPU)
    assert list(open_cell_shapes(engine=engine, area=huangpu)["cell_id"]) == [C_NJ1, C_NJ2, C_WT1]
    assert list(open_cell_shapes(engine=engine, area=_area(engine, TIANPING))["cell_id"]) == [C_TP1]
    shapes = cell_shapes_by_id(engine=engine, cell_ids=[C_TP1, "nope", "x'y", C_WT1])
    assert list(shapes["cell_id"]) == [C_WT1, C_TP1] and shapes["geojson"].str.startswith("{").all()
    assert cell_shapes_by_id(engine=engine, cell_ids=[]).empty


def test_points_of_a_street(engine: Engine) -> None:
    points = open_incident_points(engine=engine, street_code=NANJING)
    assert list(points["incident_id"]) == ["m01", "m03", "m08", "m02"]
    assert points.set_index("incident_id").loc["m01", "category_name_en"] == "Public facilities"
    assert open_incident_points(engine=engine, street_code=WAITAN)["incident_id"].tolist() == ["m04"]  # m07: no lat


def test_funnel_every_level(engine: Engine) -> None:
    city = incident_funnel(engine=engine, area_code=CITY)
    assert list(city["status"]) == list(OPEN_STATUSES)
    assert list(city["open"]) == [4, 2, 1, 1] and list(city["overdue"]) == [0, 2, 1, 1]
    oldest = city.set_index("status")["oldest_reported_at"]
    assert oldest["dispatched"] == pd.Timestamp(T - 50 * H) and oldest["resolved"] == pd.Timestamp(T - 48 * H)
    street = incident_funnel(engine=engine, area_code=NANJING)
    assert list(street["open"]) == [1, 2, 1, 0] and pd.isna(street["oldest_reported_at"].iloc[3])
    assert list(incident_funnel(engine=engine, area_code=XUHUI)["open"]) == [2, 0, 0, 0]
    assert incident_funnel(engine=engine, area_code="999999")["open"].sum() == 0


def _ids(frame: pd.DataFrame) -> list[str]:
    return list(frame["incident_id"])


def test_list_filters_sorting_paging(engine: Engine) -> None:
    every = IncidentFilter()
    assert _ids(list_incidents(engine=engine, filt=every)) == DEFAULT_ORDER
    assert _ids(list_incidents(engine=engine, filt=every, offset=2, limit=3)) == DEFAULT_ORDER[2:5]
    assert count_incidents(engine=engine, filt=every) == 8
    f = IncidentFilter.from_values(categories=["facilities"], overdue="1")
    assert sorted(_ids(list_incidents(engine=engine, filt=f))) == ["m01", "m03", "m08"]
    assert count_incidents(engine=engine, filt=f) == 3
    with engine.connect() as conn:
        view = [r[0] for r in conn.execute(sa.text(
            "SELECT incident_id FROM v_open_incidents WHERE category = 'facilities' AND overdue = 1"))]
    assert sorted(view) == ["m01", "m03", "m08"]
    by_status = IncidentFilter.from_values(statuses=["reported", "bogus"], priorities=["3", "9"])
    assert _ids(list_incidents(engine=engine, filt=by_status)) == ["m05"]
    scoped = IncidentFilter.from_values(area_level="street", area_code=NANJING, overdue="0")
    assert _ids(list_incidents(engine=engine, filt=scoped)) == ["m02"]
    district = IncidentFilter.from_values(area_level="district", area_code=XUHUI)
    assert _ids(list_incidents(engine=engine, filt=district, sort=[("reported_at", "desc")])) == ["m09", "m05"]
    by_due = _ids(list_incidents(engine=engine, filt=every, sort=[("due_at", "asc"), ("bogus; DROP", "asc")]))
    assert by_due[:2] == ["m04", "m03"] and by_due[-1] == "m07"  # no deadline: last, on both dialects


def test_search_escapes_like_wildcards(engine: Engine) -> None:
    def search(text: str) -> list[str]:
        return sorted(_ids(list_incidents(engine=engine, filt=IncidentFilter.from_values(search=text))))

    assert search("100%") == ["m04"]  # unescaped, "100%" would also match "1000 bags"
    assert search("_") == ["m04"]  # unescaped, "_" matches everything
    assert search("MANHOLE") == ["m08"]  # case-insensitive on both dialects
    assert search("m0") == sorted(DEFAULT_ORDER)  # ids match too
    assert search("' OR 1=1 --") == []


def test_export_chunks_hold_the_filtered_rows(engine: Engine) -> None:
    f = IncidentFilter.from_values(categories=["facilities"])
    chunks = list(iter_incidents(engine=engine, filt=f, chunk_rows=2))
    assert [len(c) for c in chunks] == [2, 2]
    assert sorted(pd.concat(chunks)["incident_id"]) == ["m01", "m03", "m08", "m09"]
    assert len(list(iter_incidents(engine=engine, filt=f, max_rows=3))[0]) == 3


def test_map_update_counts_equal_the_views(engine: Engine) -> None:
    with engine.connect() as conn:
        counts = {r.area_code: [r.open, r.overdue] for r in conn.execute(sa.text(
            "SELECT area_code, open, overdue FROM v_incident_counts"))}
        cells = {r.cell_id: [r.open, r.overdue, r.max_priority] for r in conn.execute(sa.text(
            "SELECT cell_id, open, overdue, max_priority FROM v_incident_cells"))}
    city = load_update(engine=engine, area=_area(engine, CITY), lang="en", tz=ZoneInfo("Asia/Shanghai"))
    assert city.areas_hideout["counts"] == {code: counts[code] for code in city.areas_hideout["counts"]}
    assert len(city.areas_hideout["counts"]) == 16 and city.cells_hideout["counts"] == cells
    assert city.points is None
    street = load_update(engine=engine, area=_area(engine, NANJING), lang="en", tz=ZoneInfo("Asia/Shanghai"))
    assert street.areas_hideout["counts"] == {NANJING: counts[NANJING]}
    assert street.cells_hideout["counts"] == {k: v for k, v in cells.items() if k.startswith(NANJING)}
    assert sorted(f["properties"]["iid"] for f in street.points["features"]) == ["m01", "m02", "m03", "m08"]


def test_one_city_wide_read_serves_the_map_of_every_area(engine: Engine) -> None:
    """The maps' counts of one tick are two statements for every area of every level, and each
    map's slice equals the views read for that area alone."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        counts = load_map_counts(engine=engine)
        areas = [area_by_code(engine=engine, area_code=c) for c in (CITY, HUANGPU, XUHUI, NANJING, TIANPING)]
        before = len(statements)
        updates = {a.area_code: load_update(engine=engine, area=a, lang="zh", tz=ZoneInfo("Asia/Shanghai"),
                                               counts=counts) for a in areas if a.level != "street"}
        assert len(statements) == before, "a city or district map read again"
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    with engine.connect() as conn:
        own = {r.area_code: [r.open, r.overdue] for r in conn.execute(sa.text(
            "SELECT area_code, open, overdue FROM v_incident_counts"))}
        cells = list(conn.execute(sa.text(
            "SELECT cell_id, district_code, street_code, open, overdue, max_priority FROM v_incident_cells")))
        children = {p: [r.area_code for r in conn.execute(sa.text(
            "SELECT area_code FROM v_areas WHERE parent_code = :p ORDER BY sort_order, area_code"), {"p": p})]
            for p in (CITY, HUANGPU, XUHUI)}
    for code, update in updates.items():
        assert list(update.areas_hideout["counts"]) == children[code]  # the children, in map order
        assert update.areas_hideout["counts"] == {c: own[c] for c in children[code]}
        assert update.cells_hideout["counts"] == {
            r.cell_id: [r.open, r.overdue, r.max_priority] for r in cells
            if code == CITY or code in (r.district_code, r.street_code)}
    assert list(updates[XUHUI].cells_hideout["counts"]) == [C_TP1]
    assert counts.rows(areas[3]) == ([(NANJING, 4, 3)], [(C_NJ1, 2, 1, 3), (C_NJ2, 2, 2, 2)])
    # A NULL from a view is a zero, never a crash.
    assert MapCounts.of([("1", None, None, None)], [("c", "1", None, None, None, None)]).rows(
        Area("1", "city", None, "x", None, None, None)) == ([], [("c", 0, 0, 0)])


def test_open_counts_agree_with_v_incident_counts(engine: Engine) -> None:
    with engine.connect() as conn:
        full = {r.area_code: (r.open, r.overdue) for r in conn.execute(sa.text(
            "SELECT area_code, open, overdue FROM v_incident_counts"))}
    for parent in (CITY, HUANGPU, XUHUI, NANJING):
        got = open_counts(engine=engine, parent_code=parent)
        assert {r.area_code: (r.open, r.overdue) for r in got.itertuples(index=False)} == {
            code: full[code] for code in got["area_code"]}
    assert open_counts(engine=engine, parent_code=NANJING).empty
    own = open_counts(engine=engine, area_code=CITY)
    assert (own["open"].iloc[0], own["overdue"].iloc[0]) == full[CITY] == (8, 4)
    with pytest.raises(ValueError):
        open_counts(engine=engine)
