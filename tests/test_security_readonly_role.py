"""The read-only PostgreSQL role (``citywall db create-readonly-role``): the real app runs as it and
serves the wall; the role can SELECT the v_* views only, and every write through its connection
fails. Runs when CITYWALL_TEST_POSTGRES_URL is set (and fails, never skips, if that server is down)."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app import create_app
from data_access.db import init_db, make_engine
from data_access.settings import Settings
from tests.conftest import BACKENDS, POSTGRES_URL, PROJECT_ROOT, create_database
from tests.fixtures import seed_small_city
from tests.test_security_auth import wall_payload

POSTGRES = [p for p in BACKENDS if getattr(p, "values", None) == ("postgresql",)]


@pytest.fixture(scope="module", params=POSTGRES)
def readonly(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(admin url, read-only url) of a fresh schema holding the small city."""
    admin_url, cleanup = create_database(request.param, tmp_path_factory.mktemp("ro"))
    engine = make_engine(admin_url)
    init_db(engine)
    seed_small_city(engine)
    role = f"cw_ro_{uuid.uuid4().hex[:10]}"
    result = subprocess.run([sys.executable, "cli.py", "db", "create-readonly-role", "--name", role],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "CITYWALL_DATABASE_URL": admin_url})
    assert result.returncode == 0, result.stderr
    assert f"role {role}: SELECT on" in result.stdout and "WARNING" not in result.stdout, result.stdout
    again = subprocess.run([sys.executable, "cli.py", "db", "create-readonly-role", "--name", role],
                           cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "CITYWALL_DATABASE_URL": admin_url})
    assert again.returncode == 0, again.stderr  # idempotent
    ro_url = sa.make_url(admin_url).set(username=role, password=None).render_as_string(hide_password=False)
    yield admin_url, ro_url
    engine.dispose()
    cleanup()
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP OWNED BY {role}")
        conn.exec_driver_sql(f"DROP ROLE {role}")
    admin.dispose()


def test_the_app_runs_as_the_readonly_role(readonly: tuple[str, str]) -> None:
    _admin, ro_url = readonly
    app = create_app(Settings(database_url=ro_url, feeder=False, refresh_s=1))
    client = app.server.test_client()
    tick = client.post("/_dash-update-component", json=wall_payload(app, "100100"))
    assert tick.status_code == 200
    response = tick.get_json()["response"]
    assert response["status-store"]["data"]["ok"] is True
    assert "130" in str(response)  # the east's power load, read through the views
    engine = app.server.extensions["citywall"].engine
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar_one().startswith("cw_ro_")


@pytest.mark.parametrize("statement", [
    "INSERT INTO readings (indicator_id, area_code, ts, value) VALUES ('aqi', '100000', now(), 1)",
    "UPDATE incidents SET status = 'closed'",
    "DELETE FROM areas",
    "SELECT count(*) FROM readings",  # base tables are not readable either
    "SELECT count(*) FROM incidents",
    "CREATE TABLE evil (x int)",
    "DROP VIEW v_areas",
])
def test_writes_and_base_tables_are_refused(readonly: tuple[str, str], statement: str) -> None:
    _admin, ro_url = readonly
    engine = make_engine(ro_url)  # no read-only session setting of the app's own: the role alone must refuse
    try:
        with pytest.raises(sa.exc.DBAPIError) as failure, engine.begin() as conn:
            conn.exec_driver_sql("SET TRANSACTION READ WRITE")  # even asking for a read-write transaction
            conn.exec_driver_sql(statement)
        assert "permission denied" in str(failure.value) or "must be owner" in str(failure.value)
        with engine.connect() as conn:  # and the views stay readable
            assert conn.execute(sa.text("SELECT count(*) FROM v_areas")).scalar_one() == 6
    finally:
        engine.dispose()


def test_the_apps_own_sessions_are_read_only_too(readonly: tuple[str, str]) -> None:
    """Defence in depth: even as the admin role, the app's engine cannot write."""
    admin_url, _ro = readonly
    app = create_app(Settings(database_url=admin_url, feeder=False))
    engine = app.server.extensions["citywall"].engine
    with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"), engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM readings")
