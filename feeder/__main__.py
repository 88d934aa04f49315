"""``python -m feeder``: run the demo city's simulator against CITYWALL_DATABASE_URL.

    python -m feeder [--seed N] [--scale N] [--backfill-days N] [--episode crowd:310101[:MINUTES[:RAMP]]] [--once]

Defaults come from the CITYWALL_* settings. ``main(argv)`` is what ``citywall feed`` calls.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import threading
from pathlib import Path

import sqlalchemy as sa

from data_access.db import make_engine, safe_url, utc_now
from data_access.errors import first_line
from data_access.settings import SettingsError, load_settings
from feeder.episodes import EPISODE_SPEC, episode_kinds, parse_episode
from feeder.loop import FeederOptions, run_feeder, start_up

LOG = logging.getLogger("citywall.feeder")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m feeder", description=(
        "Simulate the demo city: back-fill history on first run, then write readings, incidents "
        "and their lifecycles live. Defaults come from CITYWALL_* environment variables."))
    parser.add_argument("--database-url", help="overrides CITYWALL_DATABASE_URL")
    parser.add_argument("--pack", type=Path, help="city pack folder (CITYWALL_CITY_PACK)")
    parser.add_argument("--seed", type=int, help="random seed (CITYWALL_FEEDER_SEED)")
    parser.add_argument("--scale", type=int,
                        help="repeat the indicator catalogue N times (CITYWALL_FEEDER_SCALE)")
    parser.add_argument("--backfill-days", type=int,
                        help="days of history on first run (CITYWALL_BACKFILL_DAYS)")
    parser.add_argument("--episode", action="append", default=[], metavar=EPISODE_SPEC,
                        help="start an episode now in the city or a district, e.g. rainstorm:310115, "
                             "crowd:310101:45 or gas:310104:30:0; MINUTES: how long (default: the kind's), "
                             "RAMP: minutes to full intensity (0: sudden) "
                             f"(kinds: {', '.join(episode_kinds())}); repeatable")
    parser.add_argument("--auto-rainstorm-after", type=float, default=10.0, metavar="MINUTES",
                        help="a rainstorm in the default district this many minutes after start "
                             "(default 10; negative: never)")
    parser.add_argument("--auto-rainstorm-minutes", type=float, default=60.0, metavar="MINUTES",
                        help="how long that rainstorm lasts (default 60)")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between steps (default 1)")
    parser.add_argument("--once", action="store_true", help="start up (back-fill if needed), one step, exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    overrides: dict[str, object] = {}
    for name, value in (("database_url", args.database_url), ("city_pack", args.pack),
                        ("feeder_seed", args.seed), ("feeder_scale", args.scale),
                        ("backfill_days", args.backfill_days)):
        if value is not None:
            overrides[name] = value
    if args.scale is not None and args.scale < 1 or args.backfill_days is not None and args.backfill_days < 0:
        print("error: --scale must be >= 1 and --backfill-days >= 0", file=sys.stderr)
        return 2
    settings = dataclasses.replace(settings, **overrides)
    try:
        for spec in args.episode:
            parse_episode(spec, now=utc_now())  # a bad spec: one line now, not after the back-fill
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    auto_after = args.auto_rainstorm_after
    options = FeederOptions(
        episodes=list(args.episode),
        auto_episode_after_s=None if args.once or auto_after < 0 else auto_after * 60,
        auto_episode_minutes=args.auto_rainstorm_minutes,
        once=args.once,
    )
    LOG.info("feeding %s (seed %s, scale %s)", safe_url(settings.database_url), settings.feeder_seed,
             settings.feeder_scale)
    if args.once:
        # One shot: errors end the run with a non-zero status instead of being retried.
        engine = make_engine(settings.database_url)
        try:
            sim = start_up(engine, settings, options=options)
            stats = sim.step(engine, now=utc_now())
        except (sa.exc.SQLAlchemyError, ValueError, OSError) as exc:
            print(f"error: {type(exc).__name__}: {first_line(exc)}", file=sys.stderr)
            return 1
        finally:
            engine.dispose()
        print(f"step: {stats}")
        return 0
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    try:
        run_feeder(settings, stop=stop, tick_s=args.tick, options=options)
    except (ValueError, RuntimeError, OSError) as exc:  # start-up failed for good (a broken pack, an unknown area)
        print(f"error: {type(exc).__name__}: {first_line(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
