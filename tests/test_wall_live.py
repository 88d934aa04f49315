"""The walking skeleton end to end: database -> views -> the wall in Chromium, live."""
from __future__ import annotations

from pathlib import Path

import pytest
from dash.testing.composite import DashComposite

from app import create_app
from data_access import schema
from data_access.db import init_db, make_engine, utc_now
from data_access.settings import Settings
from tests.conftest import VIEWPORT
from tests.fixtures import seed_small_city

pytestmark = pytest.mark.browser  # every test here drives Chromium
REFRESH_S = 1.0


def test_wall_shows_a_new_reading_within_two_ticks(dash_duo: DashComposite, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wall.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_small_city(engine)
    dash_duo.start_server(create_app(Settings(database_url=url, refresh_s=REFRESH_S, feeder=False)))

    aqi = '[data-indicator="aqi"] .tile__number'
    dash_duo.wait_for_text_to_equal(aqi, "150", timeout=10)
    assert dash_duo.driver.execute_script("return [window.innerWidth, window.innerHeight]") == list(VIEWPORT)
    assert "tile--warn" in dash_duo.find_element('[data-indicator="aqi"]').get_attribute("class")
    dash_duo.wait_for_text_to_equal("#connection-badge", "在线", timeout=10)
    assert dash_duo.find_element("#wall-strip").text.split("\n")[:3] == ["城市事件", "在办", "4"]

    with engine.begin() as conn:
        conn.execute(schema.readings.insert().values(indicator_id="aqi", area_code="100000", ts=utc_now(), value=250))
    dash_duo.wait_for_text_to_equal(aqi, "250", timeout=2 * REFRESH_S + 1.5)
    assert "tile--alarm" in dash_duo.find_element('[data-indicator="aqi"]').get_attribute("class")
    assert dash_duo.get_logs() == []
