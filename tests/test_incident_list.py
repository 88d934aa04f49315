"""The incident list in Chromium: filtering by category and overdue gives exactly the view's rows,
the CSV export holds those rows, the filters live in the URL, a row click highlights the incident."""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from dash.testing.composite import DashComposite
from dash.testing.wait import until
from selenium.webdriver.common.keys import Keys

from app import create_app
from components.incident_table import csv_text
from data_access.db import init_db, make_engine
from data_access.incident_list import iter_incidents
from data_access.models import IncidentFilter
from data_access.settings import Settings
from tests.test_incident_queries import DEFAULT_ORDER, seed_map_city

pytestmark = pytest.mark.browser
KEY = "incidents"


def _sel(kind: str) -> str:
    return f"[id='{json.dumps({'id': KEY, 'type': kind}, separators=(',', ':'), sort_keys=True)}']"


def _grid_ids(dash_duo: DashComposite) -> list[str]:
    return dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('.ag-pinned-left-cols-container .ag-row'))"
        ".sort((a, b) => Number(a.getAttribute('row-index')) - Number(b.getAttribute('row-index')))"
        ".map(r => (r.querySelector('[col-id=\"incident_id\"]') || {}).textContent || '').filter(Boolean)")


def _choose(dash_duo: DashComposite, kind: str, label: str) -> None:
    dash_duo.select_dcc_dropdown(_sel(kind), value=label)
    dash_duo.find_element("body").send_keys(Keys.ESCAPE)


def test_filter_export_url_and_highlight(dash_duo: DashComposite, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'list.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_map_city(engine)
    with engine.connect() as conn:
        expected = sorted(r[0] for r in conn.execute(sa.text(
            "SELECT incident_id FROM v_open_incidents WHERE category = 'facilities' AND overdue = 1")))
    assert expected == ["m01", "m03", "m08"]
    dash_duo.start_server(create_app(Settings(database_url=url, refresh_s=2.0, feeder=False)))

    dash_duo.wait_for_page(f"{dash_duo.server_url}/incidents?lang=en")
    until(lambda: _grid_ids(dash_duo) == DEFAULT_ORDER, timeout=15, msg="the unfiltered list")
    dash_duo.wait_for_text_to_equal(_sel("cw-list-count"), "8 incidents")
    assert dash_duo.find_elements(".leaflet-tile") == []  # the map beside it needs no tile server

    _choose(dash_duo, "cw-list-category", "Public facilities")
    until(lambda: _grid_ids(dash_duo) == ["m01", "m03", "m08", "m09"], timeout=10, msg="category filter")
    _choose(dash_duo, "cw-list-overdue", "Overdue only")
    until(lambda: sorted(_grid_ids(dash_duo)) == expected, timeout=10, msg="category + overdue filter")
    dash_duo.wait_for_text_to_equal(_sel("cw-list-count"), "3 incidents")
    shared = dash_duo.driver.current_url
    assert "category=facilities" in shared and "overdue=1" in shared and "lang=en" in shared

    # the export holds exactly the filtered rows
    dash_duo.find_element(_sel("cw-list-export")).click()
    target = Path(dash_duo.download_path) / "citywall-incidents-city.csv"
    until(lambda: target.exists() and target.stat().st_size > 0, timeout=10, msg="the CSV download")
    time.sleep(0.3)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert sorted(r["incident_id"] for r in rows) == expected
    assert {r["category"] for r in rows} == {"facilities"} and {r["overdue"] for r in rows} == {"1"}

    # a row click highlights the incident on the map and names it
    dash_duo.find_element(".ag-pinned-left-cols-container .ag-row [col-id='incident_id']").click()
    dash_duo.wait_for_element("path.cw-highlight", timeout=10)
    until(lambda: "m01" in dash_duo.find_element(_sel("cw-list-selected")).text, timeout=5)

    # the shared link restores the filters
    dash_duo.wait_for_page(shared)
    until(lambda: sorted(_grid_ids(dash_duo)) == expected, timeout=15, msg="filters from the URL")
    assert dash_duo.get_logs() == []
    engine.dispose()


def test_csv_text_of_the_export_query(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'csv.db'}")
    init_db(engine)
    seed_map_city(engine)
    from zoneinfo import ZoneInfo

    filt = IncidentFilter.from_values(categories=["facilities"], overdue="1")
    text = csv_text(iter_incidents(engine=engine, filt=filt, chunk_rows=1), tz=ZoneInfo("Asia/Shanghai"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["incident_id"] for r in rows] == ["m01", "m03", "m08"] and rows[0]["reported_at"].endswith("+0800")
    empty = csv_text(iter_incidents(engine=engine, filt=IncidentFilter.from_values(search="zzz")),
                     tz=ZoneInfo("Asia/Shanghai"))
    assert empty.startswith("incident_id,") and empty.count("\n") == 1
    engine.dispose()
