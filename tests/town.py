"""A small city of any name for the importer tests of issue 14: a fresh database on one backend
with the city, optionally its six neighbourhoods (tests/data/neighbourhoods.geojson, dissolved into
the districts North and South) and an H3 grid over them."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access.db import init_db, make_engine
from importers.areas import import_areas, new_city
from importers.grid import make_grid
from tests.conftest import TEST_DATA, create_database

CODE = "TOWN"
ZONE = "America/Los_Angeles"
HOODS = TEST_DATA / "neighbourhoods.geojson"
HOOD_OPTIONS = dict(level="street", code_property="hood_code", name_property="hood", dissolve_property="region")


@contextmanager
def town(backend: str, tmp_path: Path, *, hoods: bool = True, grid: bool = False) -> Iterator[Engine]:
    url, cleanup = create_database(backend, tmp_path)
    engine = make_engine(url)
    try:
        init_db(engine, timezone=ZONE)
        new_city(engine, code=CODE, name="Town", name_en="Town", timezone=ZONE)
        if hoods:
            import_areas(engine, path=HOODS, **HOOD_OPTIONS)
        if grid:
            make_grid(engine, resolution=9)
        yield engine
    finally:
        engine.dispose()
        cleanup()


def stored_areas(engine: Engine) -> dict[str, sa.Row]:
    """v_areas by area code."""
    with engine.connect() as conn:
        return {r.area_code: r for r in conn.execute(sa.text("SELECT * FROM v_areas"))}
