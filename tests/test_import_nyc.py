"""The real NYC 311 sample (999 requests) into a new city, through the ``citywall`` commands a
newcomer runs: boroughs as districts, an H3 grid, the mapping in tests/data. Counts are checked
against an independent pandas + shapely count of the CSV, and in Chromium on the map, the district
pages and the wall. One app server for the module."""
from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import shape

import cli
from components import ids
from data_access.db import make_engine
from importers.common import slug
from tests.conftest import NYC_DATA, AppProcess

NYC = NYC_DATA
CSV = NYC / "service_requests_2011_sample.csv"
BOROUGHS = NYC / "boroughs.geojson"
MAPPING = Path(__file__).resolve().parent / "data" / "nyc311_mapping.toml"
OPEN_STATUSES = {"Assigned", "Pending"}  # the sample's statuses other than "Closed"


@dataclass(frozen=True)
class City:
    url: str
    rejects: Path
    output: str
    engine: sa.Engine


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    folder = tmp_path_factory.mktemp("nyc")
    url = f"sqlite:///{folder / 'nyc.db'}"
    rejects = folder / "requests.rejects.csv"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CITYWALL_DATABASE_URL", url)
        mp.delenv("CITYWALL_TIMEZONE", raising=False)
        steps = [
            ["new-city", "--code", "NYC", "--name", "New York", "--name-en", "New York",
             "--timezone", "America/New_York"],
            ["import-areas", str(BOROUGHS), "--level", "district", "--code-from-name", "--name-property", "name",
             "--name-en-property", "name"],
            ["make-grid", "--resolution", "8"],
        ]
        for step in steps:
            assert cli.main(step) == 0, step
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert cli.main(["import-incidents", str(CSV), "--mapping", str(MAPPING), "--rejects", str(rejects)]) == 0
    engine = make_engine(url)
    yield City(url=url, rejects=rejects, output=out.getvalue(), engine=engine)
    engine.dispose()


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    """Per borough, counted without CityWall: pandas for the CSV, shapely's contains_xy for the
    borough polygons read straight from the file (repaired where invalid)."""
    frame = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    lat = pd.to_numeric(frame["Latitude"], errors="coerce")
    lon = pd.to_numeric(frame["Longitude"], errors="coerce")
    rows = []
    for feature in json.loads(BOROUGHS.read_text())["features"]:
        geom = shapely.make_valid(shape(feature["geometry"]))
        inside = pd.Series(shapely.contains_xy(geom, lon.fillna(0).to_numpy(), lat.fillna(0).to_numpy()),
                           index=frame.index) & lat.notna()
        rows.append({"code": slug(feature["properties"]["name"]), "name": feature["properties"]["name"],
                     "imported": int(inside.sum()),
                     "open": int((inside & frame["Status"].isin(OPEN_STATUSES)).sum()),
                     "by_borough_column": int((inside & (frame["Borough"] == feature["properties"]["name"].upper()))
                                              .sum())})
    return pd.DataFrame(rows).set_index("code")


def test_imported_and_rejected_add_up_to_the_input(city: City) -> None:
    with city.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT COUNT(*) FROM incidents")).scalar_one()
    with city.rejects.open(newline="", encoding="utf-8") as fh:
        rejected = sum(1 for _ in csv.DictReader(fh))
    assert stored + rejected == 999
    assert f"999 rows = {stored} imported ({stored} new, 0 updated) + {rejected} rejected" in city.output


def test_each_borough_matches_an_independent_count(city: City, expected: pd.DataFrame) -> None:
    with city.engine.connect() as conn:
        imported = dict(conn.execute(sa.text(
            "SELECT district_code, COUNT(*) FROM incidents GROUP BY district_code")).all())
        open_ = dict(conn.execute(sa.text(
            "SELECT area_code, open FROM v_incident_counts WHERE level = 'district'")).all())
    assert set(open_) == set(expected.index) == {"manhattan", "brooklyn", "queens", "bronx", "statenisland"}
    for code, row in expected.iterrows():
        assert imported.get(code, 0) == row["imported"], code
        assert open_[code] == row["open"], code
    assert expected["open"].sum() > 0
    # The data set's own claim: 703 of the 705 located requests lie inside their own borough.
    assert expected["by_borough_column"].sum() == 703


def test_rejects_file_gives_a_reason_for_every_row(city: City) -> None:
    source = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    rejects = pd.read_csv(city.rejects, dtype=str, keep_default_na=False)
    assert list(rejects.columns) == [*source.columns, "row", "reason"]
    assert (rejects["reason"] != "").all()
    no_coordinates = set(source.loc[source["Latitude"] == "", "Unique Key"])
    assert len(no_coordinates) == 294
    reasons = rejects.set_index("Unique Key")["reason"]
    for key in no_coordinates:
        assert reasons[key].startswith("no coordinates"), key
    # the original row, untouched, beside its reason
    first = rejects.iloc[0]
    original = source.iloc[int(first["row"]) - 1]
    assert list(first[source.columns]) == list(original)


def test_reimport_updates_instead_of_duplicating(city: City, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with city.engine.connect() as conn:
        before = conn.execute(sa.text("SELECT COUNT(*) FROM incidents")).scalar_one()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CITYWALL_DATABASE_URL", city.url)
        assert cli.main(["import-incidents", str(CSV), "--mapping", str(MAPPING),
                         "--rejects", str(tmp_path / "again.csv")]) == 0
    assert f"({0} new, {before} updated)" in capsys.readouterr().out
    with city.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM incidents")).scalar_one() == before


@pytest.fixture(scope="module")
def app(city: City) -> Iterator[AppProcess]:
    proc = AppProcess({"CITYWALL_DATABASE_URL": city.url, "CITYWALL_FEEDER": "0", "CITYWALL_LANG": "en",
                       "CITYWALL_TIMEZONE": "America/New_York", "CITYWALL_REFRESH_S": "2"})
    proc.start()
    yield proc
    proc.stop()


@pytest.mark.browser
def test_map_district_pages_and_wall_show_the_counts(browser, app: AppProcess, expected: pd.DataFrame) -> None:
    browser.driver.get(app.url + "/city")
    browser.wait_for_element("path.cw-area-manhattan", timeout=20)
    assert len(browser.find_elements("path.cw-area")) == 5
    for code, row in expected.iterrows():
        label = f'.cw-area-label .cw-tip[data-code="{code}"]'
        browser.wait_for_text_to_equal(f"{label} .cw-n-open", str(row["open"]), timeout=10)
    for code, row in expected.iterrows():
        browser.driver.get(f"{app.url}/district/{code}")
        browser.wait_for_text_to_equal('.kpi[data-kpi="open"] .kpi__value', str(row["open"]), timeout=15)
        assert row["name"] in browser.find_element(".cw-crumbs").text
    browser.driver.get(app.url + "/")
    open_kpi = f"#{ids.WALL_STRIP} div[id*='\"open\"'] .kpi__value"  # the pattern-matching id, as JSON text
    browser.wait_for_text_to_equal(open_kpi, str(expected["open"].sum()), timeout=15)
    assert browser.get_logs() == []
