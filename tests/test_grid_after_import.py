"""``citywall make-grid`` / ``import-grid`` after incidents were imported (issue 14, item 5), on SQLite
and PostgreSQL: the incidents are placed again on the new grid in the same transaction, so
v_incident_cells never empties; a city without streets gets its whole-district streets and its
incidents get them too."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from importers.areas import import_areas
from importers.grid import make_grid
from importers.incidents import import_incidents
from tests.conftest import BACKENDS
from tests.town import HOOD_OPTIONS, HOODS, town

DATA = Path(__file__).resolve().parent / "data"
REQUESTS = DATA / "town_requests.csv"
MAPPING = DATA / "town_mapping.toml"


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with town(request.param, tmp_path, hoods=False) as eng:
        yield eng


def _state(engine: Engine) -> tuple[int, int, int]:
    """(open incidents, open incidents in v_incident_cells, incidents pointing at a cell that is gone)."""
    with engine.connect() as conn:
        open_ = conn.execute(sa.text("SELECT COUNT(*) FROM v_open_incidents")).scalar_one()
        in_cells = conn.execute(sa.text("SELECT COALESCE(SUM(open), 0) FROM v_incident_cells")).scalar_one()
        dangling = conn.execute(sa.text(
            "SELECT COUNT(*) FROM incidents i WHERE i.cell_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM v_grid_cells g"
            " WHERE g.cell_id = i.cell_id AND g.street_code = i.street_code)"
        )).scalar_one()
    return int(open_), int(in_cells), int(dangling)


def test_a_new_grid_keeps_the_incidents_in_cells(engine: Engine, tmp_path: Path) -> None:
    import_areas(engine, path=HOODS, **HOOD_OPTIONS)
    make_grid(engine, resolution=9)
    imported = import_incidents(engine, path=REQUESTS, mapping_path=MAPPING,
                                rejects_path=tmp_path / "rejects.csv").imported
    open_, in_cells, dangling = _state(engine)
    assert open_ > 10 and in_cells == open_ and dangling == 0
    summary = make_grid(engine, resolution=8)
    assert _state(engine) == (open_, open_, 0)
    assert f"{imported} incidents placed on the new grid (0 of them in no cell of their street)" in str(summary)


def test_a_city_without_streets_gets_them_for_its_incidents(engine: Engine, tmp_path: Path) -> None:
    import_areas(engine, path=DATA / "fragments.geojson", level="district", code_from_name=True,
                 name_property="name")
    imported = import_incidents(engine, path=REQUESTS, mapping_path=MAPPING,
                                rejects_path=tmp_path / "rejects.csv").imported
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM incidents WHERE street_code IS NULL")).scalar_one() \
            == imported
    make_grid(engine, resolution=9)
    open_, in_cells, dangling = _state(engine)
    assert in_cells == open_ > 10 and dangling == 0
    with engine.connect() as conn:
        streets = conn.execute(sa.text("SELECT DISTINCT street_code FROM incidents ORDER BY 1")).scalars().all()
    assert streets == ["riverside00"]
