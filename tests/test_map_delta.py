"""The map's steady tick sends only what changed: a Dash Patch of the hideouts that sets the
changed cells' and areas' counts and deletes the cells gone, against the signature the screen
holds; the full hideouts when the server does not know that signature. Then in Chromium: the
patched hideout restyles the map, and a cell's first incident still fetches its shape once.
One app server (the real app, SQLite), one walk."""
from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from dash.testing.composite import DashComposite
from dash.testing.wait import until

from app import create_app
from data_access import schema
from data_access.db import init_db, make_engine, utc_now
from data_access.settings import Settings
from tests.test_incident_queries import C_NJ1, C_TP1, CITY, HUANGPU, NANJING, seed_map_city
from tests.test_security_auth import callback_payload

pytestmark = pytest.mark.browser
REFRESH_S = 1.0
PATCH = "__dash_patch_update"


def _incident(engine: sa.Engine, iid: str, cell: str, street: str, district: str, *, priority: int = 1) -> None:
    now = utc_now()
    with engine.begin() as conn:
        conn.execute(schema.incidents.insert(), [{
            "incident_id": iid, "category": "city_appearance", "subcategory": "exposed_garbage", "source": "patrol",
            "priority": priority, "status": "reported", "title": "test", "address": "1号", "lat": 31.2326,
            "lon": 121.4652, "cell_id": cell, "street_code": street, "district_code": district,
            "reported_at": now - timedelta(minutes=5), "due_at": now + timedelta(hours=20), "closed_at": None,
            "reopened": 0}])


def _close(engine: sa.Engine, *ids: str) -> None:
    with engine.begin() as conn:
        conn.execute(schema.incidents.update().where(schema.incidents.c.incident_id.in_(ids)).values(
            status="closed", closed_at=utc_now(), resolved_at=utc_now()))


def _next_tick() -> None:
    """Sleep into the next tick window (the tick cache's key changes, the counts are read again)."""
    time.sleep(REFRESH_S - time.time() % REFRESH_S + 0.05)


def _tick(app, signature: str) -> tuple[dict, int]:
    payload = callback_payload(app, "cw-map-sig", {"cw-tick": 1, "cw-map-sig": signature, "cw-map-scope": {
        "level": "city", "area_code": CITY, "lang": "zh", "lang_param": None}}, key="city")
    reply = app.server.test_client().post("/_dash-update-component", json=payload)
    assert reply.status_code in (200, 204), reply.data[:300]
    if reply.status_code == 204:
        return {}, 0
    response = reply.get_json()["response"]
    return {json.loads(k)["type"]: v for k, v in response.items()}, len(reply.data)


def _ops(value: dict) -> list[tuple[str, list, object]]:
    assert value.get(PATCH) == PATCH, value
    return [(op["operation"], op["location"], op["params"].get("value")) for op in value["operations"]]


def test_tick_sends_a_patch_of_what_changed_and_the_browser_applies_it(dash_duo: DashComposite,
                                                                        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'delta.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_map_city(engine)
    app = create_app(Settings(database_url=url, refresh_s=REFRESH_S, feeder=False))
    dash_duo.start_server(app)

    # a screen whose signature the server does not know gets everything
    full, _ = _tick(app, "not-a-signature-it-sent")
    assert set(full["cw-map-areas"]["hideout"]["counts"]) >= {HUANGPU} and "operations" not in full["cw-map-areas"]
    assert full["cw-map-cells"]["hideout"]["counts"][C_NJ1] == [2, 1, 3]
    signature = full["cw-map-sig"]["data"]

    # nothing changed: nothing but the (empty) error line
    _next_tick()
    same, _ = _tick(app, signature)
    assert "cw-map-areas" not in same and "cw-map-cells" not in same and "cw-map-sig" not in same

    # one more incident in one cell: only that cell and its district, as Patches; no legend
    _incident(engine, "d01", C_NJ1, NANJING, HUANGPU)
    _next_tick()
    delta, size = _tick(app, signature)
    assert _ops(delta["cw-map-cells"]["hideout"]) == [("Assign", ["counts", C_NJ1], [3, 1, 3])]
    assert _ops(delta["cw-map-areas"]["hideout"]) == [("Assign", ["counts", HUANGPU], [7, 4])]
    assert "cw-map-legend" not in delta and "cw-map-points" not in delta
    assert size < 1000, size
    assert delta["cw-map-sig"]["data"] != signature
    signature = delta["cw-map-sig"]["data"]

    # a cell's last open incidents closed: the cell is deleted from the counts
    _close(engine, "m05", "m09")
    _next_tick()
    delta, _ = _tick(app, signature)
    assert _ops(delta["cw-map-cells"]["hideout"]) == [("Delete", ["counts", C_TP1], None)]
    assert ("Assign", ["counts", "310104"], [0, 0]) in _ops(delta["cw-map-areas"]["hideout"])

    # the browser: the patched hideout restyles the labels, and a new cell's shape is fetched once
    dash_duo.wait_for_page(f"{dash_duo.server_url}/city")
    label = f'.cw-area-label .cw-tip[data-code="{HUANGPU}"] .cw-n-open'
    dash_duo.wait_for_text_to_equal(label, "7", timeout=15)
    _incident(engine, "d02", C_NJ1, NANJING, HUANGPU)
    dash_duo.wait_for_text_to_equal(label, "8", timeout=15)
    with engine.connect() as conn:
        fresh = conn.execute(sa.text(
            "SELECT cell_id FROM v_grid_cells WHERE street_code = :s AND cell_id NOT IN"
            " (SELECT cell_id FROM v_incident_cells) ORDER BY cell_id LIMIT 1"), {"s": NANJING}).scalar_one()
    assert not dash_duo.find_elements(f"path.cw-cell-id-{fresh}")
    _incident(engine, "d03", fresh, NANJING, HUANGPU, priority=3)
    dash_duo.wait_for_element(f"path.cw-cell-id-{fresh}", timeout=15)
    dash_duo.wait_for_text_to_equal(label, "9", timeout=15)
    until(lambda: dash_duo.driver.execute_script(
        f"return document.querySelectorAll('path.cw-cell-id-{C_TP1}').length") == 0, timeout=10)
    assert [e for e in dash_duo.get_logs() if e["level"] == "SEVERE"] == []
    engine.dispose()
