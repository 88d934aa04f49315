"""init_db on a database made by an older CityWall adds the columns added since (ALTER TABLE … ADD
COLUMN), keeping every row, on SQLite and PostgreSQL."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access.db import init_db, make_engine
from tests.conftest import BACKENDS, create_database


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url, cleanup = create_database(request.param, tmp_path)
    eng = make_engine(url)
    yield eng
    eng.dispose()
    cleanup()


def test_an_older_database_gets_the_new_columns(engine: Engine) -> None:
    with engine.begin() as conn:  # the areas and grid tables as CityWall 2026.11 created them
        conn.exec_driver_sql("CREATE TABLE areas (area_code VARCHAR(32) PRIMARY KEY, level VARCHAR(16) NOT NULL,"
                             " parent_code VARCHAR(32), name TEXT NOT NULL, name_en TEXT, geojson TEXT,"
                             " center_lat FLOAT, center_lon FLOAT, sort_order INTEGER NOT NULL DEFAULT 0,"
                             " approximate BOOLEAN NOT NULL DEFAULT false)")
        conn.exec_driver_sql("CREATE TABLE grid_cells (cell_id VARCHAR(32) PRIMARY KEY, street_code VARCHAR(32)"
                             " NOT NULL, geojson TEXT, center_lat FLOAT, center_lon FLOAT)")
        conn.exec_driver_sql("INSERT INTO areas (area_code, level, name) VALUES ('C', 'city', 'Town')")
        conn.exec_driver_sql("CREATE VIEW v_areas AS SELECT a.area_code, a.level, a.parent_code, a.name, a.name_en,"
                             " a.geojson, a.center_lat, a.center_lon, a.sort_order, a.approximate FROM areas a")
        conn.exec_driver_sql("CREATE VIEW v_grid_cells AS SELECT g.cell_id, g.street_code, s.parent_code AS"
                             " district_code, g.geojson, g.center_lat, g.center_lon FROM grid_cells g"
                             " JOIN areas s ON s.area_code = g.street_code")
    init_db(engine)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("areas")}
    assert {"boundary_source", "fit_west", "fit_south", "fit_east", "fit_north"} <= columns
    assert {"name", "name_en"} <= {c["name"] for c in sa.inspect(engine).get_columns("grid_cells")}
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name, boundary_source FROM v_areas")).one() == ("Town", None)
    assert init_db(engine) is False  # the second run changes nothing
