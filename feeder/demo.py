"""The demo start-up of ``python app.py`` (and ``citywall run``): check the settings, create and
seed the database if needed, start the feeder thread, serve the app.

The app is passed in (``run_demo(create_app)``) so imports run one way: cli -> app -> feeder.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from data_access.db import DatabaseUnavailable, check_database, init_db, make_engine, safe_url
from data_access.settings import Settings, SettingsError, load_settings
from security import check_configuration

LOG = logging.getLogger("citywall")
# A rainstorm in the demo district 10 minutes after the demo starts, so a newcomer sees alarms.
DEMO_RAINSTORM_AFTER_S = 600

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
    stop = threading.Event()
    if settings.feeder:
        if not _start_feeder(engine, settings, stop):
            return 2
    else:
        init_db(engine, timezone=settings.timezone)
    engine.dispose()
    LOG.info("serving http://%s:%s/ (database %s)", settings.host, settings.port, safe_url(settings.database_url))
    try:
        create_app(settings).run(host=settings.host, port=settings.port, debug=settings.debug)
    finally:
        stop.set()
    return 0


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
