"""Field resources (issue 13, item 5): patrol teams, pump trucks, repair crews, emergency teams, read
from ``v_resources`` (a resource without a position has NULL lat/lon: listed, never dropped)."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy.engine import Engine

from data_access.sql import read_frame

RESOURCE_COLUMNS = ("resource_id", "type", "name", "name_en", "status", "lat", "lon", "area_code", "updated_at",
                    "period_s", "assigned_incident_id")
_ORDER = " ORDER BY r.type, r.resource_id"


def resources_in_area(*, engine: Engine, area_code: str, types: Sequence[str] | None = None) -> pd.DataFrame:
    """The resources in an area: a street's own; a district's own and its streets'; the city's every one
    (an unknown area: none). ``types``: only these resource types (None: every type; empty: none)."""
    columns = ", ".join(f"r.{c}" for c in RESOURCE_COLUMNS)
    if types is not None and not types:
        return read_frame(engine, f"SELECT {columns} FROM v_resources r WHERE 1 = 0", times_in=("updated_at",))
    type_clause = " AND r.type IN :types" if types is not None else ""
    params: dict[str, object] = {"code": area_code}
    expanding: tuple[str, ...] = ()
    if types is not None:
        params["types"] = sorted({str(t) for t in types})
        expanding = ("types",)
    sql = f"""
        SELECT {columns} FROM v_resources r
        WHERE (EXISTS (SELECT 1 FROM v_areas c WHERE c.area_code = :code AND c.level = 'city')
               OR r.area_code = :code
               OR r.area_code IN (SELECT s.area_code FROM v_areas s WHERE s.parent_code = :code)){type_clause}
        {_ORDER}"""
    return read_frame(engine, sql, params, times_in=("updated_at",), expanding=expanding)


def resource_types(*, engine: Engine) -> pd.DataFrame:
    """Every resource type with its names (``v_resource_types``), in display order."""
    return read_frame(engine, "SELECT resource_type, name, name_en, sort_order FROM v_resource_types"
                              " ORDER BY sort_order, resource_type")
