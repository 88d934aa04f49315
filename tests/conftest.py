"""Shared fixtures: fresh, real databases (SQLite file, and PostgreSQL when configured), the app
in its own process, and Chromium with its viewport pinned.

PostgreSQL tests run when CITYWALL_TEST_POSTGRES_URL is set (CI sets it). Each database
fixture gets its own schema, as ``init_db`` leaves a new one (``InitialisedDatabases``: reused once
emptied, dropped when a test changed it). When the variable is set and the server is
unreachable the tests fail: a missing service must never turn into a quiet skip.

Every browser (``browser``, ``dash_duo``, ``dash_duo_mp``, ``dash_br``) starts each test with a
page of exactly ``VIEWPORT`` CSS pixels; a test that measures another screen calls
``pin_viewport(driver, width, height)``, or opens its page with ``open_at_size(url, size)``
(``page_overflow`` says whether it scrolls). A test that uses one of them must carry
``@pytest.mark.browser`` (collection fails otherwise), so ``pytest -m "not browser"`` is the fast
suite.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access.db import init_db, make_engine

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = PROJECT_ROOT / "tests" / "data"
NYC_DATA = TEST_DATA / "nyc311"  # the NYC 311 sample and the (simplified) boroughs: tests/data/nyc311/README.md
POSTGRES_URL = os.environ.get("CITYWALL_TEST_POSTGRES_URL", "").strip()
BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=[
        pytest.mark.postgres,
        pytest.mark.skipif(not POSTGRES_URL, reason="CITYWALL_TEST_POSTGRES_URL is not set"),
    ]),
]


def _postgres_schema_url(schema_name: str) -> str:
    url = sa.make_url(POSTGRES_URL)
    return url.update_query_dict({"options": f"-csearch_path={schema_name}"}).render_as_string(
        hide_password=False
    )


def _new_schema(admin: Engine) -> str:
    schema_name = f"cw_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema_name}")
    return schema_name


def _drop_schema(admin: Engine, schema_name: str) -> None:
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE")


def create_database(backend: str, tmp_dir: Path) -> tuple[str, Callable[[], None]]:
    """A new empty database: (url, cleanup)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / 'citywall-test.db'}", lambda: None
    admin = sa.create_engine(POSTGRES_URL)
    schema_name = _new_schema(admin)

    def cleanup() -> None:
        _drop_schema(admin, schema_name)
        admin.dispose()

    return _postgres_schema_url(schema_name), cleanup


# Everything about a PostgreSQL schema that a test could change besides its rows: its tables, views
# (their definitions), columns, triggers, functions and privileges. A schema given back with another
# signature than a fresh one's is dropped, never reused.
_PG_SIGNATURE = """
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
  SELECT 'rel ' || c.relname || ' ' || c.relkind::text || ' ' || coalesce(c.relacl::text, '') || ' '
         || CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) ELSE '' END AS x
  FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace
  UNION ALL
  SELECT 'col ' || c.relname || ' ' || a.attnum || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || ' ' || a.attnotnull::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
         || ' ' || coalesce(a.attacl::text, '')
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE c.relnamespace = current_schema()::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'trg ' || c.relname || ' ' || replace(pg_get_triggerdef(t.oid), current_schema() || '.', '') || ' '
         || t.tgenabled::text
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal
  UNION ALL
  SELECT 'fn ' || p.proname || ' ' || md5(p.prosrc) || ' ' || coalesce(p.proacl::text, '')
  FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace
  UNION ALL
  SELECT 'nsp ' || coalesce(nspacl::text, '') FROM pg_namespace WHERE oid = current_schema()::regnamespace
  UNION ALL
  SELECT 'dacl ' || defaclacl::text FROM pg_default_acl WHERE defaclnamespace = current_schema()::regnamespace
) s
"""


class _PostgresSchemas:
    """Initialised PostgreSQL schemas for the tests, reused: ``init_db`` on a new schema runs ~160 DDL
    statements (about a second on this machine), so a schema a test gives back is emptied instead
    (every row deleted, the rows a fresh ``init_db`` writes copied back from a pristine schema, the
    sequences set back) and handed to the next test. Only when its signature (``_PG_SIGNATURE``) is
    still a fresh one's: a test that altered a view, a table or a privilege gets its schema dropped."""

    def __init__(self) -> None:
        self.admin = sa.create_engine(POSTGRES_URL)
        self.pristine = _new_schema(self.admin)
        engine = make_engine(_postgres_schema_url(self.pristine))
        try:
            init_db(engine)
            with engine.connect() as conn:
                self.signature = conn.exec_driver_sql(_PG_SIGNATURE).scalar_one()
                self.tables = [row[0] for row in conn.exec_driver_sql(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")]
                self.filled = [t for t in self.tables
                               if conn.exec_driver_sql(f'SELECT EXISTS (SELECT 1 FROM "{t}")').scalar_one()]
                self.sequences = list(conn.exec_driver_sql(
                    "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema()"))
        finally:
            engine.dispose()
        self.free: list[str] = []
        self.made: list[str] = []

    def take(self) -> tuple[str, Callable[[], None]]:
        """(url, give back) of an initialised schema."""
        if self.free:
            schema_name = self.free.pop()
        else:
            schema_name = _new_schema(self.admin)
            self.made.append(schema_name)
            engine = make_engine(_postgres_schema_url(schema_name))
            try:
                init_db(engine)
            finally:
                engine.dispose()
        return _postgres_schema_url(schema_name), lambda: self._give_back(schema_name)

    def _give_back(self, schema_name: str) -> None:
        try:
            with self.admin.begin() as conn:
                conn.exec_driver_sql(f"SET LOCAL search_path TO {schema_name}")
                conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                if conn.exec_driver_sql(_PG_SIGNATURE).scalar_one() != self.signature:
                    raise ValueError("changed")
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # no trigger fires
                conn.exec_driver_sql("; ".join(f'DELETE FROM "{t}"' for t in self.tables))
                for table in self.filled:
                    conn.exec_driver_sql(f'INSERT INTO "{table}" SELECT * FROM {self.pristine}."{table}"')
                for name, last_value in self.sequences:
                    conn.execute(sa.text("SELECT setval(quote_ident(:name)::regclass, :value, :called)"),
                                 {"name": name, "value": last_value or 1, "called": last_value is not None})
        except (sa.exc.SQLAlchemyError, ValueError):
            self.made.remove(schema_name)
            _drop_schema(self.admin, schema_name)
            return
        self.free.append(schema_name)

    def close(self) -> None:
        for schema_name in [*self.made, self.pristine]:
            _drop_schema(self.admin, schema_name)
        self.admin.dispose()


class InitialisedDatabases:
    """Databases as ``init_db`` leaves a new one, made without its DDL each time: on SQLite a copy of
    a file initialised once per run, on PostgreSQL a reused schema (``_PostgresSchemas``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sqlite: Path | None = None
        self._postgres: _PostgresSchemas | None = None

    def create(self, backend: str, tmp_dir: Path) -> tuple[str, Callable[[], None]]:
        """An initialised database: (url, cleanup). Its roll-ups are rebuilt now, as ``init_db`` does
        on a new database: their overdue watermark is this moment, not the pristine copy's."""
        from data_access import incident_rollups
        from data_access.db import utc_now

        url, cleanup = self._copy(backend, tmp_dir)
        engine = make_engine(url)
        try:
            incident_rollups.rebuild(engine, now=utc_now())
        finally:
            engine.dispose()
        return url, cleanup

    def _copy(self, backend: str, tmp_dir: Path) -> tuple[str, Callable[[], None]]:
        if backend == "sqlite":
            if self._sqlite is None:
                pristine = self.folder / "pristine.db"
                engine = make_engine(f"sqlite:///{pristine}")
                init_db(engine)
                with engine.connect() as conn:  # everything in the file itself: a copy needs no -wal
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                engine.dispose()
                self._sqlite = pristine
            target = tmp_dir / "citywall-test.db"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self._sqlite, target)
            return f"sqlite:///{target}", lambda: None
        if self._postgres is None:
            self._postgres = _PostgresSchemas()
        return self._postgres.take()

    def close(self) -> None:
        if self._postgres is not None:
            self._postgres.close()


@pytest.fixture(scope="session")
def initialised_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InitialisedDatabases]:
    databases = InitialisedDatabases(tmp_path_factory.mktemp("pristine"))
    yield databases
    databases.close()


@pytest.fixture
def new_database(tmp_path: Path, initialised_databases: InitialisedDatabases) -> Iterator[Callable[[str], Engine]]:
    """Factory: new_database(backend) -> an initialised engine on a fresh database."""
    cleanups: list[Callable[[], None]] = []
    engines: list[Engine] = []

    def factory(backend: str) -> Engine:
        url, cleanup = initialised_databases.create(backend, tmp_path / f"db{len(engines)}")
        cleanups.append(cleanup)
        engine = make_engine(url)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.dispose()
    for cleanup in cleanups:
        cleanup()


def _scenario_city(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                   databases: InitialisedDatabases, minute: datetime | None) -> Iterator[Engine]:
    from tests.fixtures import SM, seed_scenario_city

    url, cleanup = databases.create(request.param, tmp_path_factory.mktemp("scenarios"))
    engine = make_engine(url)
    seed_scenario_city(engine, minute=minute or SM)
    yield engine
    engine.dispose()
    cleanup()


@pytest.fixture(params=BACKENDS)  # per test: its rows are minutes before now, and now moves on
def scenario_city(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  initialised_databases: InitialisedDatabases) -> Iterator[Engine]:
    """The hand-made scenario city (tests/fixtures.py seed_scenario_city) on SQLite and PostgreSQL, its
    times counted back from tests.fixtures.SM (the tests evaluating it at a given moment use SM too)."""
    yield from _scenario_city(request, tmp_path_factory, initialised_databases, None)


@pytest.fixture(params=BACKENDS)
def live_scenario_city(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                       initialised_databases: InitialisedDatabases) -> Iterator[Engine]:
    """The scenario city with its times counted back from this minute: for tests that read it through
    the app's real clock (SM is the minute tests.fixtures was imported, minutes earlier in a full run)."""
    from data_access.db import utc_now

    yield from _scenario_city(request, tmp_path_factory, initialised_databases, utc_now().replace(second=0))


VIEWPORT = (1920, 1080)  # the page every browser test starts with (CSS px): a 1080p wall screen
# the fixtures that drive Chromium
BROWSER_FIXTURES = frozenset({"browser", "second_browser", "dash_duo", "dash_duo_mp", "dash_br"})


def pytest_setup_options():  # dash[testing] hook: how dash_duo starts Chromium
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = os.environ.get("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")
    # The window size is the window's, frame included (1920x1080 gives a 1920x937 page): pin_viewport
    # sets the page's own size.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}"):
        options.add_argument(flag)
    return options


def pin_viewport(driver, width: int = VIEWPORT[0], height: int = VIEWPORT[1]) -> None:
    """Make the page exactly ``width`` x ``height`` CSS pixels (``window.innerWidth``/``innerHeight``),
    as on a wall screen of that size, the way ../shared/tools/shot.py does: the window first (so a
    screenshot has that size too), then the viewport through CDP ``Emulation.setDeviceMetricsOverride``,
    which holds for every later page of the tab."""
    driver.set_window_size(width, height)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def page_overflow(browser) -> list[int]:
    """How far the page reaches past its viewport, [down, right] in CSS px: [0, 0] is a page without
    scrollbars, as a wall screen must be."""
    return browser.driver.execute_script(
        "return [document.documentElement.scrollHeight - window.innerHeight,"
        " document.documentElement.scrollWidth - window.innerWidth]")


@pytest.fixture
def open_at_size(browser) -> Callable[..., None]:
    """open_at_size(url, (width, height)): ``url`` in the module's browser on a screen of that size
    (``pin_viewport`` first, so the page is laid out at it from its first frame), the page's size checked."""
    def open_page(url: str, size: tuple[int, int] = VIEWPORT) -> None:
        pin_viewport(browser.driver, *size)
        browser.driver.get(url)
        assert browser.driver.execute_script("return [window.innerWidth, window.innerHeight]") == list(size)

    return open_page


@pytest.hookimpl(tryfirst=True)  # before -m deselects anything: every collected test is checked
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse to run when a test drives Chromium without ``@pytest.mark.browser``: it would sit in
    the fast suite (``-m "not browser"``)."""
    unmarked = [item.nodeid for item in items
                if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))
                and item.get_closest_marker("browser") is None]
    if unmarked:
        raise pytest.UsageError(
            f"{len(unmarked)} test(s) use a browser fixture ({', '.join(sorted(BROWSER_FIXTURES))}) without "
            "@pytest.mark.browser (or a module-level pytestmark):\n  " + "\n  ".join(unmarked))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppProcess:
    """The real app in its own process (``create_app().run``), so a test can stop and restart
    the server the way an outage or a deploy would."""

    def __init__(self, env: dict[str, str], port: int | None = None) -> None:
        self.env = {**os.environ, **env}
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def startup_code(self) -> str:
        """The Python the server process runs (subclasses prepend to it)."""
        return f"from app import create_app; create_app().run(host='127.0.0.1', port={self.port})"

    ready_status = 200  # what /_dash-layout answers a stranger once the app is up (401 with auth on)

    def start(self, timeout: float = 30.0) -> None:
        # The server's log goes to a file, never a pipe: nobody reads a pipe while the test runs,
        # and once its 64 KB buffer fills the server blocks on its next log line (every request).
        self.log_path = Path(tempfile.mkstemp(prefix="citywall-app-", suffix=".log")[1])
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen([sys.executable, "-c", self.startup_code()], cwd=PROJECT_ROOT,
                                            env=self.env, stdout=subprocess.DEVNULL, stderr=log_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/_dash-layout", timeout=2):
                    if self.ready_status == 200:
                        return
                    raise RuntimeError("the app answered a stranger without authentication")
            except urllib.error.HTTPError as exc:
                if exc.code == self.ready_status:
                    return
                raise
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"app did not start: {self.log_tail()}")

    def log_tail(self, size: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-size:]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """One Chromium for a whole module (dash_duo is per test); drive it with dash.testing's API.
    Each test gets it back at ``VIEWPORT`` (``_browser_at_default_viewport``), whatever the last one pinned."""
    from dash.testing.browser import Browser

    with Browser(browser="Chrome", headless=True, options=request.config.hook.pytest_setup_options(),
                 download_path=str(tmp_path_factory.mktemp("download")), percy_run=False,
                 percy_finalize=False) as chrome:
        pin_viewport(chrome.driver)
        yield chrome


@pytest.fixture(autouse=True)
def _browser_at_default_viewport(request: pytest.FixtureRequest) -> None:
    for name in ("browser", "second_browser"):  # module-scoped: already set up, so the fixture order is unchanged
        if name in request.fixturenames:
            pin_viewport(request.getfixturevalue(name).driver)


# dash[testing]'s per-test browsers, pinned (each overrides the plugin's fixture of the same name).
@pytest.fixture
def dash_duo(dash_duo):
    pin_viewport(dash_duo.driver)
    return dash_duo


@pytest.fixture
def dash_duo_mp(dash_duo_mp):
    pin_viewport(dash_duo_mp.driver)
    return dash_duo_mp


@pytest.fixture
def dash_br(dash_br):
    pin_viewport(dash_br.driver)
    return dash_br


@pytest.fixture(scope="module")
def second_browser(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Another Chromium with its own cookies, for a test where two people (or a wall and a person)
    look at the same app at once; pinned like ``browser``."""
    from dash.testing.browser import Browser

    with Browser(browser="Chrome", headless=True, options=request.config.hook.pytest_setup_options(),
                 download_path=str(tmp_path_factory.mktemp("download2")), percy_run=False,
                 percy_finalize=False) as chrome:
        pin_viewport(chrome.driver)
        yield chrome


@pytest.fixture(params=BACKENDS)
def desk(request: pytest.FixtureRequest, new_database: Callable[[str], Engine]):
    """The operator-action tests' setting on each backend: the small city and its scenarios, and a
    ``tests.actions_desk.Desk`` that calls actions the way a page does."""
    from data_access.areas import Lineage
    from tests.actions_desk import Desk, read_catalogue, seed_scenarios
    from tests.fixtures import seed_small_city

    engine = new_database(request.param)
    seed_small_city(engine)
    seed_scenarios(engine)
    return Desk(engine=engine, lineage=Lineage(engine), catalogue=read_catalogue(engine))


# --- push (issue 16, item 1: pages/_push.py, assets/push.js) ---------------------------------------

PUSH_PORTS = (8172, 8173, 8174)  # the push helper's own range (a restart needs a port known in advance)
PUSH_SECRET = "5d1e8a3c7b9f2046e1a9c3b7d5f20864"


@pytest.fixture(scope="module")
def push_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The small city (tests/fixtures.py) on SQLite for the push tests, no feeder."""
    from tests.fixtures import seed_small_city

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('push') / 'push.db'}")
    init_db(engine)
    seed_small_city(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def push_users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An east-scoped supervisor, a city-wide admin and nothing else (kiosk tokens made per test)."""
    import security

    path = tmp_path_factory.mktemp("push-users") / "users.json"
    security.add_user(path, name="east_sup", password="east-pass", role="supervisor", scope="100100")
    security.add_user(path, name="chief", password="chief-pass", role="admin", scope=None)
    return path


@pytest.fixture(scope="module")
def push_app(push_city: Engine, push_users: Path):
    """The app in this process with basic auth and push on (1-second ticks), for Flask's test client."""
    from app import create_app
    from data_access.settings import Settings

    return create_app(Settings(database_url=str(push_city.url), feeder=False, refresh_s=1, auth="basic",
                               users_file=push_users, secret_key=PUSH_SECRET, transport="push"))


def push_process(engine: Engine, port: int, **env: str) -> AppProcess:
    """The app in its own process on ``port`` with push on and 1-second ticks."""
    return AppProcess({"CITYWALL_DATABASE_URL": str(engine.url), "CITYWALL_REFRESH_S": "1", "CITYWALL_FEEDER": "0",
                       "CITYWALL_LANG": "zh", "CITYWALL_TRANSPORT": "push", **env}, port=port)


class BlockedPushProcess(AppProcess):
    """The app behind something that refuses its push stream the way a proxy would (a 502 page for
    that path, everything else passed through)."""

    def startup_code(self) -> str:
        return ("from app import create_app\n"
                "app = create_app()\n"
                "inner = app.server.wsgi_app\n"
                "def blocking(environ, start_response):\n"
                "    if environ.get('PATH_INFO', '').startswith('/_citywall/push'):\n"
                "        start_response('502 Bad Gateway', [('Content-Type', 'text/html')])\n"
                "        return [b'<html><body>blocked by the proxy</body></html>']\n"
                "    return inner(environ, start_response)\n"
                "app.server.wsgi_app = blocking\n"
                f"app.run(host='127.0.0.1', port={self.port})\n")


# --- as-of reads (issue 15, the black box) ----------------------------------------------------------

@pytest.fixture(params=BACKENDS, scope="module")
def asof_city(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
              initialised_databases: InitialisedDatabases) -> Iterator[Engine]:
    """tests/asof_city.py's city on SQLite and PostgreSQL: its incidents and vital signs at the past
    minute ``tests.asof_city.T`` are written out there (and events after T an as-of read must ignore).
    One per module and backend: the tests only read it."""
    from tests.asof_city import seed_asof_city

    url, cleanup = initialised_databases.create(request.param, tmp_path_factory.mktemp("asof"))
    engine = make_engine(url)
    seed_asof_city(engine)
    yield engine
    engine.dispose()
    cleanup()


# --- the replay (issue 15): the as-of city served by the real app -------------------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def replay_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
               initialised_databases: InitialisedDatabases) -> Iterator:
    """tests/asof_city.py's city (its state at the past minute ``T`` written out there) behind the real
    Dash app (no feeder), on SQLite and PostgreSQL: (app, engine)."""
    from app import create_app
    from data_access.settings import Settings
    from tests.asof_city import seed_asof_city

    url, cleanup = initialised_databases.create(request.param, tmp_path_factory.mktemp("replay"))
    engine = make_engine(url)
    seed_asof_city(engine)
    yield create_app(Settings(database_url=url, feeder=False, refresh_s=1, lang="zh")), engine
    engine.dispose()
    cleanup()


# --- the shift log (issue 15) --------------------------------------------------------------------------

@pytest.fixture(params=BACKENDS)
def log_day(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            initialised_databases: InitialisedDatabases) -> Iterator[tuple]:
    """A simulated day for the shift log (tests/fixtures.py seed_log_day) on SQLite and PostgreSQL:
    (engine, url, minute), its times counted back from ``minute``, the minute it was written."""
    from data_access.db import utc_now
    from tests.fixtures import seed_log_day

    url, cleanup = initialised_databases.create(request.param, tmp_path_factory.mktemp("shift-log"))
    engine = make_engine(url)
    minute = utc_now().replace(second=0)
    seed_log_day(engine, minute=minute)
    yield engine, url, minute
    engine.dispose()
    cleanup()


# --- the wall fleet (issue 15, item 4): runtimes on one shared row store -------------------------------
FLEET_REDIS_URL = os.environ.get("CITYWALL_TEST_REDIS_URL", "").strip()
FLEET_STORES = ["memory", pytest.param("redis", marks=pytest.mark.skipif(
    not FLEET_REDIS_URL, reason="CITYWALL_TEST_REDIS_URL is not set"))]


def clear_fleet_keys(redis_url: str) -> None:
    """Forget the fleet's rows and events in the test Redis (only those keys: others share the db)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.ping()  # set but unreachable: the test fails, never skips
    client.delete("citywall:rows:fleet", "citywall:rows:fleet:at", "citywall:events:fleet-events")


@pytest.fixture(params=FLEET_STORES)
def fleet_runtimes(request: pytest.FixtureRequest) -> Iterator[Callable[..., object]]:
    """Makes app runtimes (``CityWallRuntime``) with the tick cache of one backend: on "redis" every
    runtime made shares the one Redis (two app instances, two hosts); on "memory" each is its own."""
    from data_access.cache import build_cache
    from data_access.runtime import CityWallRuntime
    from data_access.settings import Settings

    redis_url = FLEET_REDIS_URL if request.param == "redis" else ""
    if redis_url:
        clear_fleet_keys(redis_url)
    engines: list[Engine] = []

    def make(refresh_s: float = 1.0) -> CityWallRuntime:
        settings = Settings(database_url="sqlite://", refresh_s=refresh_s, redis_url=redis_url)
        engine = make_engine("sqlite://")
        engines.append(engine)
        return CityWallRuntime(settings=settings, engine=engine, cache=build_cache(settings, version="test"),
                               version="test", lineage=None)  # type: ignore[arg-type]

    yield make
    for engine in engines:
        engine.dispose()
    if redis_url:
        clear_fleet_keys(redis_url)


class FleetApps:
    """Two app processes on one database and one Redis (two hosts behind a load balancer), with
    CITYWALL_AUTH=basic and a users file the test adds kiosk tokens to."""

    def __init__(self, first: AppProcess, second: AppProcess, users: Path) -> None:
        self.first, self.second, self.users = first, second, users


class _AuthApp(AppProcess):
    ready_status = 401  # an authenticated app answers a stranger 401


@pytest.fixture(scope="module")
def fleet_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetApps]:
    from data_access import schema
    from tests.fixtures import seed_small_city

    if not FLEET_REDIS_URL:
        raise pytest.UsageError("the wall fleet's browser test needs CITYWALL_TEST_REDIS_URL (two hosts share Redis)")
    clear_fleet_keys(FLEET_REDIS_URL)
    folder = tmp_path_factory.mktemp("fleet")
    engine = make_engine(f"sqlite:///{folder / 'fleet.db'}")
    init_db(engine)
    seed_small_city(engine)
    with engine.begin() as conn:  # one scenario, manual and not started: its board exists, no wall is taken over
        conn.execute(schema.scenarios.insert().values(scenario_id="parade", name="大客流", name_en="Large crowd",
                                                      area_level="district", activation_kind="manual", sort_order=1))
    engine.dispose()
    users = folder / "users.json"
    env = {"CITYWALL_DATABASE_URL": f"sqlite:///{folder / 'fleet.db'}", "CITYWALL_REFRESH_S": "1",
           "CITYWALL_FEEDER": "0", "CITYWALL_LANG": "en", "CITYWALL_AUTH": "basic", "CITYWALL_USERS_FILE": str(users),
           "CITYWALL_SECRET_KEY": "5e1f0a9c3b7d2e4f6a8c0b1d3e5f7a9c", "CITYWALL_REDIS_URL": FLEET_REDIS_URL}
    import security

    security.add_user(users, name="chief", password="chief-pass", role="admin", scope=None)
    # CITYWALL_TEST_PORT_BASE pins the two servers' ports (a shared machine's own range), else free ones
    base = int(os.environ.get("CITYWALL_TEST_PORT_BASE", "0") or 0)
    first, second = _AuthApp(env, port=base or None), _AuthApp(env, port=base + 1 if base else None)
    first.start()
    try:
        second.start()
        yield FleetApps(first, second, users)
    finally:
        second.stop()
        first.stop()
        clear_fleet_keys(FLEET_REDIS_URL)


# --- incident count roll-ups (issue 16) ------------------------------------------------------------

@pytest.fixture(params=BACKENDS)
def rollup_city(request: pytest.FixtureRequest, new_database: Callable[[str], Engine]) -> Engine:
    """The small city (tests.fixtures.seed_small_city: nine incidents, written through the roll-up
    triggers) on each backend."""
    from tests.fixtures import seed_small_city

    engine = new_database(request.param)
    seed_small_city(engine)
    return engine


@pytest.fixture(params=BACKENDS)
def rollup_pack_city(request: pytest.FixtureRequest, new_database: Callable[[str], Engine]) -> Engine:
    """The demo pack's city (Shanghai: districts, streets, grid, categories), no incidents yet."""
    from data_access.settings import DEFAULT_PACK
    from feeder.pack import load_city_pack

    engine = new_database(request.param)
    load_city_pack(engine, pack_dir=DEFAULT_PACK)
    return engine


@pytest.fixture(params=BACKENDS)
def rollup_town(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """tests.town's city with its neighbourhoods and grid, for the importer's roll-up test."""
    from tests.town import town

    with town(request.param, tmp_path, grid=True) as engine:
        yield engine


# --- the maps' push (issue 16, item 1: pages/_push_map.py) ------------------------------------------

@pytest.fixture(params=BACKENDS, scope="module")
def push_map_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, push_users: Path):
    """The small city on each backend and the app in this process on it (basic auth, push on,
    1-second ticks), for Flask's test client: (app, engine)."""
    from app import create_app
    from data_access.settings import Settings
    from tests.fixtures import seed_small_city

    url, cleanup = create_database(request.param, tmp_path_factory.mktemp("push-map"))
    engine = make_engine(url)
    init_db(engine)
    seed_small_city(engine)
    app = create_app(Settings(database_url=url, feeder=False, refresh_s=1, auth="basic", users_file=push_users,
                              secret_key=PUSH_SECRET, transport="push"))
    yield app, engine
    from pages._runtime import EXTENSION_KEY

    app.server.extensions[EXTENSION_KEY].engine.dispose()  # before its schema is dropped
    engine.dispose()
    cleanup()


@pytest.fixture(scope="module")
def push_map_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The Shanghai pack's shapes and tests.test_incident_queries' incidents on SQLite, no feeder: a
    city whose maps draw labels (the push browser tests read the maps' counts from them)."""
    from tests.test_incident_queries import seed_map_city

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('push-map-city') / 'map.db'}")
    init_db(engine)
    seed_map_city(engine)
    yield engine
    engine.dispose()
