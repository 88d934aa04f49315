"""Reads of ``v_operator_actions``: what the actions module (actions/) checks before and inside its
one write, and what the scenario state and boards read (acknowledgements, checklist marks).

Each read takes an engine or a connection: ``actions.store.record_action`` asks inside the
transaction of its INSERT, so two requests at once cannot both mark a step done.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access.sql import statement, times, utc_text

ACTION_COLUMNS = ("action_id", "at", "principal", "role", "screen", "kind", "scenario_id", "area_code", "scope_code",
                  "step_id", "step_state", "comment", "activation_since", "request_id")
_SELECT = f"SELECT {', '.join(ACTION_COLUMNS)} FROM v_operator_actions"


def _frame(connectable: Engine | Connection, sql: str, params: dict[str, object],
           expanding: tuple[str, ...] = ()) -> pd.DataFrame:
    query = statement(sql, expanding)
    # Rows through SQLAlchemy itself (pandas would wrap a database error in its own DatabaseError).
    if isinstance(connectable, Connection):
        rows = connectable.execute(query, params).all()
    else:
        with connectable.connect() as conn:
            rows = conn.execute(query, params).all()
    return times(pd.DataFrame([tuple(r) for r in rows], columns=list(ACTION_COLUMNS)), ("at", "activation_since"))


def actions_of(connectable: Engine | Connection, *, scenario_id: str, area_code: str,
               since: datetime | None = None, kinds: Sequence[str] = ()) -> pd.DataFrame:
    """The actions on one scenario in one area (of ``kinds``; made at or after ``since``: None, any),
    oldest first: every column of v_operator_actions."""
    sql = f"{_SELECT} WHERE scenario_id = :scenario_id AND area_code = :area_code"
    params: dict[str, object] = {"scenario_id": scenario_id, "area_code": area_code}
    expanding: tuple[str, ...] = ()
    if since is not None:
        sql += " AND at >= :since"
        params["since"] = utc_text(since)
    if kinds:
        sql += " AND kind IN :kinds"
        params["kinds"] = list(kinds)
        expanding = ("kinds",)
    return _frame(connectable, sql + " ORDER BY at, action_id", params, expanding)


def recent_actions(connectable: Engine | Connection, *, since: datetime, until: datetime | None = None) -> pd.DataFrame:
    """Every action made at or after ``since`` (and before ``until``: None, up to now), oldest first
    (what the scenario state and the shift log read)."""
    params: dict[str, object] = {"since": utc_text(since)}
    sql = f"{_SELECT} WHERE at >= :since"
    if until is not None:
        sql += " AND at < :until"
        params["until"] = utc_text(until)
    return _frame(connectable, sql + " ORDER BY at, action_id", params)


def action_id_of(connectable: Engine | Connection, *, request_id: str) -> int | None:
    """The action written for ``request_id`` (None: none was)."""
    query = sa.text("SELECT action_id FROM v_operator_actions WHERE request_id = :request_id")
    if isinstance(connectable, Connection):
        found = connectable.execute(query, {"request_id": request_id}).scalar_one_or_none()
    else:
        with connectable.connect() as conn:
            found = conn.execute(query, {"request_id": request_id}).scalar_one_or_none()
    return None if found is None else int(found)
