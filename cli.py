"""The ``citywall`` command: run the demo, set up a database, feed it.

    citywall run          the demo: init + seed + back-fill, feeder thread, serve through waitress (= python app.py)
    citywall init-db      create tables and views (idempotent; never drops data)
    citywall load-pack    load a city pack (areas, grid, indicators, categories)
    citywall feed ...     the demo feeder as its own process (see citywall feed --help)

Your own city (docs/importing.md):
    citywall new-city          start a city in an empty database (code, names, time zone, level names)
    citywall level-names       what the city calls its levels (--district-level-en "service region", ...)
    citywall import-areas      districts or streets from GeoJSON (parents by property, containment or dissolving)
    citywall make-grid         H3 management grid clipped to the streets   (or: citywall import-grid FILE)
    citywall import-incidents  a hotline / 311 CSV through a TOML column mapping
    citywall load-scenarios    the scenario catalogue from a TOML file (replaces it; docs/importing.md)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from data_access.db import city_settings, init_db, safe_url
from data_access.settings import Settings
from feeder.demo import engine_or_exit, settings_or_exit
from security import cli as security_cli

IMPORT_COMMANDS = ("new-city", "level-names", "import-areas", "make-grid", "import-grid", "import-incidents",
                   "load-scenarios")


def _add_import_commands(sub: argparse._SubParsersAction) -> None:
    city = sub.add_parser("new-city", help="start a city in an empty database")
    city.add_argument("--code", required=True, help="the city's area code (letters and digits), e.g. NYC")
    city.add_argument("--name", required=True, help="name in the local language")
    city.add_argument("--name-en", help="English name")
    city.add_argument("--timezone", required=True, help="IANA zone, e.g. America/New_York (= CITYWALL_TIMEZONE)")

    _add_level_options(city)
    levels = sub.add_parser("level-names", help="what the city calls its levels (zh and en, singular/plural)")
    _add_level_options(levels)

    areas = sub.add_parser("import-areas", help="import districts or streets from a GeoJSON FeatureCollection")
    areas.add_argument("file", type=Path)
    areas.add_argument("--level", required=True, choices=("district", "street"))
    code = areas.add_mutually_exclusive_group(required=True)
    code.add_argument("--code-property", help="property holding the area code")
    code.add_argument("--code-from-name", action="store_true", help="codes from the names (\"Staten Island\" ->"
                      " statenisland)")
    areas.add_argument("--name-property", required=True, help="property holding the (local) name")
    areas.add_argument("--name-en-property", help="property holding the English name")
    parent = areas.add_mutually_exclusive_group()
    parent.add_argument("--parent-property", help="streets: property holding the district code")
    parent.add_argument("--parent-spatial", action="store_true", help="streets: the district containing each one")
    parent.add_argument("--dissolve-property", help="streets: create the districts by dissolving on this property")
    areas.add_argument("--dissolve-into", choices=("district",), default="district",
                       help="level the dissolved parents get (district)")
    areas.add_argument("--dissolve-code-property", help="with --dissolve-property: property holding the district code"
                       " (default: a code made from the property's value)")
    areas.add_argument("--replace-districts", action="store_true", help="with --dissolve-property: redraw existing"
                       " districts from this file even when it holds only some of their streets")
    areas.add_argument("--simplify-m", type=float, default=0.0, help="simplify for display, tolerance in metres")
    areas.add_argument("--approximate", action="store_true", help="mark the boundaries as approximate")
    areas.add_argument("--drop-fragments", action="store_true", help="drop the tiny far-away parts of MultiPolygons"
                       " the import reports (default: keep them; maps fit to each area's bulk)")
    areas.add_argument("--city-name", help="create the city with this name if the database has none")

    grid = sub.add_parser("make-grid", help="H3 management grid clipped to the streets (replaces the grid)")
    grid.add_argument("--resolution", type=int, default=8, help="H3 resolution (8: ~0.74 km² cells)")

    igrid = sub.add_parser("import-grid", help="the city's own grid cells from GeoJSON (replaces the grid)")
    igrid.add_argument("file", type=Path)
    igrid.add_argument("--cell-property", required=True, help="property holding the cell id")
    igrid.add_argument("--street-property", help="property holding the street code (default: by containment)")
    igrid.add_argument("--name-property", help="property holding the cell's name (default: its street's name and"
                       " a number)")
    igrid.add_argument("--name-en-property", help="property holding the cell's English name")

    incidents = sub.add_parser("import-incidents", help="import a CSV of incidents through a TOML column mapping")
    incidents.add_argument("file", type=Path)
    incidents.add_argument("--mapping", type=Path, required=True, help="the TOML mapping (docs/importing.md)")
    incidents.add_argument("--rejects", type=Path, help="where rejected rows go"
                           " (default: <file>.rejects.csv beside it)")

    scenarios = sub.add_parser("load-scenarios", help="the scenario catalogue from a TOML file (replaces it)")
    scenarios.add_argument("file", type=Path)


LEVEL_OPTIONS = ("city", "district", "street", "cell")


def _add_level_options(parser: argparse.ArgumentParser) -> None:
    for level in LEVEL_OPTIONS:
        parser.add_argument(f"--{level}-level", metavar="NAME[/PLURAL]",
                            help=f"what the city calls its {level} level, local language (default: CityWall's)")
        parser.add_argument(f"--{level}-level-en", metavar="NAME[/PLURAL]",
                            help="the same in English, e.g. \"service region/service regions\" (plural default: +s)")


def _level_names_given(args: argparse.Namespace) -> dict[str, dict[str, tuple[str, str]]]:
    from importers.areas import parse_level_name

    given: dict[str, dict[str, tuple[str, str]]] = {}
    for level in LEVEL_OPTIONS:
        for lang, suffix in (("zh", ""), ("en", "_en")):
            text = getattr(args, f"{level}_level{suffix}")
            if text is not None:
                option = f"--{level}-level{suffix.replace('_', '-')}"
                given.setdefault(level, {})[lang] = parse_level_name(text, lang=lang, option=option)
    return given


def _progress_printer() -> object:
    started = time.perf_counter()
    tty = sys.stderr.isatty()

    def show(rows: int, imported: int, rejected: int) -> None:
        rate = rows / max(time.perf_counter() - started, 1e-9)
        line = f"  {rows:>11,} rows  {imported:>11,} imported  {rejected:>9,} rejected  {rate:>9,.0f} rows/s"
        print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    return show


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    """The importer subcommands: one summary on stdout, or one line on stderr and exit 2."""
    from importers.common import ImportFailure
    from importers.scenarios import citywall_database

    engine = engine_or_exit(settings)
    try:
        if args.command == "new-city":
            from importers.areas import new_city

            given = _level_names_given(args)
            print(new_city(engine, code=args.code, name=args.name, name_en=args.name_en, timezone=args.timezone))
            if given:
                from importers.areas import set_level_names

                print(set_level_names(engine, given))
            return 0
        if args.command != "load-scenarios" or citywall_database(engine):
            # (a city on its own database keeps its views: load-scenarios makes its five tables only)
            init_db(engine, timezone=city_settings(settings, engine).timezone)
        if args.command == "level-names":
            from importers.areas import set_level_names

            given = _level_names_given(args)
            if not given:
                raise ImportFailure("level-names: name at least one level, e.g. --district-level-en"
                                    " \"service region/service regions\"")
            print(set_level_names(engine, given))
        elif args.command == "import-areas":
            from importers.areas import import_areas

            print(import_areas(
                engine, path=args.file, level=args.level, name_property=args.name_property,
                code_property=args.code_property, code_from_name=args.code_from_name,
                name_en_property=args.name_en_property, parent_property=args.parent_property,
                parent_spatial=args.parent_spatial, dissolve_property=args.dissolve_property,
                dissolve_code_property=args.dissolve_code_property, simplify_m=args.simplify_m,
                approximate=args.approximate, city_name=args.city_name, drop_fragments=args.drop_fragments,
                replace_districts=args.replace_districts))
        elif args.command == "make-grid":
            from importers.grid import make_grid

            print(make_grid(engine, resolution=args.resolution))
        elif args.command == "load-scenarios":
            from importers.scenarios import load_scenarios

            print(load_scenarios(engine, path=args.file))
        elif args.command == "import-grid":
            from importers.grid import import_grid

            print(import_grid(engine, path=args.file, cell_property=args.cell_property,
                              street_property=args.street_property, name_property=args.name_property,
                              name_en_property=args.name_en_property))
        else:
            from importers.incidents import BATCH_ROWS, import_incidents

            big = args.file.exists() and args.file.stat().st_size > 20 * BATCH_ROWS  # ~ more than one batch
            summary = import_incidents(engine, path=args.file, mapping_path=args.mapping, rejects_path=args.rejects,
                                       progress=_progress_printer() if big else None)
            if big and sys.stderr.isatty():
                print(file=sys.stderr)
            print(summary)
    except ImportFailure as exc:
        print(f"citywall: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="citywall", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="the demo: set up, feed and serve")
    sub.add_parser("init-db", help="create tables and views (idempotent)")
    pack = sub.add_parser("load-pack", help="load a city pack into the database")
    pack.add_argument("--pack", type=Path, help="pack folder (default: CITYWALL_CITY_PACK)")
    sub.add_parser("feed", help="run the demo feeder", add_help=False)
    _add_import_commands(sub)
    security_cli.add_commands(sub)  # db create-readonly-role, user add, token create/revoke/list
    args, rest = parser.parse_known_args(argv)
    if args.command == "feed":
        from feeder.__main__ import main as feed_main

        return feed_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "run":
        from app import create_app
        from feeder.demo import run_demo

        return run_demo(create_app)
    settings = settings_or_exit()
    if args.command in security_cli.COMMANDS:
        return security_cli.run_command(args, settings)
    if args.command in IMPORT_COMMANDS:
        return run_import(args, settings)
    engine = engine_or_exit(settings)
    settings = city_settings(settings, engine)  # the zone new-city recorded, unless CITYWALL_TIMEZONE says otherwise
    if args.command == "init-db":
        built = init_db(engine, timezone=settings.timezone)
        print(f"{safe_url(engine)}: tables ready, views {'rebuilt' if built else 'unchanged'}")
        return 0
    from feeder.pack import load_city_pack
    from importers.common import ImportFailure

    init_db(engine, timezone=settings.timezone)
    try:
        print(load_city_pack(engine, pack_dir=args.pack or settings.city_pack))
    except ImportFailure as exc:  # its scenarios.toml: one line naming the file, the scenario and the field
        print(f"citywall: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
