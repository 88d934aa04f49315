"""A city's scenario catalogue (应用场景, issue 13) from a TOML file: ``citywall load-scenarios FILE``,
and ``scenarios.toml`` in a city pack (feeder/pack.py). The file is the whole catalogue: loading it
replaces every scenario (their indicators, categories, resource types and steps) in one
transaction, so loading the same file twice leaves the same rows. Everything is checked before
the first write; a bad file stops with one line naming the file, the scenario and the field.

The format (docs/importing.md, "Scenarios")::

    [[scenario]]
    id = "rainstorm_waterlogging"          # a-z, 0-9, _ ; at most 64
    name = "暴雨内涝"                       # name_en, description, description_en optional
    level = "district"                     # city | district | street: where its state is evaluated
    sort_order = 10
    resource_types = ["pump_truck", "patrol_team"]

    [scenario.activation]
    kind = "indicators"                    # indicators | incidents | manual
    status = "alarm"                       # indicators: alarm | warn (or worse), for ...
    minutes = 3                            # ... this many consecutive minutes
    # incidents = 5 / window_minutes = 30  # incidents: this many reports of its categories in M minutes

    [scenario.end]
    normal_minutes = 10                    # its triggering indicators normal this long ...
    incidents_below = 3                    # ... and fewer reports than this in the window

    [[scenario.indicators]]
    id = "rainfall_mm_h"
    triggers = true                        # false: shown on its board only

    [[scenario.categories]]
    category = "waterlogging"              # subcategory = "..." : that subcategory only

    [[scenario.steps]]
    id = "open_pumps"
    text = "..."                           # text_en optional
    role = "supervisor"                    # supervisor | leader | admin: the least role that marks it
"""
from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema
from data_access.models import valid_scenario_id
from importers.common import ImportFailure

_SCENARIO_KEYS = {"id", "name", "name_en", "description", "description_en", "level", "sort_order", "activation",
                  "end", "indicators", "categories", "steps", "resource_types"}
_ACTIVATION_KEYS = {"kind", "status", "minutes", "incidents", "window_minutes"}
_END_KEYS = {"normal_minutes", "incidents_below"}
_INDICATOR_KEYS = {"id", "triggers"}
_CATEGORY_KEYS = {"category", "subcategory"}
_STEP_KEYS = {"id", "text", "text_en", "role"}
_TABLES = (schema.scenario_steps, schema.scenario_resource_types, schema.scenario_categories,
           schema.scenario_indicators, schema.scenarios)  # children first


@dataclass(frozen=True)
class Known:
    """What a scenario file may name: indicators (id -> level), incident categories (category ->
    its subcategories) and resource types."""
    indicators: Mapping[str, str]
    categories: Mapping[str, Collection[str]]
    resource_types: Collection[str]


@dataclass(frozen=True)
class ScenarioCatalogueRows:
    """A checked scenario file: the rows of each table."""
    path: Path
    scenarios: list[dict[str, Any]]
    indicators: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    resource_types: list[dict[str, Any]]
    steps: list[dict[str, Any]]


@dataclass(frozen=True)
class ScenarioSummary:
    path: Path
    scenarios: int
    steps: int
    removed: int

    def __str__(self) -> str:
        removed = f", {self.removed} no longer in the file removed" if self.removed else ""
        return f"{self.path}: {self.scenarios} scenarios with {self.steps} checklist steps loaded{removed}"


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, place: str, problem: str) -> ImportFailure:
        return ImportFailure(f"{self.path}: {place}: {problem}")

    def table(self, value: object, place: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(place, f"expected a table, found {_kind(value)}")
        return value

    def keys(self, table: dict[str, Any], allowed: set[str], place: str) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(f"{place}{unknown[0]}", f"unknown field (expected one of {', '.join(sorted(allowed))})")

    def text(self, table: dict[str, Any], key: str, place: str, *, required: bool = False,
             limit: int = 2000) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(f"{place}{key}", "missing (a non-empty string)")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{place}{key}", f"expected a non-empty string, found {_shown(value)}")
        if len(value) > limit:
            raise self.fail(f"{place}{key}", f"longer than {limit} characters")
        return value.strip()

    def whole(self, table: dict[str, Any], key: str, place: str, *, required: bool = False,
              minimum: int = 1) -> int | None:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(f"{place}{key}", f"missing (a whole number >= {minimum})")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum or value > 100_000:
            raise self.fail(f"{place}{key}", f"expected a whole number >= {minimum}, found {_shown(value)}")
        return value

    def choice(self, table: dict[str, Any], key: str, place: str, options: tuple[str, ...], *,
               default: str | None = None) -> str:
        value = table.get(key, default)
        if value not in options:
            found = "nothing" if value is None else _shown(value)
            raise self.fail(f"{place}{key}", f"expected one of {', '.join(options)}, found {found}")
        return str(value)

    def array(self, table: dict[str, Any], key: str, place: str) -> list[Any]:
        value = table.get(key, [])
        if not isinstance(value, list):
            raise self.fail(f"{place}{key}", f"expected an array, found {_kind(value)}")
        return value


def _kind(value: object) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "true/false", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str | int | float | bool) and len(repr(value)) <= 60 else _kind(value)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ImportFailure(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ImportFailure(f"{path}: byte {exc.start}: not UTF-8 text, so not TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise ImportFailure(f"{path}: not valid TOML: {exc}") from None


def parse_scenarios(path: Path, known: Known) -> ScenarioCatalogueRows:
    """Read and check a scenario file against what the city has (ImportFailure: one line)."""
    path = Path(path)
    data = read_toml(path)
    check = _Checker(path)
    unknown = sorted(set(data) - {"scenario"})
    if unknown:
        raise check.fail(unknown[0], "unknown table (a scenario file holds [[scenario]] tables only)")
    items = data.get("scenario")
    if not isinstance(items, list) or not items:
        raise check.fail("[[scenario]]", "no scenario in the file (expected at least one [[scenario]] table)")
    out = ScenarioCatalogueRows(path, [], [], [], [], [])
    seen: set[str] = set()
    for number, raw in enumerate(items, start=1):
        item = check.table(raw, f"scenario {number}")
        sid = item.get("id")
        if not valid_scenario_id(sid):
            raise check.fail(f"scenario {number}: id", f"expected letters, digits and _ . : - (at most 64), found"
                             f" {'nothing' if sid is None else _shown(sid)}")
        place = f"scenario {sid!r}: "
        if sid in seen:
            raise check.fail(f"scenario {sid!r}", f"id given twice (scenario {number})")
        seen.add(sid)
        check.keys(item, _SCENARIO_KEYS, place)
        _scenario(check, item, sid, place, known, out, default_order=number * 10)
    return out


def _scenario(check: _Checker, item: dict[str, Any], sid: str, place: str, known: Known,
              out: ScenarioCatalogueRows, *, default_order: int) -> None:
    level = check.choice(item, "level", place, schema.AREA_LEVELS)
    activation = check.table(item.get("activation", {}), f"{place}activation")
    check.keys(activation, _ACTIVATION_KEYS, f"{place}activation.")
    end = check.table(item.get("end", {}), f"{place}end")
    check.keys(end, _END_KEYS, f"{place}end.")
    kind = check.choice(activation, "kind", f"{place}activation.", schema.ACTIVATION_KINDS)
    a_place = f"{place}activation."
    row: dict[str, Any] = {
        "scenario_id": sid,
        "name": check.text(item, "name", place, required=True, limit=200),
        "name_en": check.text(item, "name_en", place, limit=200),
        "description": check.text(item, "description", place),
        "description_en": check.text(item, "description_en", place),
        "area_level": level, "activation_kind": kind,
        "activation_status": None, "activation_minutes": None, "activation_incidents": None,
        "activation_window_minutes": check.whole(activation, "window_minutes", a_place,
                                                 required=kind == "incidents"),
        "end_normal_minutes": check.whole(end, "normal_minutes", f"{place}end."),
        "end_incidents_below": check.whole(end, "incidents_below", f"{place}end."),
        "sort_order": item.get("sort_order", default_order),
    }
    if isinstance(row["sort_order"], bool) or not isinstance(row["sort_order"], int):
        raise check.fail(f"{place}sort_order", f"expected a whole number, found {_shown(row['sort_order'])}")
    if kind == "indicators":
        row["activation_status"] = check.choice(activation, "status", a_place, ("alarm", "warn"), default="alarm")
        row["activation_minutes"] = check.whole(activation, "minutes", a_place, required=True)
    elif kind == "incidents":
        row["activation_incidents"] = check.whole(activation, "incidents", a_place, required=True)
        below = row["end_incidents_below"]
        if below is not None and below > row["activation_incidents"]:
            raise check.fail(f"{place}end.incidents_below", f"{below} is more than activation.incidents"
                             f" ({row['activation_incidents']}): it would end as soon as it began")
    for key in ("status", "minutes") if kind != "indicators" else ():
        if key in activation:
            raise check.fail(f"{a_place}{key}", f"only for kind = \"indicators\" (this one is {kind!r})")
    if kind != "incidents" and "incidents" in activation:
        raise check.fail(f"{a_place}incidents", f"only for kind = \"incidents\" (this one is {kind!r})")

    triggering = _indicators(check, item, sid, place, level, known, out)
    if kind == "indicators" and not triggering:
        raise check.fail(f"{place}indicators", "kind = \"indicators\" needs at least one indicator with"
                         " triggers = true")
    categories = _categories(check, item, sid, place, known, out)
    if kind == "incidents" and not categories:
        raise check.fail(f"{place}categories", "kind = \"incidents\" needs at least one incident category")
    types = check.array(item, "resource_types", place)
    for n, t in enumerate(types, start=1):
        if not isinstance(t, str) or t not in known.resource_types:
            raise check.fail(f"{place}resource_types[{n}]", f"unknown resource type {_shown(t)} (the city has"
                             f" {', '.join(sorted(known.resource_types)) or 'none'})")
    if len(set(types)) != len(types):
        raise check.fail(f"{place}resource_types", "a resource type is named twice")
    out.resource_types.extend({"scenario_id": sid, "resource_type": t} for t in types)
    _steps(check, item, sid, place, out)
    out.scenarios.append(row)


def _indicators(check: _Checker, item: dict[str, Any], sid: str, place: str, level: str, known: Known,
                out: ScenarioCatalogueRows) -> list[str]:
    triggering: list[str] = []
    seen: set[str] = set()
    for n, raw in enumerate(check.array(item, "indicators", place), start=1):
        i_place = f"{place}indicators[{n}]"
        entry = check.table(raw, i_place)
        check.keys(entry, _INDICATOR_KEYS, f"{i_place}.")
        iid = check.text(entry, "id", f"{i_place}.", required=True, limit=64)
        if iid not in known.indicators:
            raise check.fail(f"{i_place}.id", f"unknown indicator {iid!r} (not in the city's indicator catalogue)")
        if iid in seen:
            raise check.fail(f"{i_place}.id", f"indicator {iid!r} named twice")
        seen.add(iid)
        triggers = entry.get("triggers", True)
        if not isinstance(triggers, bool):
            raise check.fail(f"{i_place}.triggers", f"expected true or false, found {_shown(triggers)}")
        if triggers and known.indicators[iid] != level:
            raise check.fail(f"{i_place}.triggers", f"indicator {iid!r} is reported per {known.indicators[iid]},"
                             f" this scenario is evaluated per {level}: it could never fire it (make it"
                             " triggers = false to show it on the board)")
        if triggers:
            triggering.append(iid)
        out.indicators.append({"scenario_id": sid, "indicator_id": iid, "triggers": triggers, "sort_order": n})
    return triggering


def _categories(check: _Checker, item: dict[str, Any], sid: str, place: str, known: Known,
                out: ScenarioCatalogueRows) -> int:
    seen: set[tuple[str, str | None]] = set()
    for n, raw in enumerate(check.array(item, "categories", place), start=1):
        c_place = f"{place}categories[{n}]"
        entry = check.table(raw, c_place)
        check.keys(entry, _CATEGORY_KEYS, f"{c_place}.")
        category = check.text(entry, "category", f"{c_place}.", required=True, limit=64)
        sub = check.text(entry, "subcategory", f"{c_place}.", limit=64)
        if category not in known.categories:
            raise check.fail(f"{c_place}.category", f"unknown incident category {category!r}")
        if sub is not None and sub not in known.categories[category]:
            raise check.fail(f"{c_place}.subcategory", f"{sub!r} is not a subcategory of {category!r}")
        if (category, sub) in seen:
            raise check.fail(c_place, "named twice")
        seen.add((category, sub))
        out.categories.append({"scenario_id": sid, "category": category, "subcategory": sub})
    return len(seen)


def _steps(check: _Checker, item: dict[str, Any], sid: str, place: str, out: ScenarioCatalogueRows) -> None:
    seen: set[str] = set()
    for n, raw in enumerate(check.array(item, "steps", place), start=1):
        s_place = f"{place}steps[{n}]"
        entry = check.table(raw, s_place)
        check.keys(entry, _STEP_KEYS, f"{s_place}.")
        step_id = entry.get("id")
        if not valid_scenario_id(step_id):
            raise check.fail(f"{s_place}.id", f"expected letters, digits and _ . : - (at most 64), found"
                             f" {'nothing' if step_id is None else _shown(step_id)}")
        if step_id in seen:
            raise check.fail(f"{s_place}.id", f"step {step_id!r} given twice")
        seen.add(step_id)
        out.steps.append({"scenario_id": sid, "step_id": step_id, "sort_order": n,
                          "text": check.text(entry, "text", f"{s_place}.", required=True, limit=500),
                          "text_en": check.text(entry, "text_en", f"{s_place}.", limit=500),
                          "role": check.choice(entry, "role", f"{s_place}.", schema.STEP_ROLES)})


def known_in_database(conn: Connection | Engine) -> Known:
    """What the database's views hold: indicators, incident categories, resource types."""
    def rows(sql: str) -> list[sa.Row]:
        if isinstance(conn, Engine):
            with conn.connect() as c:
                return list(c.execute(sa.text(sql)))
        return list(conn.execute(sa.text(sql)))

    categories: dict[str, set[str]] = {}
    inspector = sa.inspect(conn)
    if inspector.has_table(schema.incident_categories.name):
        pairs = rows("SELECT category, subcategory FROM incident_categories")
    else:  # a city on its own database without CityWall's catalogue table: the categories its incidents have
        pairs = rows("SELECT category, subcategory FROM v_open_incidents UNION"
                     " SELECT category, subcategory FROM v_incident_reports_recent")
    for category, sub in pairs:
        subs = categories.setdefault(str(category), set())
        if sub is not None:
            subs.add(str(sub))
    return Known(indicators={str(i): str(lv) for i, lv in rows("SELECT indicator_id, level FROM v_indicators")},
                 categories=categories,
                 resource_types={str(t) for (t,) in rows("SELECT resource_type FROM v_resource_types")})


def merge_known(*parts: Known) -> Known:
    indicators: dict[str, str] = {}
    categories: dict[str, set[str]] = {}
    types: set[str] = set()
    for part in parts:
        indicators.update(part.indicators)
        for category, subs in part.categories.items():
            categories.setdefault(category, set()).update(subs)
        types.update(part.resource_types)
    return Known(indicators=indicators, categories=categories, resource_types=types)


def write_scenarios(conn: Connection, rows: ScenarioCatalogueRows) -> ScenarioSummary:
    """Replace the catalogue with ``rows`` (inside the caller's transaction)."""
    before = {str(s) for (s,) in conn.execute(sa.select(schema.scenarios.c.scenario_id))}
    for table in _TABLES:
        conn.execute(table.delete())
    for table, batch in ((schema.scenarios, rows.scenarios), (schema.scenario_indicators, rows.indicators),
                         (schema.scenario_categories, rows.categories),
                         (schema.scenario_resource_types, rows.resource_types), (schema.scenario_steps, rows.steps)):
        if batch:
            conn.execute(table.insert(), batch)
    kept = {r["scenario_id"] for r in rows.scenarios}
    return ScenarioSummary(path=rows.path, scenarios=len(rows.scenarios), steps=len(rows.steps),
                           removed=len(before - kept))


CATALOGUE_TABLES = (schema.scenarios, schema.scenario_indicators, schema.scenario_categories,
                    schema.scenario_resource_types, schema.scenario_steps)


def citywall_database(engine: Engine) -> bool:
    """Whether CityWall made this database (init_db's ``citywall_meta``): else it is a city's own,
    whose views CityWall must never rebuild (docs/own-database.md)."""
    return sa.inspect(engine).has_table(schema.meta.name)


def load_scenarios(engine: Engine, *, path: Path) -> ScenarioSummary:
    """``citywall load-scenarios FILE``: check the file against the database, then replace the
    catalogue. On a city's own database only the five catalogue tables are made when missing
    (its views 40-44 read them: docs/own-database.md); nothing else is touched."""
    rows = parse_scenarios(Path(path), known_in_database(engine))
    with engine.begin() as conn:
        schema.metadata.create_all(conn, tables=list(CATALOGUE_TABLES), checkfirst=True)
        return write_scenarios(conn, rows)
