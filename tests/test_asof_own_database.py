"""Replay on a city's own database (docs/own-database.md): its views written exactly as the doc says
(the SQL blocks are read from the file), no CityWall base tables, no stage times kept — the as-of
reads give the requests open at a past moment, each in the status it still has (open) or
'reported' (closed since). PostgreSQL only, like the doc."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import asof
from data_access.areas import area_by_code
from data_access.db import make_engine, utc_now
from data_access.replay import kept_history_start
from tests.conftest import POSTGRES_URL, _postgres_schema_url
from tests.test_import_own_database import doc_sql_blocks

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not POSTGRES_URL, reason="CITYWALL_TEST_POSTGRES_URL is not set")]


@pytest.fixture
def own_city() -> Iterator[Engine]:
    schema = f"cw_own_asof_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    tables, views, _role, _actions = doc_sql_blocks()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        conn.exec_driver_sql(f"SET LOCAL search_path TO {schema}")
        conn.exec_driver_sql(tables)
        conn.exec_driver_sql(views)
        conn.exec_driver_sql("INSERT INTO gis_borough VALUES ('MN', 'Manhattan', NULL)")
        conn.exec_driver_sql("INSERT INTO gis_ward VALUES ('MN01', 'Ward MN-1', 'MN', NULL)")
        conn.exec_driver_sql("""
            INSERT INTO sr_request (request_no, complaint, state, urgent, opened, finished, deadline, ward_no,
                                    latitude, longitude, summary, location) VALUES
            (1, 'noise',   'WORKING', false, now() - interval '2 hours',  NULL, now() - interval '100 minutes',
             'MN01', 40.705, -74.015, 'Loud music', '1 Broadway'),
            (2, 'pothole', 'DONE',    true,  now() - interval '4 hours',  now() - interval '1 hour',
             now() + interval '1 day', 'MN01', 40.705, -74.015, 'Pothole', '2 Broadway'),
            (3, 'noise',   'NEW',     false, now() - interval '30 minutes', NULL, NULL,
             'MN01', 40.705, -74.015, 'Party', '3 Broadway')
        """)
    engine = make_engine(_postgres_schema_url(schema))
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def test_replay_on_the_doc_views(own_city: Engine) -> None:
    at = (utc_now() - timedelta(minutes=90)).replace(second=0)
    open_then = asof.open_incidents_as_of(engine=own_city, area=None, at=at)
    assert list(open_then["incident_id"]) == ["2", "1"]  # urgent first; request 3 was not reported yet
    assert dict(zip(open_then["incident_id"], open_then["status"], strict=True)) == {
        "1": "in_progress", "2": "reported"}  # no stage times: an open request keeps its status
    assert dict(zip(open_then["incident_id"], open_then["overdue"], strict=True)) == {"1": 1, "2": 0}
    counts = asof.incident_counts_as_of(engine=own_city, area_code="MN01", at=at)
    assert (counts.open, counts.overdue) == (2, 1)
    maps = asof.load_map_counts_as_of(engine=own_city, at=at)
    assert maps.own["NYC"] == ("NYC", 2, 1) and maps.children["MN"] == [("MN01", 2, 1)]
    assert maps.cells == [("MN01", 2, 1, 3)]  # each ward is its own grid cell
    wall = asof.load_wall_as_of(engine=own_city, area=area_by_code(engine=own_city, area_code="NYC"), at=at,
                                hotline_source="hotline_311")
    assert wall.counts.open == 2 and wall.hotline["open"] == 2 and wall.read_at == at
    assert kept_history_start(engine=own_city) is not None  # the oldest report, without vital signs
