"""Areas: the one rule of area codes, the reads of ``v_areas``, the lineage of an area (nearest
first) and the scope check that every reader and the security layer use.

Area codes: 1 to 32 of ``0-9 A-Z a-z _ . -`` — what the importers enforce (importers/common.py
CODE_PATTERN) and what pages, the wall's scope, users' scopes and the incident list accept.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access.models import Area
from data_access.sql import read_frame

CODE_PATTERN = re.compile(r"^[0-9A-Za-z_.-]{1,32}$")
MAX_DEPTH = 5  # city, district, street (and a margin); the bound also guards against cycles
LINEAGE_TTL_S = 300.0
LINEAGE_ENTRIES = 10_000
_AREA_COLUMNS = "area_code, level, parent_code, name, name_en, center_lat, center_lon"


def valid_code(code: object) -> bool:
    """Whether ``code`` looks like an area code at all (length and characters), before any query."""
    return isinstance(code, str) and bool(CODE_PATTERN.match(code))


def _area(row: sa.Row) -> Area:
    return Area(**{key: row._mapping[key] for key in Area.__dataclass_fields__})


def city_area(*, engine: Engine) -> Area | None:
    """The city itself (the one area of level 'city'), or None on an empty database."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            f"SELECT {_AREA_COLUMNS} FROM v_areas WHERE level = 'city' ORDER BY area_code LIMIT 1"
        )).first()
    return _area(row) if row else None


def area_by_code(*, engine: Engine, area_code: str) -> Area | None:
    """The area with this code, or None when there is no such area."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(f"SELECT {_AREA_COLUMNS} FROM v_areas WHERE area_code = :code"), {"code": area_code}
        ).first()
    return _area(row) if row else None


def areas_at_level(*, engine: Engine, level: str, parent_code: str | None = None) -> list[Area]:
    """All areas of one level (optionally under one parent), in display order."""
    sql = f"SELECT {_AREA_COLUMNS} FROM v_areas WHERE level = :level"
    params: dict[str, object] = {"level": level}
    if parent_code is not None:
        sql += " AND parent_code = :parent_code"
        params["parent_code"] = parent_code
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql + " ORDER BY sort_order, area_code"), params).all()
    return [_area(row) for row in rows]


def children_or_one(parent_code: str | None, area_code: str | None) -> tuple[str, str]:
    """(column, value) of a read of the children of ``parent_code`` or of the one ``area_code``."""
    if (parent_code is None) == (area_code is None):
        raise ValueError("give exactly one of parent_code and area_code")
    return ("parent_code", parent_code) if parent_code is not None else ("area_code", area_code)  # type: ignore[return-value]


def area_shapes(*, engine: Engine, parent_code: str | None = None, area_code: str | None = None) -> pd.DataFrame:
    """Areas with their GeoJSON boundary: the children of ``parent_code`` or the one ``area_code``."""
    column, value = children_or_one(parent_code, area_code)
    return read_frame(
        engine,
        "SELECT area_code, level, parent_code, name, name_en, geojson, center_lat, center_lon, sort_order"
        f" FROM v_areas WHERE {column} = :value ORDER BY sort_order, area_code",
        {"value": value},
    )


def areas_below(*, engine: Engine, area_code: str) -> set[str]:
    """The area and every area below it (a district's streets, the city's districts and streets)."""
    areas = read_frame(engine, "SELECT area_code, parent_code FROM v_areas")
    children: dict[str, list[str]] = {}
    for code, parent in zip(areas["area_code"], areas["parent_code"], strict=True):
        if parent is not None and not pd.isna(parent):
            children.setdefault(str(parent), []).append(str(code))
    out: set[str] = set()
    todo = [area_code]
    while todo:
        code = todo.pop()
        if code not in out:
            out.add(code)
            todo.extend(children.get(code, []))
    return out


# --- lineage -------------------------------------------------------------------------------------

def area_chain(*, engine: Engine, area_code: object) -> list[Area]:
    """The area and its ancestors up to the city, nearest first (a street, its district, the city);
    ``[]`` when the code is malformed or unknown. (Breadcrumbs want it city first: reverse it.)"""
    if not valid_code(area_code):
        return []
    chain: list[Area] = []
    code: str | None = area_code  # type: ignore[assignment]
    while code is not None and len(chain) < MAX_DEPTH:
        area = area_by_code(engine=engine, area_code=code)
        if area is None:
            break
        chain.append(area)
        code = area.parent_code
    return chain


class Lineage:
    """``lineage(code)``: the codes of ``area_chain`` (nearest first), kept LINEAGE_TTL_S seconds per
    code ((): malformed or unknown). One per runtime: what scope checks ask on every request.
    ``lineage.level(code)``: the area's own declared level (v_areas.level), from the same read — never
    its depth, which a city whose hierarchy skips or adds a level does not follow."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._kept: dict[str, tuple[float, tuple[str, ...], str | None]] = {}
        self._guard = threading.Lock()

    def _read(self, area_code: object) -> tuple[tuple[str, ...], str | None]:
        if not valid_code(area_code):
            return (), None
        now = time.monotonic()
        with self._guard:
            hit = self._kept.get(area_code)  # type: ignore[arg-type]
        if hit and hit[0] > now:
            return hit[1], hit[2]
        chain = area_chain(engine=self._engine, area_code=area_code)
        codes, level = tuple(a.area_code for a in chain), (chain[0].level if chain else None)
        with self._guard:
            if len(self._kept) > LINEAGE_ENTRIES:
                self._kept.clear()
            self._kept[area_code] = (now + LINEAGE_TTL_S, codes, level)  # type: ignore[index]
        return codes, level

    def __call__(self, area_code: object) -> tuple[str, ...]:
        return self._read(area_code)[0]

    def level(self, area_code: object) -> str | None:
        """The area's declared level ('city', 'district', 'street'); None: malformed or unknown."""
        return self._read(area_code)[1]


# --- scope ---------------------------------------------------------------------------------------

LineageOf = Callable[[object], Sequence[str]]


class OutsideScope(PermissionError):
    """The area is outside the principal's scope; ``str()`` says which, never any data."""


def within_scope(lineage_of: LineageOf, area_code: str | None, scope: str | None, *,
                 ancestors: bool = False) -> bool:
    """Whether a principal scoped to ``scope`` (None: the whole city) may read ``area_code`` (None:
    the whole city): the area is the scope or lies inside it; with ``ancestors``, the area may also
    be one of the scope's ancestors (the city's vital signs shown on a district's wall)."""
    if scope is None:
        return True
    if area_code is None or area_code == "":
        return ancestors and area_code is None  # the city is every scope's ancestor
    if scope in lineage_of(area_code):
        return True
    return ancestors and area_code in lineage_of(scope)


def require_within(lineage_of: LineageOf, area_code: str | None, scope: str | None, *,
                   ancestors: bool = False) -> None:
    """``within_scope`` or raise OutsideScope."""
    if not within_scope(lineage_of, area_code, scope, ancestors=ancestors):
        raise OutsideScope(f"area {str(area_code)[:40]!r} is outside the scope {scope}")
