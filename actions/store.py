"""The one write the app makes: an INSERT into ``operator_actions`` (SQLAlchemy Core on the schema
table), through its own engine on ``settings.actions_url`` (CITYWALL_ACTIONS_DATABASE_URL, else
the database URL) — never the app's read-only engine, never through the views the pages read.

Nothing is read or connected at import time: ``actions_engine`` makes the engine on first use.
``record_action`` inserts in one transaction and, still inside it, asks ``conflict`` whether the
new row clashes with another (a step already done, a takeover already acknowledged); a clash rolls
the row back. On PostgreSQL the transaction first takes an advisory lock on the scenario x area, so
two requests at once are checked one after the other; SQLite lets one writer in at a time anyway
(the INSERT takes the write lock, the check runs after it). ``request_id`` is UNIQUE in the table:
a replayed request is refused by the database itself and writes nothing.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema
from data_access.db import make_engine
from data_access.operator_actions import action_id_of
from data_access.settings import Settings

ACTIONS_POOL_SIZE = 2  # actions are rare: a small pool beside the app's read pool

_engines: dict[tuple[str, float], Engine] = {}
_engines_lock = threading.Lock()


@dataclass(frozen=True)
class ActionRow:
    """One audited action: who (principal, role), when (at, naive UTC), what (kind, scenario, area,
    wall scope, step, state, comment, the activation it belongs to) and which screen."""
    at: datetime
    principal: str
    role: str
    screen: str
    kind: str
    scenario_id: str
    area_code: str
    request_id: str
    scope_code: str | None = None
    step_id: str | None = None
    step_state: str | None = None
    comment: str | None = None
    activation_since: datetime | None = None


class Replayed(Exception):
    """A row with this request_id exists: the request was sent before."""


class Conflict(Exception):
    """The new row clashes with another (``message_key`` says how); it was rolled back."""

    def __init__(self, message_key: str) -> None:
        super().__init__(message_key)
        self.message_key = message_key


def actions_engine(settings: Settings) -> Engine:
    """The engine actions are written through (one per URL and process, made on first use):
    read-write sessions, each statement bounded by CITYWALL_STATEMENT_TIMEOUT_S."""
    key = (settings.actions_url, settings.statement_timeout_s)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = make_engine(settings.actions_url, pool_size=ACTIONS_POOL_SIZE,
                                 statement_timeout_s=settings.statement_timeout_s)
            _engines[key] = engine
        return engine


def _lock_key(row: ActionRow) -> int:
    """A signed 64-bit advisory lock key for the row's scenario x area."""
    digest = hashlib.blake2b(f"citywall-action\0{row.scenario_id}\0{row.area_code}".encode("utf-8", "replace"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


Check = Callable[[Connection, int], str | None]


def record_action(engine: Engine, row: ActionRow, *, conflict: Check | None = None) -> int:
    """INSERT ``row`` into operator_actions and return its action_id. ``conflict(conn, action_id)``
    runs inside the same transaction after the INSERT and returns a message key to roll it back
    (raised as Conflict). Raises Replayed when the request_id was used already."""
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(row))))
            # inline(): no RETURNING (it would need SELECT on the table); the id is read back through the view.
            conn.execute(sa.insert(schema.operator_actions).values(**asdict(row)).inline())
            action_id = action_id_of(conn, request_id=row.request_id)
            if action_id is None:
                raise RuntimeError("the action was inserted but v_operator_actions does not show it")
            if conflict is not None:
                clash = conflict(conn, action_id)
                if clash:
                    raise Conflict(clash)
            return action_id
    except sa.exc.IntegrityError:
        if action_id_of(engine, request_id=row.request_id) is not None:
            raise Replayed(row.request_id) from None
        raise
