"""The wall of any city (issue 14, items 12, 13, 16, 17), on SQLite and PostgreSQL: a city without
vital signs says what its "as of" time is (the newest incident change); a street ranks its cells by
name with zeros; the catalogue's units are in the wall's language; a district or street wall is
titled with its level's name. Real databases, the real importers and the components that build the
screen."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa
from dash import html
from sqlalchemy.engine import Engine

from components.formatting import local_moment
from components.wall import render_wall
from data_access.areas import city_area
from data_access.db import utc_now
from data_access.incidents import newest_incident_change
from data_access.vitals import indicator_catalogue
from data_access.wall import load_wall
from importers.grid import make_grid
from importers.incidents import import_incidents
from tests.conftest import BACKENDS, TEST_DATA
from tests.town import ZONE, town


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with town(request.param, tmp_path) as eng:
        make_grid(eng, resolution=9)
        import_incidents(eng, path=TEST_DATA / "town_requests.csv", mapping_path=TEST_DATA / "town_mapping.toml",
                         rejects_path=tmp_path / "rejects.csv")
        yield eng


def texts(component: object) -> list[str]:
    """Every string in a Dash component tree, in order."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, list | tuple):
        return [s for child in component for s in texts(child)]
    children = getattr(component, "children", None)
    return texts(children) if children is not None else []


def find(component: object, class_name: str) -> list:
    """The components of a tree whose className contains ``class_name``."""
    found = []
    if isinstance(component, list | tuple):
        for child in component:
            found += find(child, class_name)
        return found
    if class_name in (getattr(component, "className", None) or "").split():
        found.append(component)
    children = getattr(component, "children", None)
    return found + (find(children, class_name) if children is not None and not isinstance(children, str) else [])


def wall_page(engine: Engine, *, lang: str, scope: str = "") -> html.Div:
    """The real wall layout (pages/_wall_layout.py) of ``scope`` in ``lang``, built by the app over ``engine``."""
    from app import create_app
    from data_access.settings import Settings
    from pages._runtime import current_runtime
    from pages._wall_layout import wall_layout

    app = create_app(Settings(database_url=engine.url.render_as_string(hide_password=False), feeder=False))
    with app.server.test_request_context("/"):
        app.server.preprocess_request()  # who is asking (the security layer's request hook)
        return wall_layout(current_runtime(), scope=scope, lang=lang, kiosk=None, rotate=None, playlist=None)


# --- item 12: the incident-only wall's "as of" ------------------------------------------------------------

def test_incident_only_wall_is_as_of_the_newest_incident_change(engine: Engine) -> None:
    with engine.connect() as conn:
        newest = conn.execute(sa.text(
            "SELECT MAX(t) FROM (SELECT MAX(reported_at) AS t FROM incidents"
            " UNION ALL SELECT MAX(closed_at) FROM incidents) x")).scalar()
    expected = pd.Timestamp(newest).to_pydatetime().replace(tzinfo=None)
    assert newest_incident_change(engine=engine) == expected
    city = city_area(engine=engine)
    catalogue = indicator_catalogue(engine=engine)
    assert catalogue.empty  # the town has incidents only
    snap = load_wall(engine=engine, area=city, now=utc_now())
    assert snap.newest_incident_change == expected and snap.newest_reading is None
    render = render_wall(snap, catalogue, "en", tick=1, tz=ZoneInfo(ZONE))
    assert render.as_of == local_moment(expected, ZoneInfo(ZONE), now_utc=snap.read_at)
    assert render.as_of and "-" in render.as_of  # the sample's newest change is not today: its date is said
    for lang, label in (("en", "Newest incident change"), ("zh", "事件最新变动")):
        bar = find(wall_page(engine, lang=lang), "status-bar__asof")[0]
        assert texts(bar)[0].strip() == label
        assert "Data as of" not in texts(bar)[0] and "数据时间" not in texts(bar)[0]


def test_as_of_of_today_is_a_time_and_none_without_incidents(engine: Engine) -> None:
    tz = ZoneInfo(ZONE)
    now = utc_now()
    assert local_moment(now, tz, now_utc=now).count(":") == 2
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM incidents"))
    assert newest_incident_change(engine=engine) is None
    render = render_wall(load_wall(engine=engine, area=city_area(engine=engine), now=now),
                         indicator_catalogue(engine=engine), "zh", tick=1, tz=tz)
    assert render.as_of is None  # the screen keeps its placeholder, never a made-up time


def test_a_database_without_the_view_has_no_as_of(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DROP VIEW v_incident_as_of"))
    assert newest_incident_change(engine=engine) is None


# --- item 17: a district's or street's wall is titled with its level's name ------------------------------

def _one_indicator(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO indicators (indicator_id, dimension, name, name_en, unit, level, period_s, on_wall,"
            " sort_order, decimals) VALUES ('aqi', 'environment', '空气质量指数', 'Air quality', '', 'district',"
            " 60, :on, 1, 0)"), {"on": True})


def _titles(engine: Engine, lang: str, scope: str) -> tuple[str, str]:
    """(the status bar's subtitle, the health row's title) of the real wall of ``scope``, as rendered."""
    from app import create_app
    from data_access.readers.wall import read_wall, read_wall_catalogue
    from data_access.settings import Settings
    from pages._runtime import current_runtime

    page = wall_page(engine, lang=lang, scope=scope)
    subtitle = texts(find(page, "status-bar__subtitle"))[0]
    app = create_app(Settings(database_url=engine.url.render_as_string(hide_password=False), feeder=False))
    with app.server.test_request_context("/"):
        app.server.preprocess_request()
        runtime = current_runtime()
        snap = read_wall(runtime=runtime, scope=None, code=scope or "TOWN")
        render = render_wall(snap, read_wall_catalogue(runtime=runtime), lang, tick=1, tz=ZoneInfo(ZONE))
    health = texts(find(render.parts["health"], "health__label"))[0]
    return subtitle, health


def test_district_and_street_walls_are_titled_with_their_level_names(engine: Engine) -> None:
    import cli

    _one_indicator(engine)
    assert _titles(engine, "en", "") == ("City vital signs", "City health")
    assert _titles(engine, "en", "north") == ("District vital signs", "District health")
    assert _titles(engine, "zh", "n1") == ("街道运行体征", "街道体征健康度")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CITYWALL_DATABASE_URL", engine.url.render_as_string(hide_password=False))
        assert cli.main(["level-names", "--district-level", "服务区", "--district-level-en", "service region",
                         "--street-level", "社区委员会",
                         "--street-level-en", "neighbourhood council"]) == 0
    assert _titles(engine, "en", "north") == ("Service region vital signs", "Service region health")
    assert _titles(engine, "en", "s2") == ("Neighbourhood council vital signs", "Neighbourhood council health")
    assert _titles(engine, "zh", "south") == ("服务区运行体征", "服务区体征健康度")
    for lang in ("en", "zh"):
        for scope in ("north", "s2"):
            assert not {"City vital signs", "City health", "城市运行体征", "城市体征健康度"} & set(
                _titles(engine, lang, scope))


def test_incident_only_district_wall_is_titled_with_its_level_name(engine: Engine) -> None:
    page = wall_page(engine, lang="en", scope="north")
    assert texts(find(page, "status-bar__subtitle")) == ["District incidents"]
    assert texts(find(wall_page(engine, lang="zh", scope=""), "status-bar__subtitle")) == ["城市事件"]


# --- item 16: the catalogue's units in the wall's language ---------------------------------------------

@pytest.fixture(params=BACKENDS)
def shanghai(request: pytest.FixtureRequest, new_database) -> Engine:
    from data_access.settings import DEFAULT_PACK
    from feeder.pack import load_city_pack

    engine = new_database(request.param)
    load_city_pack(engine, pack_dir=DEFAULT_PACK)
    return engine


ENGLISH_UNIT_WORDS = ("count", "pax", "households", "trips", "calls", "people", "orders", "dispatches", "million",
                      "bikes", "vehicles", "stations", "parcels", "events", "trains", "veh", "CNY")


def _tile_units(page: html.Div) -> dict[str, str]:
    return {tile.__dict__["data-indicator"]: " ".join(texts(find(tile, "tile__unit")))
            for tile in find(page, "tile") if "data-indicator" in tile.__dict__}


def test_the_chinese_wall_shows_chinese_units_and_the_english_wall_english_ones(shanghai: Engine) -> None:
    catalogue = indicator_catalogue(engine=shanghai).set_index("indicator_id")
    zh = _tile_units(wall_page(shanghai, lang="zh"))
    en = _tile_units(wall_page(shanghai, lang="en"))
    assert len(zh) >= 30 and zh.keys() == en.keys()
    worded = [(i, u) for i, u in zh.items() if any(w in u for w in ENGLISH_UNIT_WORDS)]
    assert worded == []  # no "count", "pax/h", "households", "trips/5min" on the Chinese wall
    assert zh["metro_entries_5min"] == "人次/5分钟" and zh["power_outage_households"] == "户"
    assert en["metro_entries_5min"] == "trips/5min" and en["power_outage_households"] == "homes"
    def english(i: str) -> str:
        unit_en = catalogue.loc[i, "unit_en"]
        return unit_en if isinstance(unit_en, str) and unit_en else catalogue.loc[i, "unit"]

    assert [i for i in en if en[i] != english(i)] == []
    assert zh["power_load_mw"] == en["power_load_mw"] == "MW"  # symbols are the same in both


def test_a_catalogue_without_the_new_columns_falls_back(shanghai: Engine) -> None:
    """A city's own v_indicators may leave out wall_name, wall_name_en and unit_en (docs/views.md)."""
    with shanghai.begin() as conn:
        conn.execute(sa.text("DROP VIEW v_indicators CASCADE" if shanghai.dialect.name == "postgresql"
                             else "DROP VIEW v_indicators"))
        conn.execute(sa.text("CREATE VIEW v_indicators AS SELECT indicator_id, dimension, name, name_en,"
                             " unit_en AS unit, level, period_s, warn_low, warn_high, alarm_low, alarm_high,"
                             " higher_is_better, on_wall, sort_order, decimals FROM indicators"))
    catalogue = indicator_catalogue(engine=shanghai)
    assert catalogue[["wall_name", "wall_name_en", "unit_en"]].isna().all().all()
    from components.vital_panel import indicator_unit, wall_name

    row = catalogue.set_index("indicator_id").loc["metro_entries_5min"].to_dict()
    assert wall_name(row, "en") == "Metro entries" and wall_name(row, "zh") == "地铁进站客流"
    assert indicator_unit(row, "en") == indicator_unit(row, "zh") == "trips/5min"


# --- item 13, on screen: a street's ranking names its cells and counts every one ---------------------

def test_a_streets_ranking_names_its_cells_with_zeros(engine: Engine) -> None:
    from components.level_panels import ranking_rows
    from data_access.areas import area_by_code
    from data_access.readers.panels import load_panels

    street = area_by_code(engine=engine, area_code="n1")
    with engine.connect() as conn:
        cells = {r.cell_id: r.name for r in conn.execute(sa.text(
            "SELECT cell_id, name FROM v_grid_cells WHERE street_code = 'n1'"))}
    rows = ranking_rows(load_panels(engine=engine, area=street).children, lang="en", lang_param=None)
    assert {r["code"] for r in rows} == set(cells)  # every cell, with or without open incidents
    assert all(r["name"] == cells[r["code"]] and r["name"] != r["code"] for r in rows)
    assert all(r["name"].startswith("North 1 ") for r in rows)
    for column in ("open", "overdue", "reported_today", "closed_today"):
        assert all(isinstance(r[column], int) for r in rows), column  # 0, never blank
    assert any(r["open"] == 0 for r in rows)


# --- item 4, on screen: the level pages, their maps and the incident wall say the city's words ----------

def _level_page(engine: Engine, level: str, code: str, lang: str) -> str:
    from app import create_app
    from data_access.settings import Settings
    from pages._level import render_level

    app = create_app(Settings(database_url=engine.url.render_as_string(hide_password=False), feeder=False))
    with app.server.test_request_context("/"):
        app.server.preprocess_request()
        return "\n".join(texts(render_level(level, code, lang, {})))  # static panels are HTML text


def test_level_pages_and_the_incident_wall_use_the_level_names(engine: Engine) -> None:
    import cli

    assert "Districts, worst first" in _level_page(engine, "city", "TOWN", "en")  # CityWall's words by default
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CITYWALL_DATABASE_URL", engine.url.render_as_string(hide_password=False))
        assert cli.main(["level-names", "--district-level", "服务区", "--district-level-en", "service region",
                         "--street-level", "社区委员会", "--street-level-en", "neighbourhood council"]) == 0
    city = _level_page(engine, "city", "TOWN", "en")
    assert "Service regions, worst first" in city and "Open incidents per service region" in city
    assert "Click a service region to open it" in city and "Districts, worst first" not in city
    north = _level_page(engine, "district", "north", "en")
    assert " · Service region · " in north
    for text in ("Neighbourhood councils, worst first", "Open incidents per neighbourhood council",
                 "Click a neighbourhood council to open it"):
        assert text in north
    zh = _level_page(engine, "district", "north", "zh")
    assert " · 服务区 · 事件督办" in zh and "各社区委员会排名（最差在前）" in zh and "各社区委员会在办事件数" in zh
    wrong = _level_page(engine, "street", "north", "en")
    assert "north is a Service region, not a Neighbourhood council." in wrong
    wall = texts(find(wall_page(engine, lang="en"), "cw-panel__title"))
    assert "Service regions, worst first" in wall  # the incident-only wall's ranking
    from app import create_app
    from components.incident_table import column_defs
    from data_access.settings import Settings
    from pages._map import level_words_in
    from pages._runtime import current_runtime

    app = create_app(Settings(database_url=engine.url.render_as_string(hide_password=False), feeder=False))
    with app.server.app_context():
        words = level_words_in(current_runtime(), "en")
    headers = [c["headerName"] for c in column_defs("en", with_street=True, words=words)]
    assert "Neighbourhood council" in headers and "Street" not in headers  # the incident list's column
