"""What makes a drill-down quick, without a browser: the shapes of a watched map's children are
read ahead, and a level page's first layout carries its map but not its two grids, which its
mount callback sends right after (with the rows, and the filters a shared link presets)."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dash._utils import to_json

from app import create_app
from data_access.areas import area_by_code, city_area
from data_access.db import init_db, make_engine
from data_access.incident_map import load_map_counts
from data_access.readers import keys
from data_access.readers import map as readers_map
from data_access.settings import Settings
from pages._level import render_level
from pages._map import geometry_loader, map_geometry
from pages._runtime import current_runtime
from tests.test_incident_queries import HUANGPU, NANJING, seed_map_city
from tests.test_security_auth import callback_payload

REFRESH_S = 1.0


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('drill')) / 'd.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_map_city(engine)
    engine.dispose()
    yield create_app(Settings(database_url=url, feeder=False, refresh_s=REFRESH_S))


def test_children_shapes_are_read_ahead_once(app) -> None:
    with app.server.app_context():
        runtime = current_runtime()

        def prefetch(area) -> int:
            return readers_map.prefetch_child_geometry(runtime=runtime, area=area, lang="en", lang_param="en",
                                                       load=geometry_loader(runtime, "en", "en"))

        city = city_area(engine=runtime.engine)
        codes = [row[0] for row in load_map_counts(engine=runtime.engine).children[city.area_code]]
        assert len(codes) == 16
        assert not any(runtime.cache.has(keys.geometry_key(c, "en", "en")) for c in codes)
        # A few per tick and process (the warmer calls it once per window), until all are kept.
        per_tick = []
        while len(per_tick) < 30 and sum(per_tick) < 16:
            per_tick.append(prefetch(city))
            assert prefetch(city) == 0  # this tick's budget is spent
            time.sleep(REFRESH_S - time.time() % REFRESH_S + 0.02)  # into the next tick
        assert per_tick == [readers_map.PREFETCH_PER_TICK] * (16 // readers_map.PREFETCH_PER_TICK)
        assert all(runtime.cache.has(keys.geometry_key(c, "en", "en")) for c in codes)
        assert prefetch(city) == 0  # kept: nothing read again
        # What a click then finds: the district's streets, linked in the language of the link followed.
        huangpu = area_by_code(engine=runtime.engine, area_code=HUANGPU)
        shapes = map_geometry(runtime, huangpu, "en", "en")
        assert f"/street/{NANJING}?lang=en" in {f["properties"]["href"] for f in shapes.areas["features"]}
        street = area_by_code(engine=runtime.engine, area_code=NANJING)
        assert prefetch(street) == 0  # a street has no children


def test_level_page_is_laid_out_without_its_grids(app) -> None:
    with app.server.test_request_context("/district/" + HUANGPU):
        app.server.preprocess_request()  # who is asking (the security layer's request hook)
        layout = json.loads(to_json(render_level("district", HUANGPU, None, {"category": "facilities", "x": "1"})))
    text = json.dumps(layout)
    assert "dash_ag_grid" not in text and "cw-lvl-rank-box" in text and "cw-lvl-list-box" in text
    assert '"cw-map-areas"' in text  # the map is in the first layout

    def store(node: object) -> object:
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == {"type": "cw-lvl-mount", "id": "district"}:
                return node["props"]["data"]
            return next((found for v in node.values() if (found := store(v)) is not None), None)
        if isinstance(node, list):
            return next((found for v in node if (found := store(v)) is not None), None)
        return None

    assert store(layout) == {"category": "facilities"}  # the list's preset from the link; stray keys dropped


def test_mount_sends_the_ranking_and_the_preset_list(app) -> None:
    scope = {"level": "district", "area_code": HUANGPU, "lang": "en", "lang_param": "en"}
    payload = callback_payload(app, "cw-lvl-rank-box", {"cw-lvl-mount": {"category": "facilities", "q": 3},
                                                        "cw-map-scope": scope}, key="district")
    reply = app.server.test_client().post("/_dash-update-component", json=payload)
    assert reply.status_code == 200, reply.data[:300]
    response = {json.loads(k)["type"]: v for k, v in reply.get_json()["response"].items()}
    ranking = response["cw-lvl-rank-box"]["children"]
    assert ranking["type"] == "AgGrid" and ranking["props"]["id"] == {"type": "cw-lvl-rank", "id": "district"}
    rows = {r["code"]: r for r in ranking["props"]["rowData"]}
    assert rows[NANJING]["open"] == 4 and rows[NANJING]["href"] == f"/street/{NANJING}?lang=en"
    assert "](" not in rows[NANJING]["name"]  # the name is text, never Markdown (issue 12, item 9)
    text = json.dumps(response["cw-lvl-list-box"]["children"])
    assert '"rowModelType": "infinite"' in text and '"value": ["facilities"]' in text
    # A forged scope outside the city's codes gets nothing, not an error page.
    forged = callback_payload(app, "cw-lvl-rank-box", {"cw-lvl-mount": {}, "cw-map-scope": {
        "level": "district", "area_code": "<script>", "lang": "en"}}, key="district")
    assert app.server.test_client().post("/_dash-update-component", json=forged).status_code in (200, 204)


def test_display_only_panels_are_escaped_html() -> None:
    from dash import dcc, html

    from components.static_html import static_panel, to_html

    tree = [html.Div(className="kpi kpi--alarm", **{"data-kpi": "open"}, style={"fontSize": "2rem"}, children=[
        html.Span("<script>alert(1)</script> & co", title='say "hi"'), html.Br(), 12])]
    assert to_html(tree) == ('<div class="kpi kpi--alarm" style="font-size:2rem" data-kpi="open">'
                             '<span title="say &quot;hi&quot;">&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</span>'
                             '<br>12</div>')
    panel = static_panel(tree)
    assert isinstance(panel, dcc.Markdown) and panel.dangerously_allow_html
    assert panel.children.startswith('<div class="cw-html__root">')
    with pytest.raises(TypeError):  # anything interactive keeps being a real component
        to_html(html.Button("x", id="b", n_clicks=0))
    with pytest.raises(TypeError):
        to_html(dcc.Link("x", href="/"))
