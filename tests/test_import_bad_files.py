"""Bad inputs stop with one line naming the file, the place in it and the problem, and write
nothing: a GeoJSON that is not GeoJSON, a CSV missing a mapped column, a mapping naming a category
CityWall does not have. Run through the ``citywall`` command, as a user meets them."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import cli
from data_access.db import make_engine
from tests.conftest import NYC_DATA

DATA = Path(__file__).resolve().parent / "data"
NYC = NYC_DATA
TABLES = ("areas", "grid_cells", "incidents", "incident_categories")


@pytest.fixture
def city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    """A small city with districts and a grid, ready for incidents."""
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    monkeypatch.setenv("CITYWALL_DATABASE_URL", url)
    monkeypatch.delenv("CITYWALL_TIMEZONE", raising=False)
    assert cli.main(["new-city", "--code", "TEST", "--name", "Testtown", "--timezone", "America/New_York"]) == 0
    assert cli.main(["import-areas", str(DATA / "neighbourhoods.geojson"), "--level", "street",
                     "--code-property", "hood_code", "--name-property", "hood", "--dissolve-property", "region"]) == 0
    assert cli.main(["make-grid", "--resolution", "9"]) == 0
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


def _fails(args: list[str], capsys: pytest.CaptureFixture) -> str:
    capsys.readouterr()
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_geojson_that_is_not_geojson(city: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    before = _counts(city)
    broken = tmp_path / "districts.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [\n  {"type": "Feature",,}\n]}')
    line = _fails(["import-areas", str(broken), "--level", "district", "--code-from-name", "--name-property", "n"],
                  capsys)
    assert str(broken) in line and "line 2 column" in line and "not JSON" in line
    csv_named = tmp_path / "layer.geojson"
    csv_named.write_text("code,name\n1,North\n")
    line = _fails(["import-areas", str(csv_named), "--level", "district", "--code-property", "code",
                   "--name-property", "name"], capsys)
    assert str(csv_named) in line and "not JSON" in line
    points = tmp_path / "points.geojson"
    points.write_text('{"type":"FeatureCollection","features":['
                      '{"type":"Feature","properties":{"n":"A"},"geometry":{"type":"Polygon","coordinates":'
                      '[[[0,0],[1,0],[1,1],[0,0]]]}},'
                      '{"type":"Feature","properties":{"n":"B"},"geometry":{"type":"Point","coordinates":[0,0]}}]}')
    line = _fails(["import-areas", str(points), "--level", "district", "--code-from-name", "--name-property", "n"],
                  capsys)
    assert f"{points}: feature 2: a Point, expected a Polygon or MultiPolygon" in line
    assert _counts(city) == before


def test_csv_missing_a_mapped_column(city: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    before = _counts(city)
    requests = tmp_path / "requests.csv"
    header = (NYC / "service_requests_2011_sample.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    requests.write_text(",".join(name for name in header if name != "Latitude") + "\n")  # an export without it
    line = _fails(["import-incidents", str(requests), "--mapping", str(DATA / "nyc311_mapping.toml")], capsys)
    assert line.startswith(f"citywall: {requests}: header: no column 'Latitude'")
    assert "nyc311_mapping.toml [columns] lat" in line
    assert _counts(city) == before
    assert not (tmp_path / "requests.rejects.csv").exists()


def test_mapping_naming_an_unknown_category(city: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    before = _counts(city)
    mapping = tmp_path / "mapping.toml"
    text = (DATA / "nyc311_mapping.toml").read_text(encoding="utf-8")
    mapping.write_text(text.replace('"Illegal Parking" = "illegal_parking"', '"Illegal Parking" = "ilegal_parking"'))
    requests = tmp_path / "requests.csv"
    shutil.copy(NYC / "service_requests_2011_sample.csv", requests)  # beside its rejects file, in tmp
    line = _fails(["import-incidents", str(requests), "--mapping", str(mapping)], capsys)
    assert line.startswith(f"citywall: {mapping}: [categories] 'illegal parking': unknown CityWall category"
                           " 'ilegal_parking'")
    assert _counts(city) == before  # not even the mapping's own [[category]] rows
    assert not (tmp_path / "requests.rejects.csv").exists()
