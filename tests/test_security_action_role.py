"""The action role (``citywall db create-action-role``): what a read-only deployment's actions engine
(CITYWALL_ACTIONS_DATABASE_URL) runs as. Connected as that role, an operator action is written
and read back through v_operator_actions; UPDATE and DELETE of the audit, reads of the base table,
and every other table or view are refused. PostgreSQL runs when CITYWALL_TEST_POSTGRES_URL is set
(and fails, never skips, if that server is down); on SQLite the command says there are no roles."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from actions import messages as m
from actions.service import mark_step
from actions.store import ActionRow, record_action
from actions.tokens import Purpose, action_form
from data_access.areas import Lineage
from data_access.db import init_db, make_engine, utc_now
from tests.actions_desk import CHIEF, KEY, STATE, read_catalogue, seed_scenarios
from tests.conftest import BACKENDS, POSTGRES_URL, PROJECT_ROOT, create_database
from tests.fixtures import seed_small_city
from tests.test_import_own_database import DOC_SCHEMA, doc_sql_blocks

POSTGRES = [p for p in BACKENDS if getattr(p, "values", None) == ("postgresql",)]


def _cli(*args: str, url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "cli.py", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "CITYWALL_DATABASE_URL": url})


@pytest.fixture(scope="module", params=POSTGRES)
def action_role(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """(admin url, action-role url, role name) of a fresh schema holding the small city and its scenarios."""
    admin_url, cleanup = create_database(request.param, tmp_path_factory.mktemp("act"))
    engine = make_engine(admin_url)
    init_db(engine)
    seed_small_city(engine)
    seed_scenarios(engine)
    role = f"cw_act_{uuid.uuid4().hex[:10]}"
    result = _cli("db", "create-action-role", "--name", role, url=admin_url)
    assert result.returncode == 0, result.stderr
    assert f"role {role}: INSERT on" in result.stdout and "WARNING" not in result.stdout, result.stdout
    again = _cli("db", "create-action-role", "--name", role, url=admin_url)
    assert again.returncode == 0 and "WARNING" not in again.stdout, again.stderr + again.stdout  # idempotent
    role_url = sa.make_url(admin_url).set(username=role, password=None).render_as_string(hide_password=False)
    yield admin_url, role_url, role
    engine.dispose()
    cleanup()
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP OWNED BY {role}")
        conn.exec_driver_sql(f"DROP ROLE {role}")
    admin.dispose()


def test_an_action_is_written_through_the_action_role(action_role: tuple[str, str, str]) -> None:
    admin_url, role_url, role = action_role
    admin = make_engine(admin_url)
    engine = make_engine(role_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar_one() == role
        now = utc_now()
        activation = STATE.activation("flood", "100100").key
        form = action_form(key=KEY, principal=CHIEF, now=now,
                           purpose=Purpose("step", "flood", "100100", step_id="pumps", activation=activation))
        # the catalogue and the lineage come from the app's (read) engine; the checks' reads of
        # v_operator_actions and the INSERT go through the action role
        done = mark_step(engine=engine, key=KEY, principal=CHIEF, screen="/scenario/flood/100100 desk", now=now,
                         state=STATE, catalogue=read_catalogue(admin), lineage=Lineage(admin), scenario_id="flood",
                         area_code="100100", step_id="pumps", step_state="done", comment="through the narrow role",
                         activation=activation, **form)
        assert done.ok and done.message_key == m.STEP_DONE
        again = mark_step(engine=engine, key=KEY, principal=CHIEF, screen="/scenario/flood/100100 desk", now=now,
                          state=STATE, catalogue=read_catalogue(admin), lineage=Lineage(admin), scenario_id="flood",
                          area_code="100100", step_id="pumps", step_state="done", activation=activation, **form)
        assert again.message_key == m.REPLAYED  # the UNIQUE request id, through the role too
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT action_id, principal, comment FROM v_operator_actions")).all()
        assert [tuple(r) for r in rows] == [(done.action_id, "chief", "through the narrow role")]
        second = record_action(engine, ActionRow(at=now, principal="chief", role="admin", screen="test", kind="step",
                                                 scenario_id="flood", area_code="100200", request_id="b" * 32,
                                                 step_id="pumps", step_state="skipped"))
        assert second == done.action_id + 1  # its sequence is usable
    finally:
        engine.dispose()
        admin.dispose()


@pytest.mark.parametrize("statement", [
    "UPDATE operator_actions SET comment = 'rewritten'",
    "DELETE FROM operator_actions",
    "TRUNCATE operator_actions",
    "SELECT count(*) FROM operator_actions",  # the base table is not readable: the view is
    "INSERT INTO operator_actions (at, principal, role, screen, kind, scenario_id, area_code, request_id)"
    " VALUES (now(), 'x', 'admin', 's', 'step', 'flood', '100100', 'cccccccccccccccccccc') RETURNING action_id",
    "INSERT INTO readings (indicator_id, area_code, ts, value) VALUES ('aqi', '100000', now(), 1)",
    "UPDATE incidents SET status = 'closed'",
    "DELETE FROM scenarios",
    "INSERT INTO scenario_steps (scenario_id, step_id, text, role) VALUES ('flood', 'x', 'x', 'leader')",
    "SELECT count(*) FROM v_areas",  # not even the views the pages read
    "SELECT count(*) FROM v_scenarios",
    "SELECT count(*) FROM readings",
    "CREATE TABLE evil (x int)",
    "DROP VIEW v_operator_actions",
])
def test_everything_else_is_refused_to_the_action_role(action_role: tuple[str, str, str], statement: str) -> None:
    _admin, role_url, _role = action_role
    engine = make_engine(role_url)
    try:
        with pytest.raises(sa.exc.DBAPIError) as failure, engine.begin() as conn:
            conn.exec_driver_sql(statement)
        assert "permission denied" in str(failure.value) or "must be owner" in str(failure.value), failure.value
        with engine.begin() as conn:  # and its one write still works
            conn.execute(sa.text(
                "INSERT INTO operator_actions (at, principal, role, screen, kind, scenario_id, area_code, request_id)"
                " VALUES (now(), 'probe', 'admin', 'test', 'step', 'flood', '100100', :r)"), {"r": uuid.uuid4().hex})
    finally:
        engine.dispose()


def test_a_read_only_role_is_not_turned_into_an_action_role(action_role: tuple[str, str, str]) -> None:
    admin_url, _role_url, _role = action_role
    readonly = f"cw_ro_{uuid.uuid4().hex[:10]}"
    try:
        assert _cli("db", "create-readonly-role", "--name", readonly, url=admin_url).returncode == 0
        refused = _cli("db", "create-action-role", "--name", readonly, url=admin_url)
        assert refused.returncode == 2 and "is a read-only role" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        admin = sa.create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {readonly}")
            conn.exec_driver_sql(f"DROP ROLE {readonly}")
        admin.dispose()


@pytest.mark.parametrize("backend", POSTGRES)
def test_the_own_database_docs_action_table_and_role_take_an_action(backend: str) -> None:
    """docs/own-database.md as written (the city's tables, the views with operator_actions and its
    view, the reader, and Step 4's citywall_actions) in a schema of its own: an action goes in
    through the action role, which can do nothing else, and the reader reads it back."""
    tables, views, reader, actions_sql = doc_sql_blocks()
    schema = f"cw_own_act_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        conn.exec_driver_sql(f"SET LOCAL search_path TO {schema}")
        for block in (tables, views, reader, actions_sql):
            conn.exec_driver_sql(block.replace(f"SCHEMA {DOC_SCHEMA}", f"SCHEMA {schema}"))
    url = sa.make_url(POSTGRES_URL).set(username="citywall_actions", password=None).update_query_dict(
        {"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        row = ActionRow(at=utc_now(), principal="chief", role="admin", screen="/scenario/flood/MN desk",
                        kind="manual_start", scenario_id="flood", area_code="MN", request_id="d" * 32)
        action_id = record_action(engine, row)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT principal, kind FROM v_operator_actions WHERE action_id = :a"),
                                {"a": action_id}).one() == ("chief", "manual_start")
        for statement in ("DELETE FROM operator_actions", "SELECT count(*) FROM v_areas",
                          "SELECT count(*) FROM sr_request"):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), engine.begin() as conn:
                conn.exec_driver_sql(statement)
        reader = make_engine(url.set(username="citywall_reader").render_as_string(hide_password=False))
        with reader.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM v_operator_actions")).scalar_one() == 1
        reader.dispose()
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_on_sqlite_the_command_says_there_are_no_roles(tmp_path) -> None:
    url, _cleanup = create_database("sqlite", tmp_path)
    init_db(make_engine(url))
    result = _cli("db", "create-action-role", "--name", "citywall_actions", url=url)
    assert result.returncode == 2
    assert "SQLite has no roles" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
