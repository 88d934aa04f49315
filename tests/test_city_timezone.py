"""The city's own time zone (issue 14, item 1): the zone ``citywall new-city --timezone`` records is
the default of ``citywall init-db``, the import commands and ``python app.py`` (the views' "today"
and the app's clocks), on SQLite and PostgreSQL; a CITYWALL_TIMEZONE that contradicts it is used,
with exactly one line saying so. The zone is read at start-up, never at import time."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import cli
from data_access.db import make_engine
from data_access.settings import Settings
from feeder import demo
from tests.conftest import BACKENDS, PROJECT_ROOT, create_database

ZONE = "America/Los_Angeles"  # 15-16 hours from the old default, Asia/Shanghai


@pytest.fixture(params=BACKENDS)
def city_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url, cleanup = create_database(request.param, tmp_path)
    monkeypatch.setenv("CITYWALL_DATABASE_URL", url)
    monkeypatch.delenv("CITYWALL_TIMEZONE", raising=False)
    assert cli.main(["new-city", "--code", "LA", "--name", "Los Angeles", "--timezone", ZONE]) == 0
    yield url
    cleanup()


def _view_zone(engine: Engine) -> str:
    """The zone the built v_incident_counts computes "today" in."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = 'v_incident_counts'")).scalar_one()
        else:
            sql = conn.execute(sa.text("SELECT pg_get_viewdef('v_incident_counts'::regclass)")).scalar_one()
    for zone in (ZONE, "Asia/Shanghai", "Europe/Paris"):
        if zone in sql:
            return zone
    raise AssertionError(sql[:500])


def test_init_db_without_the_setting_keeps_the_city_zone(city_url: str, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    assert cli.main(["init-db"]) == 0
    engine = make_engine(city_url)
    try:
        assert _view_zone(engine) == ZONE
    finally:
        engine.dispose()
    assert cli.main(["import-areas", str(Path(__file__).parent / "data" / "neighbourhoods.geojson"), "--level",
                     "street", "--code-property", "hood_code", "--name-property", "hood",
                     "--dissolve-property", "region"]) == 0
    assert capsys.readouterr().err == ""  # nothing to say: no setting contradicts the city
    engine = make_engine(city_url)
    try:
        assert _view_zone(engine) == ZONE
    finally:
        engine.dispose()


def test_a_contradicting_setting_gets_one_line(city_url: str, capsys: pytest.CaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYWALL_TIMEZONE", "Europe/Paris")
    capsys.readouterr()
    assert cli.main(["init-db"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "CITYWALL_TIMEZONE=Europe/Paris" in err[0] and ZONE in err[0] and "new-city" in err[0]
    engine = make_engine(city_url)
    try:
        assert _view_zone(engine) == "Europe/Paris"  # the setting says so, and the line said it
    finally:
        engine.dispose()


def test_python_app_py_serves_in_the_city_zone(city_url: str, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("CITYWALL_FEEDER", "0")
    served: list[Settings] = []
    monkeypatch.setattr(demo, "serve", lambda _app, _settings: None)  # the settings are what we check

    def create_app(settings: Settings) -> object:
        served.append(settings)
        return object()

    assert demo.run_demo(create_app) == 0
    assert served[0].timezone == ZONE and served[0].tz.key == ZONE
    engine = make_engine(city_url)
    try:
        assert _view_zone(engine) == ZONE
    finally:
        engine.dispose()
    monkeypatch.setenv("CITYWALL_TIMEZONE", "Asia/Shanghai")
    capsys.readouterr()
    assert demo.run_demo(create_app) == 0
    assert served[1].timezone == "Asia/Shanghai"
    err = [line for line in capsys.readouterr().err.splitlines() if "CITYWALL_TIMEZONE" in line]
    assert len(err) == 1 and ZONE in err[0], err


def test_the_zone_is_not_read_at_import_time() -> None:
    code = ("import sqlalchemy as sa\n"
            "def refuse(*a, **k): raise SystemExit('a database was opened at import time')\n"
            "sa.create_engine = refuse\n"
            "import app, cli, data_access.db, feeder.demo, feeder.loop\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_gunicorns_app_takes_the_city_zone(city_url: str) -> None:
    """``gunicorn app:server`` builds the app from the environment alone: the recorded zone is its default too."""
    from app import create_app
    from pages._runtime import current_runtime

    app = create_app(Settings(database_url=city_url, feeder=False))
    with app.server.app_context():
        assert current_runtime().settings.timezone == ZONE
