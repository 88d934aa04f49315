"""The ``citywall`` command: run the demo, set up a database, feed it.

    citywall run          the demo: init + seed + back-fill, feeder thread, serve (= python app.py)
    citywall init-db      create tables and views (idempotent; never drops data)
    citywall load-pack    load a city pack (areas, grid, indicators, categories)
    citywall feed ...     the demo feeder as its own process (see citywall feed --help)
"""
from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from pathlib import Path

from data_access.db import DatabaseUnavailable, check_database, init_db, make_engine, safe_url
from data_access.settings import Settings, SettingsError, load_settings

LOG = logging.getLogger("citywall")
# A rainstorm in the demo district 10 minutes after the demo starts, so a newcomer sees alarms.
DEMO_RAINSTORM_AFTER_S = 600


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"citywall: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _engine_or_exit(settings: Settings):
    engine = make_engine(settings.database_url)
    try:
        check_database(engine)
    except DatabaseUnavailable as exc:
        print(f"citywall: {exc}", file=sys.stderr)  # one clear line, no traceback
        raise SystemExit(2) from None
    return engine


def run_demo(argv: list[str] | None = None) -> int:
    """Create and seed the database if needed, start the feeder thread, serve the app."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings_or_exit()
    engine = _engine_or_exit(settings)
    from app import create_app
    from feeder.simulator import FeederOptions, run_feeder, start_up

    stop = threading.Event()
    if settings.feeder:
        started = time.perf_counter()
        try:
            start_up(engine, settings)  # back-fills on the first run, before the first page is served
        except Exception as exc:  # noqa: BLE001 - report one line, never a traceback
            print(f"citywall: setting up {safe_url(engine)} failed: {exc}", file=sys.stderr)
            return 2
        LOG.info("database ready in %.1f s", time.perf_counter() - started)
        options = FeederOptions(auto_episode_after_s=DEMO_RAINSTORM_AFTER_S)
        threading.Thread(target=run_feeder, kwargs={"settings": settings, "stop": stop, "options": options},
                         name="citywall-feeder", daemon=True).start()
    else:
        init_db(engine, timezone=settings.timezone)
    engine.dispose()
    LOG.info("serving http://%s:%s/ (database %s)", settings.host, settings.port, safe_url(settings.database_url))
    try:
        create_app(settings).run(host=settings.host, port=settings.port, debug=settings.debug)
    finally:
        stop.set()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="citywall", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="the demo: set up, feed and serve")
    sub.add_parser("init-db", help="create tables and views (idempotent)")
    pack = sub.add_parser("load-pack", help="load a city pack into the database")
    pack.add_argument("--pack", type=Path, help="pack folder (default: CITYWALL_CITY_PACK)")
    sub.add_parser("feed", help="run the demo feeder", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "feed":
        from feeder.__main__ import main as feed_main

        return feed_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "run":
        return run_demo()
    settings = _settings_or_exit()
    engine = _engine_or_exit(settings)
    if args.command == "init-db":
        built = init_db(engine, timezone=settings.timezone)
        print(f"{safe_url(engine)}: tables ready, views {'rebuilt' if built else 'unchanged'}")
        return 0
    from feeder.pack import load_city_pack

    init_db(engine, timezone=settings.timezone)
    print(load_city_pack(engine, pack_dir=args.pack or settings.city_pack))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
