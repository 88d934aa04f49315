"""A city's own PostgreSQL tables (foreign names and shapes), the views written over them exactly as
docs/own-database.md says (its SQL blocks are read from the file, so doc and test cannot drift),
and the app served read-only as ``citywall_reader`` — no feeder, no CityWall base tables. The wall
and the map must show that data in Chromium."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from components import ids
from tests.conftest import POSTGRES_URL, AppProcess

pytestmark = [pytest.mark.postgres, pytest.mark.browser,
              pytest.mark.skipif(not POSTGRES_URL, reason="CITYWALL_TEST_POSTGRES_URL is not set")]

DOC = Path(__file__).resolve().parent.parent / "docs" / "own-database.md"
DOC_SCHEMA = "city_ops"


def doc_sql_blocks() -> list[str]:
    """The ```sql blocks of the doc, in order: the city's tables, the views, the read-only role, the
    operator actions' table, view and role."""
    return re.findall(r"^```sql\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)


def _square(x: float, y: float, size: float) -> str:
    return (f'{{"type":"Polygon","coordinates":[[[{x},{y}],[{x + size},{y}],[{x + size},{y + size}],'
            f'[{x},{y + size}],[{x},{y}]]]}}')


@pytest.fixture(scope="module")
def city_schema() -> Iterator[str]:
    schema = f"cw_own_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    tables, views, role, actions = doc_sql_blocks()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        conn.exec_driver_sql(f"SET LOCAL search_path TO {schema}")
        conn.exec_driver_sql(tables)
        conn.exec_driver_sql(views)
        conn.exec_driver_sql(role.replace(f"SCHEMA {DOC_SCHEMA}", f"SCHEMA {schema}"))
        conn.exec_driver_sql(actions.replace(f"SCHEMA {DOC_SCHEMA}", f"SCHEMA {schema}"))
        # the city's data: two boroughs with two wards each, six requests, an air-quality feed
        conn.execute(sa.text("INSERT INTO gis_borough VALUES (:id, :label, :outline)"), [
            {"id": "MN", "label": "Manhattan", "outline": _square(-74.02, 40.70, 0.04)},
            {"id": "BK", "label": "Brooklyn", "outline": _square(-73.98, 40.70, 0.04)}])
        conn.execute(sa.text("INSERT INTO gis_ward VALUES (:no, :label, :boro, :outline)"), [
            {"no": "MN01", "label": "Ward MN-1", "boro": "MN", "outline": _square(-74.02, 40.70, 0.02)},
            {"no": "MN02", "label": "Ward MN-2", "boro": "MN", "outline": _square(-74.00, 40.70, 0.02)},
            {"no": "BK01", "label": "Ward BK-1", "boro": "BK", "outline": _square(-73.98, 40.70, 0.02)},
            {"no": "BK02", "label": "Ward BK-2", "boro": "BK", "outline": _square(-73.96, 40.70, 0.02)}])
        conn.exec_driver_sql("""
            INSERT INTO sr_request (request_no, complaint, state, urgent, opened, finished, deadline, ward_no,
                                    latitude, longitude, summary, location) VALUES
            (1, 'noise',   'NEW',      false, now() - interval '2 hours', NULL, now() + interval '6 hours',
             'MN01', 40.705, -74.015, 'Loud music', '1 Broadway'),
            (2, 'pothole', 'ASSIGNED', true,  now() - interval '3 days',  NULL, now() - interval '1 day',
             'MN02', 40.705, -73.995, 'Deep pothole', '2 Broadway'),
            (3, 'noise',   'WORKING',  false, now() - interval '1 hour',  NULL, now() + interval '7 hours',
             'MN02', 40.706, -73.994, 'Party', '3 Broadway'),
            (4, 'pothole', 'NEW',      false, now() - interval '5 hours', NULL, now() + interval '2 days',
             'BK01', 40.705, -73.975, 'Pothole', '4 Court St'),
            (5, 'noise',   'DONE',     false, now() - interval '4 hours', now() - interval '1 hour',
             now() + interval '4 hours', 'BK02', 40.705, -73.955, 'Barking dog', '5 Court St'),
            (6, 'noise',   'DONE',     false, now() - interval '9 days',  now() - interval '8 days',
             now() - interval '8 days', 'BK02', 40.706, -73.954, 'Alarm', '6 Court St')
        """)
        conn.exec_driver_sql("INSERT INTO aq_measurement VALUES ('Midtown', now() - interval '5 minutes', 41.0)")
    yield schema
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.fixture(scope="module")
def app(city_schema: str) -> Iterator[AppProcess]:
    # As the doc's read-only role: the app can only SELECT the views; it would fail on anything else.
    url = sa.make_url(POSTGRES_URL).set(username="citywall_reader", password=None).update_query_dict(
        {"options": f"-csearch_path={city_schema}"})
    proc = AppProcess({"CITYWALL_DATABASE_URL": url.render_as_string(hide_password=False), "CITYWALL_FEEDER": "0",
                       "CITYWALL_TIMEZONE": "America/New_York", "CITYWALL_LANG": "en", "CITYWALL_REFRESH_S": "2"})
    proc.start()
    yield proc
    proc.stop()


def test_the_reader_sees_the_views_only(city_schema: str) -> None:
    url = sa.make_url(POSTGRES_URL).set(username="citywall_reader", password=None).update_query_dict(
        {"options": f"-csearch_path={city_schema}"})
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            counts = dict(conn.execute(sa.text(
                "SELECT area_code, open FROM v_incident_counts WHERE level IN ('city', 'district')")).all())
            assert counts == {"NYC": 4, "MN": 3, "BK": 1}
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.execute(sa.text("SELECT * FROM sr_request"))
    finally:
        engine.dispose()


def test_wall_and_map_show_the_citys_own_data(browser, app: AppProcess) -> None:
    browser.driver.get(app.url + "/")
    open_kpi = f"#{ids.WALL_STRIP} div[id*='\"open\"'] .kpi__value"  # the pattern-matching id, as JSON text
    browser.wait_for_text_to_equal(open_kpi, "4", timeout=20)
    overdue_kpi = f"#{ids.WALL_STRIP} div[id*='\"overdue\"'] .kpi__value"
    assert browser.find_element(overdue_kpi).text == "1"
    browser.wait_for_text_to_equal('[data-indicator="pm25"] .tile__number', "41", timeout=10)
    assert "New York" in browser.find_element(".status-bar h1").text

    browser.driver.get(app.url + "/city")
    browser.wait_for_element("path.cw-area-MN", timeout=20)
    assert len(browser.find_elements("path.cw-area")) == 2
    browser.wait_for_text_to_equal('.cw-area-label .cw-tip[data-code="MN"] .cw-n-open', "3", timeout=10)
    assert browser.find_element('.cw-area-label .cw-tip[data-code="MN"] .cw-n-overdue').text == "1"
    assert browser.find_element('.cw-area-label .cw-tip[data-code="BK"] .cw-n-open').text == "1"

    browser.driver.get(app.url + "/district/MN")
    browser.wait_for_text_to_equal('.kpi[data-kpi="open"] .kpi__value', "3", timeout=15)
    browser.wait_for_element("path.cw-area-MN02", timeout=10)
    assert browser.get_logs() == []
