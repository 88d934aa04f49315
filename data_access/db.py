"""Engine creation and ``init_db``: the one idempotent function that creates CityWall's demo
tables, its indexes and every ``v_*`` view on SQLite or PostgreSQL."""
from __future__ import annotations

import dataclasses
import hashlib
import re
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.errors import first_line
from data_access.settings import PROJECT_ROOT, Settings

VIEWS_PACKAGE = "data_access.views"
SQLITE_BUSY_TIMEOUT_MS = 5000
_MACRO = re.compile(r"\{\{([A-Z_]+)(?::([^{}]*))?\}\}")
_SAFE_TZ = re.compile(r"^[A-Za-z0-9_+\-/]+$")
CITY_TIMEZONE_KEY = "city_timezone"  # citywall_meta key: the zone `citywall new-city --timezone` recorded


class DatabaseUnavailable(RuntimeError):
    """The database named by CITYWALL_DATABASE_URL cannot be reached; str() is one clear line."""


def safe_url(engine_or_url: Engine | str | sa.URL) -> str:
    """The URL with any password masked, for messages and logs."""
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else sa.make_url(engine_or_url)
    return url.render_as_string(hide_password=True)


def sqlite_day_start_utc(tz_name: str) -> str:
    """UTC text of the current local day's midnight in ``tz_name`` (registered in SQLite as
    ``cw_day_start_utc``: SQLite has no time-zone database, Python's zoneinfo does)."""
    tz = ZoneInfo(tz_name)
    local_now = datetime.now(tz)
    midnight = datetime.combine(local_now.date(), time(0), tzinfo=tz)
    return midnight.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def make_engine(url: str, *, pool_size: int = 5, statement_timeout_s: float | None = None,
                read_only: bool = False) -> Engine:
    """An engine tuned for CityWall: pre-ping (survives database restarts), SQLite in WAL mode
    with a busy timeout so the feeder's writes never block the wall's reads for long.

    ``statement_timeout_s`` bounds every statement (PostgreSQL ``statement_timeout``; SQLite: a
    progress handler that interrupts a statement running longer); ``read_only`` makes every
    session read-only (PostgreSQL ``default_transaction_read_only``, SQLite ``query_only``).
    The app's engine sets both (``engine_from_settings``); the feeder and importers set neither.
    PostgreSQL sessions run without JIT and without parallel workers (see below)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            # "deterministic" lets SQLite evaluate it once per statement instead of once per row (its
            # value only changes at local midnight).
            dbapi_conn.create_function("cw_day_start_utc", 1, sqlite_day_start_utc, deterministic=True)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA synchronous=NORMAL")
            if read_only:
                cur.execute("PRAGMA query_only=ON")
            cur.close()

        if statement_timeout_s:
            _sqlite_statement_guard(engine, statement_timeout_s)
        return engine
    engine = sa.create_engine(parsed, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)

    @sa.event.listens_for(engine, "connect")
    def _on_pg_connect(dbapi_conn: object, _record: object) -> None:
        # Session settings outside any transaction, so a pool reset (rollback) keeps them.
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        with dbapi_conn.cursor() as cur:
            # No JIT and no parallel workers: the views' branches that never run (the plain counts
            # beside the roll-ups) are costed as if they did, which pushed the wall's 50 ms strip
            # past jit_above_cost (250 ms of compiling at 1,000,000 incidents, seconds at
            # 10,000,000 with optimizing and inlining), and its roll-up reads (a few hundred rows)
            # into Gather nodes whose workers took 20-40 ms to start on a busy machine. A higher
            # parallel_setup_cost was not enough: the generic plan of a prepared read (psycopg
            # prepares what the app repeats) cannot prune by the area and still gathers.
            # docs/performance.md, "Incident counts at city scale".
            cur.execute("SET jit = off")
            cur.execute("SET max_parallel_workers_per_gather = 0")
            if statement_timeout_s:
                cur.execute(f"SET statement_timeout = {max(1, int(statement_timeout_s * 1000))}")
            if read_only:
                cur.execute("SET default_transaction_read_only = on")
        dbapi_conn.autocommit = autocommit
    return engine


SQLITE_GUARD_STEPS = 500_000  # VM instructions between two looks at the clock (~25 ms of work): each look
# takes the GIL, so a finer guard slows the long reads and every request thread of the worker


def _sqlite_statement_guard(engine: Engine, timeout_s: float) -> None:
    """Interrupt any SQLite statement (and the fetching of its rows) running longer than
    ``timeout_s``: it fails with ``OperationalError: interrupted`` instead of holding a worker."""
    import time as _time

    @sa.event.listens_for(engine, "connect")
    def _install(dbapi_conn: sqlite3.Connection, record: object) -> None:
        state = {"deadline": None}
        record.info["cw_guard"] = state

        def handler() -> int:
            deadline = state["deadline"]
            return 1 if deadline is not None and _time.monotonic() > deadline else 0

        dbapi_conn.set_progress_handler(handler, SQLITE_GUARD_STEPS)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _arm(conn: sa.Connection, *_args: object) -> None:
        state = conn.connection.info.get("cw_guard")
        if state is not None:
            state["deadline"] = _time.monotonic() + timeout_s

    @sa.event.listens_for(engine, "checkin")
    def _disarm(_dbapi_conn: object, record: object) -> None:
        state = record.info.get("cw_guard") if record is not None else None
        if state is not None:
            state["deadline"] = None


def engine_from_settings(settings: Settings) -> Engine:
    """The app's engine: read-only sessions, every statement bounded by the statement timeout."""
    return make_engine(settings.database_url, statement_timeout_s=settings.statement_timeout_s, read_only=True)


def check_database(engine: Engine) -> None:
    """Raise DatabaseUnavailable with one line naming the URL and the reason if it is unreachable."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.SQLAlchemyError as exc:
        first = first_line(getattr(exc, "orig", None) or exc)
        raise DatabaseUnavailable(f"cannot reach database {safe_url(engine)}: {first}") from None


# --- the city's own time zone ----------------------------------------------------------------------

def recorded_timezone(engine: Engine) -> str | None:
    """The zone ``citywall new-city`` recorded in ``citywall_meta``; None when there is none (the
    Shanghai demo, a city on its own database) or the role may not read the table."""
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(schema.meta.name):
                return None
            return conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == CITY_TIMEZONE_KEY)
                                ).scalar_one_or_none()
    except sa.exc.SQLAlchemyError:  # e.g. a read-only role granted the views only
        return None


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def city_settings(settings: Settings, engine: Engine, *, warn: Callable[[str], None] = _stderr_line) -> Settings:
    """The settings with the city's recorded time zone, read at start-up (the CLI, ``python app.py``,
    the feeder): it is the default; a CITYWALL_TIMEZONE that contradicts it is kept, with one line."""
    if settings.city_timezone:  # already read (and any contradiction said) at this start-up
        return settings
    recorded = recorded_timezone(engine)
    if not recorded:
        return settings
    checked = dataclasses.replace(settings, city_timezone=recorded)
    if recorded == settings.timezone:
        return checked
    if not settings.timezone_set:
        return dataclasses.replace(checked, timezone=recorded)
    warn(f"citywall: CITYWALL_TIMEZONE={settings.timezone} contradicts the city's time zone {recorded}"
         f" (recorded by citywall new-city); using {settings.timezone} for \"today\" and clocks. Unset it, or"
         f" record the new zone: citywall new-city --code … --name … --timezone {settings.timezone}")
    return checked


# --- views ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ViewFile:
    name: str  # file name without dialect suffix, e.g. "21_v_vitals_latest"
    sql: str

    @property
    def view_name(self) -> str | None:
        match = re.match(r"^\d+_(v_\w+)$", self.name)
        return match.group(1) if match else None


def _macros(dialect: str, tz_name: str) -> dict[str, str]:
    if not _SAFE_TZ.match(tz_name):
        raise ValueError(f"unsafe time zone name {tz_name!r}")
    ZoneInfo(tz_name)  # raises for unknown zones
    if dialect == "sqlite":
        return {
            "NOW_UTC": "datetime('now')",
            "DAY_START_UTC": f"cw_day_start_utc('{tz_name}')",
            "SHIFT": "datetime({0}, '{1} seconds')",
            "MINUTE": "strftime('%Y-%m-%d %H:%M:00', {0})",
            "HOUR": "strftime('%Y-%m-%d %H:00:00', {0})",
            # the start of the hour after the one holding {0} (its argument may not hold a colon)
            "NEXT_HOUR": "strftime('%Y-%m-%d %H:00:00', {0}, '+3600 seconds')",
            # the first hour start at or after {0} (a whole-second time: {0} itself when on the hour)
            "CEIL_HOUR": "strftime('%Y-%m-%d %H:00:00', {0}, '+3599 seconds')",
            "NOT_MATERIALIZED": "",
            "NEAR_HOUR": "strftime('%Y-%m-%d %H:00:00', {0}, '+1800 seconds')",  # the nearest hour start
            "DAY": "strftime('%Y-%m-%d 00:00:00', {0})",  # the UTC day's start
            "NEXT_DAY": "strftime('%Y-%m-%d 00:00:00', {0}, '+1 day')",
        }
    return {
        "NOW_UTC": "(now() AT TIME ZONE 'UTC')",
        "DAY_START_UTC": (f"((date_trunc('day', now() AT TIME ZONE '{tz_name}') AT TIME ZONE '{tz_name}')"
                          " AT TIME ZONE 'UTC')"),
        "SHIFT": "({0} + interval '{1} seconds')",
        "MINUTE": "date_trunc('minute', {0})",
        "HOUR": "date_trunc('hour', {0})",
        "NEXT_HOUR": "date_trunc('hour', {0} + interval '3600 seconds')",
        "CEIL_HOUR": "date_trunc('hour', {0} + interval '3599 seconds')",
        "NEAR_HOUR": "date_trunc('hour', {0} + interval '1800 seconds')",
        # a CTE read twice, inlined into each read so a WHERE on the view reaches its indexes
        # (PostgreSQL materializes it otherwise; SQLite decides by itself)
        "NOT_MATERIALIZED": "NOT MATERIALIZED",
        "DAY": "date_trunc('day', {0})",
        "NEXT_DAY": "date_trunc('day', {0} + interval '1 day')",
    }


def render_sql(sql: str, *, dialect: str, tz_name: str) -> str:
    """Expand the ``{{MACRO:args}}`` placeholders of a view file for one dialect, innermost first."""
    macros = _macros(dialect, tz_name)

    def expand(match: re.Match[str]) -> str:
        template = macros[match.group(1)]
        args = match.group(2).split(":") if match.group(2) else []
        return template.format(*args)

    while _MACRO.search(sql):
        sql = _MACRO.sub(expand, sql)
    return sql


def view_files(dialect: str) -> list[ViewFile]:
    """The view files in dependency order; ``NAME.<dialect>.sql`` replaces ``NAME.sql``."""
    folder = resources.files(VIEWS_PACKAGE)
    chosen: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        parts = entry.name.split(".")
        if parts[-1] != "sql":
            continue
        if len(parts) == 2:
            chosen.setdefault(parts[0], entry.read_text(encoding="utf-8"))
        elif len(parts) == 3 and parts[1] == dialect:
            chosen[parts[0]] = entry.read_text(encoding="utf-8")
    return [ViewFile(name, sql) for name, sql in sorted(chosen.items())]


def _statements(sql: str) -> list[str]:
    """Split a file on ``-- @@`` lines (statement bodies may hold semicolons)."""
    parts = re.split(r"^\s*--\s*@@\s*$", sql, flags=re.MULTILINE)
    return [p.strip().rstrip(";").strip() for p in parts if p.strip()]


def init_db(engine: Engine, *, timezone: str = "Asia/Shanghai") -> bool:
    """Create the demo tables, indexes, trigger and every view; safe to run again at any time.

    Tables are only created when missing (no data is ever dropped). Views are rebuilt when
    their rendered SQL changed (a fingerprint is kept in citywall_meta). Returns True when
    the views were (re)built.
    """
    from data_access import incident_rollups  # it renders its SQL with this module

    dialect = engine.dialect.name
    triggers = ViewFile("01_incident_rollups_trigger", incident_rollups.trigger_sql(dialect))  # generated
    files = sorted([*view_files(dialect), triggers], key=lambda f: f.name)
    rendered = [(f, render_sql(f.sql, dialect=dialect, tz_name=timezone)) for f in files]
    fingerprint = hashlib.sha256(
        f"{schema.SCHEMA_VERSION}|{timezone}|".encode() + "\n".join(sql for _, sql in rendered).encode()
    ).hexdigest()
    with engine.begin() as conn:
        if dialect == "postgresql":
            # Several workers may start at once: one builds, the others wait and then find it done.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(8050)")
        schema.metadata.create_all(conn, checkfirst=True)
        _add_missing_columns(conn)
        current = conn.execute(
            sa.select(schema.meta.c.value).where(schema.meta.c.key == "views_fingerprint")
        ).scalar_one_or_none()
        if current == fingerprint:
            _ensure_incident_rollups(conn)
            return False
        cascade = " CASCADE" if dialect == "postgresql" else ""
        for view_file, _ in reversed(rendered):
            if view_file.view_name:
                conn.exec_driver_sql(f"DROP VIEW IF EXISTS {view_file.view_name}{cascade}")
        for _, sql in rendered:
            for statement in _statements(sql):
                conn.exec_driver_sql(statement)
        for key, value in (("views_fingerprint", fingerprint), ("schema_version", str(schema.SCHEMA_VERSION))):
            conn.execute(schema.meta.delete().where(schema.meta.c.key == key))
            conn.execute(schema.meta.insert().values(key=key, value=value))
        _ensure_incident_rollups(conn, rebuilt_views=True)
    return True


def _ensure_incident_rollups(conn: sa.Connection, *, rebuilt_views: bool = False) -> None:
    """The incident count roll-ups are complete from here on (their triggers keep them): counted
    afresh when their watermark is missing (a bulk load without the triggers) and whenever the
    views and triggers were rebuilt (a new or upgraded database: the roll-ups' shape may have
    changed with them). Imported here: incident_rollups renders its SQL with this module."""
    from data_access import incident_rollups

    if rebuilt_views:
        incident_rollups.rebuild(conn, now=utc_now())
    else:
        incident_rollups.ensure(conn, now=utc_now())


def _add_missing_columns(conn: sa.Connection) -> None:
    """Columns added to a table since the database was created (nullable, or with a server
    default): ``ALTER TABLE … ADD COLUMN``, so an upgrade keeps every row."""
    inspector = sa.inspect(conn)
    for table in schema.metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have:
                spec = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {spec}")


def var_dir() -> Path:
    return PROJECT_ROOT / "var"


def utc_now() -> datetime:
    """Naive UTC now, second resolution: the form every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def ago(**kwargs: float) -> datetime:
    return utc_now() - timedelta(**kwargs)
