"""The demo start-up of ``python app.py`` (and ``citywall run``): check the settings, create and
seed the database if needed, start the feeder thread, serve the app through waitress (a
production WSGI server that buffers each whole request before a thread sees it, so slow
clients cannot tie up the threads: docs/deploy.md); ``CITYWALL_DEBUG=1`` serves through
Flask's development server instead (debugging only).

The app is passed in (``run_demo(create_app)``) so imports run one way: cli -> app -> feeder.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from data_access.db import DatabaseUnavailable, check_database, city_settings, init_db, make_engine, safe_url
from data_access.settings import Settings, SettingsError, load_settings
from security import check_configuration

LOG = logging.getLogger("citywall")
# A rainstorm in the demo district 10 minutes after the demo starts, so a newcomer sees alarms.
DEMO_RAINSTORM_AFTER_S = 600

# waitress, as ``python app.py`` runs it (docs/deploy.md, "Slow clients"). Its I/O
# loop reads every request whole (headers and body) and writes every response out of a buffer,
# so a thread only ever runs the app; a slow or stalled client costs one socket and its buffer.
SERVER_THREADS = 8  # requests mostly wait for the tick cache or the database
SERVER_CONNECTION_LIMIT = 1000  # open connections (screens, browsers, slow clients); beyond it new ones wait
SERVER_CHANNEL_TIMEOUT_S = 60  # a connection silent this long is closed (longer than any refresh between polls)
SERVER_MAX_HEADER_BYTES = 64 * 1024  # request line + headers; a bigger one is refused (431)
SERVER_MAX_BODY_BYTES = 16 * 1024 * 1024  # the app refuses callbacks far smaller (security.web.MAX_CALLBACK_BYTES)

AppFactory = Callable[[Settings], Any]  # app.create_app: settings -> a Dash app


def settings_or_exit() -> Settings:
    """The settings, or one line on stderr and exit 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"citywall: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def engine_or_exit(settings: Settings) -> Engine:
    """An engine on a reachable database, or one line on stderr (no traceback) and exit 2."""
    engine = make_engine(settings.database_url)
    try:
        check_database(engine)
    except DatabaseUnavailable as exc:
        print(f"citywall: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return engine


def run_demo(create_app: AppFactory) -> int:
    """Create and seed the database if needed, start the feeder thread, serve ``create_app(settings)``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_or_exit()
    try:
        check_configuration(settings)  # e.g. auth on with the default secret key: refuse before any work
    except SettingsError as exc:
        print(f"citywall: {exc}", file=sys.stderr)
        return 2
    engine = engine_or_exit(settings)
    settings = city_settings(settings, engine)  # the city's recorded zone: "today" in the views and on every page
    stop = threading.Event()
    if settings.feeder:
        if not _start_feeder(engine, settings, stop):
            return 2
    else:
        init_db(engine, timezone=settings.timezone)
    engine.dispose()
    LOG.info("serving http://%s:%s/ (database %s)", settings.host, settings.port, safe_url(settings.database_url))
    try:
        serve(create_app(settings), settings)
    finally:
        stop.set()
    return 0


def serve(app: Any, settings: Settings) -> None:
    """Serve the Dash ``app`` on ``settings.host:port`` until SIGTERM or Ctrl-C: waitress, or Flask's
    development server when ``settings.debug`` (reloader off: the feeder thread runs in this process)."""
    if settings.debug:
        app.run(host=settings.host, port=settings.port, debug=True, use_reloader=False)
        return
    from waitress import create_server

    limit = _open_files_for(SERVER_CONNECTION_LIMIT)
    # Each open push stream (pages/_push.py) holds a thread while it waits for the next tick: as many
    # more threads as the process may hold streams, so polls and pages never queue behind them.
    threads = SERVER_THREADS + (settings.push_streams if settings.transport == "push" else 0)
    server = create_server(
        app.server, host=settings.host, port=settings.port, threads=threads, connection_limit=limit,
        channel_timeout=SERVER_CHANNEL_TIMEOUT_S, max_request_header_size=SERVER_MAX_HEADER_BYTES,
        max_request_body_size=SERVER_MAX_BODY_BYTES, asyncore_use_poll=True,  # select() stops at 1,024 sockets
        ident="CityWall")
    LOG.info("waitress: %d threads, up to %d connections, idle ones closed after %d s",
             threads, limit, SERVER_CHANNEL_TIMEOUT_S)

    def _terminate(_signum: int, _frame: object) -> None:
        raise SystemExit(0)  # waitress's loop catches it, stops its threads and closes the sockets

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _open_files_for(connections: int) -> int:
    """How many connections waitress may keep open: ``connections``, with the process's open-file
    limit raised to fit them (up to the hard limit) and the limit lowered if it cannot be."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return connections
    spare = 128  # database files, the log, the listening socket, Redis and PostgreSQL connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + spare
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
            soft = new_soft
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < wanted:
        LOG.warning("open-file limit %d: serving up to %d connections, not %d", soft, soft - spare, connections)
        return max(soft - spare, 16)
    return connections


def _start_feeder(engine: Engine, settings: Settings, stop: threading.Event) -> bool:
    """Set up the database (back-filling on the first run, before the first page is served), then
    feed it from a daemon thread until ``stop``; False (after one line on stderr) when set-up fails."""
    from feeder.loop import FeederOptions, run_feeder, start_up  # numpy, pandas: only when the demo feeds

    started = time.perf_counter()
    try:
        start_up(engine, settings)
    except Exception as exc:  # noqa: BLE001 - report one line, never a traceback
        print(f"citywall: setting up {safe_url(engine)} failed: {exc}", file=sys.stderr)
        return False
    LOG.info("database ready in %.1f s", time.perf_counter() - started)
    options = FeederOptions(auto_episode_after_s=DEMO_RAINSTORM_AFTER_S)
    threading.Thread(target=run_feeder, kwargs={"settings": settings, "stop": stop, "options": options},
                     name="citywall-feeder", daemon=True).start()
    return True
