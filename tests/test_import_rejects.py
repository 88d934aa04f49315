"""Rows of a real export that went wrong (issue 14, items 8-11), through tests/data/town_bad_rows.csv
on SQLite and PostgreSQL: every row is imported or rejected, and

- the rejects file carries a reason code and the row's detail in separate columns (item 10);
- a later good row whose id was first seen on a rejected row is imported; a repeat of an imported
  row is a duplicate (item 8);
- a line with too many or too few fields is rejected as "malformed row: N fields, expected M" and the
  import goes on; a failed import leaves the previous rejects file as it was (item 9);
- a closed row without a closed time takes the mapping's fallback column, counted apart (item 11).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from importers import incidents as importer
from importers.common import ImportFailure
from tests.conftest import BACKENDS
from tests.town import town

DATA = Path(__file__).resolve().parent / "data"
BAD = DATA / "town_bad_rows.csv"
MAPPING = DATA / "town_mapping.toml"
SOURCE_COLUMNS = ["Request ID", "Type", "State", "Opened", "Closed", "Updated", "Lat", "Lon", "Address"]


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with town(request.param, tmp_path, grid=True) as eng:
        yield eng


def _run(engine: Engine, tmp_path: Path, mapping: Path = MAPPING, source: Path = BAD
         ) -> tuple[importer.IncidentSummary, pd.DataFrame]:
    rejects = tmp_path / "rejects.csv"
    summary = importer.import_incidents(engine, path=source, mapping_path=mapping, rejects_path=rejects)
    return summary, pd.read_csv(rejects, dtype=str, keep_default_na=False)


def _stored(engine: Engine) -> dict[str, sa.Row]:
    with engine.connect() as conn:
        return {r.incident_id: r for r in conn.execute(sa.text("SELECT * FROM incidents"))}


def test_reject_reason_and_detail_are_separate_columns(engine: Engine, tmp_path: Path) -> None:
    summary, rejects = _run(engine, tmp_path)
    assert list(rejects.columns) == [*SOURCE_COLUMNS, "row", "reason", "detail"]
    far = rejects.set_index("Request ID").loc["B02"]
    assert (far["reason"], far["detail"], far["row"]) == ("outside_the_city", "34.04, -118.52", "2")
    assert rejects.groupby("reason").size().to_dict()["closed_without_a_closed_time"] == 2
    assert summary.rows == 12 and summary.imported + summary.rejected == 12
    assert "  rejected, outside the city (outside_the_city): 1" in str(summary)


def test_a_duplicate_of_a_rejected_row_is_judged_on_its_own(engine: Engine, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for batch in (50_000, 3):  # in one batch, and with the first B03/B04 in an earlier batch than the second
        monkeypatch.setattr(importer, "BATCH_ROWS", batch)
        _, rejects = _run(engine, tmp_path)
        stored = _stored(engine)
        assert stored["town-B03"].address == "3 First Ave (located)"
        assert stored["town-B04"].address == "4 First Ave"  # the first accepted row counts
        by_row = rejects.set_index("row")
        assert by_row.loc["3", "reason"] == "no_coordinates" and "4" not in by_row.index
        assert (by_row.loc["6", "reason"], by_row.loc["6", "detail"]) == (
            "duplicate_id", "row 5 has the id B04")


def test_a_malformed_line_is_rejected_and_the_import_goes_on(engine: Engine, tmp_path: Path) -> None:
    summary, rejects = _run(engine, tmp_path)
    by_id = rejects.set_index("Request ID")
    assert (by_id.loc["B05", "reason"], by_id.loc["B05", "detail"]) == ("malformed_row", "11 fields, expected 9")
    assert (by_id.loc["B06", "reason"], by_id.loc["B06", "detail"]) == ("malformed_row", "4 fields, expected 9")
    assert by_id.loc["B05", "Address"] == "5 First Ave"  # the fields it has, in their columns
    assert "  rejected, malformed row (malformed_row): 2" in str(summary)
    assert {"town-B07", "town-B10"} <= _stored(engine).keys()  # the rows after them are imported
    assert _stored(engine)["town-B10"].address == "10 First Ave, rear"


def test_a_failed_import_keeps_the_previous_rejects_file(engine: Engine, tmp_path: Path) -> None:
    _run(engine, tmp_path)
    rejects = tmp_path / "rejects.csv"
    before = rejects.read_bytes()
    broken = tmp_path / "broken.csv"
    padding = "".join(f"P{n:05d},Pothole,Open,2026-11-20T09:00:00,,,,,{'x' * 60}\n" for n in range(6000))
    broken.write_bytes(BAD.read_bytes() + padding.encode()  # ~0.5 MB of rows, then one that is not UTF-8
                       + b"B11,Pothole,Open,2026-11-20T09:00:00,,,40.71,-73.98,caf\xe9\n")
    with pytest.raises(ImportFailure) as failure:
        importer.import_incidents(engine, path=broken, mapping_path=MAPPING, rejects_path=rejects)
    assert "previous rejects file" in str(failure.value)
    assert rejects.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("rejects")] == ["rejects.csv"]


def test_closed_rows_take_the_fallback_column_counted_apart(engine: Engine, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING.read_text().replace('closed_at = "Closed"\n',
                                                   'closed_at = "Closed"\nclosed_at_fallback = "Updated"\n'))
    summary, rejects = _run(engine, tmp_path, mapping)
    stored = _stored(engine)
    assert stored["town-B08"].status == "closed"
    assert str(stored["town-B08"].closed_at)[:16] == "2026-11-21 17:00"  # 09:00 in Los Angeles, in UTC
    assert summary.closed_from_fallback == 1
    assert "closed time taken from 'Updated' (closed_at_fallback): 1" in str(summary)
    assert rejects.set_index("Request ID").loc["B09", "reason"] == "closed_without_a_closed_time"
    assert summary.imported == 6 and summary.rejected == 6


def test_a_delimiter_of_several_characters_is_refused(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING.read_text() + '\n[csv]\ndelimiter = ";;"\n')
    with pytest.raises(ImportFailure, match=r"\[csv\] delimiter: ';;': expected one character"):
        importer.load_mapping(mapping)
