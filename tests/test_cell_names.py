"""Grid cells have readable names and every cell its counts (issue 14, item 13, data side), on SQLite
and PostgreSQL: make-grid names each cell after its street and a number (import-grid too, unless the
file names them), the demo pack's cells likewise; v_cell_counts lists every cell with zeros, never
blanks, for reported and closed today."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from importers.grid import import_grid, make_grid
from importers.incidents import import_incidents
from tests.conftest import BACKENDS
from tests.town import town

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with town(request.param, tmp_path) as eng:
        yield eng


def _rows(engine: Engine, sql: str) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


def test_made_cells_are_named_after_their_street(engine: Engine) -> None:
    make_grid(engine, resolution=9)
    cells = _rows(engine, "SELECT cell_id, street_code, name, name_en FROM v_grid_cells")
    assert cells and all(c.name and c.name_en for c in cells)
    n1 = sorted(c.name for c in cells if c.street_code == "n1")
    assert n1 == sorted(f"North 1 {k}" for k in range(1, len(n1) + 1))
    assert len({c.name for c in cells}) == len(cells)  # unique in the city


def test_imported_cells_keep_their_own_names(engine: Engine, tmp_path: Path) -> None:
    hoods = json.loads((DATA / "neighbourhoods.geojson").read_text())
    cells = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": f"c{k}", "label": f"Block {k}" if k % 2 else None},
         "geometry": f["geometry"]} for k, f in enumerate(hoods["features"][:4])]}
    path = tmp_path / "cells.geojson"
    path.write_text(json.dumps(cells))
    import_grid(engine, path=path, cell_property="id", name_property="label")
    names = dict((r.cell_id, r.name) for r in _rows(engine, "SELECT cell_id, name FROM v_grid_cells"))
    assert names["c1"] == "Block 1" and names["c0"] == "North 1 1" and names["c2"] == "North 3 1"


def test_every_cell_has_counts_with_zeros(engine: Engine, tmp_path: Path) -> None:
    make_grid(engine, resolution=9)
    import_incidents(engine, path=DATA / "town_requests.csv", mapping_path=DATA / "town_mapping.toml",
                     rejects_path=tmp_path / "rejects.csv")
    with engine.begin() as conn:  # one incident reported today and one closed today
        conn.execute(sa.text("UPDATE incidents SET reported_at = :t WHERE incident_id = 'town-R001'"),
                     {"t": _now_text(engine)})
        conn.execute(sa.text("UPDATE incidents SET closed_at = :t, status = 'closed'"
                             " WHERE incident_id = 'town-R002'"), {"t": _now_text(engine)})
    counts = _rows(engine, "SELECT * FROM v_cell_counts")
    grid = _rows(engine, "SELECT cell_id FROM v_grid_cells")
    assert len(counts) == len(grid)
    for column in ("open", "overdue", "reported_today", "closed_today"):
        assert all(getattr(r, column) is not None for r in counts), column
    assert sum(r.reported_today for r in counts) == 1 and sum(r.closed_today for r in counts) == 1
    assert all(r.name for r in counts)
    open_cells = {r.cell_id: r.open for r in _rows(engine, "SELECT cell_id, open FROM v_incident_cells")}
    assert {r.cell_id: r.open for r in counts if r.open} == open_cells  # the same "open" as the map's


def _now_text(engine: Engine) -> object:
    from data_access.db import utc_now

    now = utc_now()
    return now.strftime("%Y-%m-%d %H:%M:%S") if engine.dialect.name == "sqlite" else now


def test_the_demo_pack_names_its_cells() -> None:
    from data_access.settings import DEFAULT_PACK
    from feeder.pack import read_areas, read_cells
    from importers.grid import name_cells

    cells = read_cells(DEFAULT_PACK)
    streets = {a["area_code"]: (a["name"], a["name_en"]) for a in read_areas(DEFAULT_PACK) if a["level"] == "street"}
    name_cells(cells, streets)
    assert all(c["name"] and c["name_en"] for c in cells)
    assert len({c["name"] for c in cells}) == len(cells)
