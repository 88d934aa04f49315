"""The simulator's own tables (not part of the view contract; created here, not in schema.py) and
its key-value resume state. Everything a restarted simulator needs lives in these and the base tables.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema
from data_access.upsert import upsert

sim_metadata = sa.MetaData()

sim_state = sa.Table(
    "sim_state", sim_metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

sim_episodes = sa.Table(
    "sim_episodes", sim_metadata,
    sa.Column("episode_key", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("area_code", sa.String(32), nullable=False),
    sa.Column("start_at", schema.UtcDateTime, nullable=False),
    sa.Column("end_at", schema.UtcDateTime, nullable=False),
    sa.Column("ramp_s", sa.Integer, nullable=False),
)

# One row per incident not yet closed: its planned (possibly future) lifecycle. Deleted on close.
sim_incident_plan = sa.Table(
    "sim_incident_plan", sim_metadata,
    sa.Column("incident_id", sa.String(64), primary_key=True),
    sa.Column("reported_at", schema.UtcDateTime, nullable=False),
    sa.Column("dispatched_at", schema.UtcDateTime, nullable=False),
    sa.Column("started_at", schema.UtcDateTime, nullable=False),
    sa.Column("first_resolved_at", schema.UtcDateTime, nullable=False),
    sa.Column("reopen_at", schema.UtcDateTime),  # verification fails here (NULL: it passes)
    sa.Column("resolved_at", schema.UtcDateTime, nullable=False),  # final resolution
    sa.Column("closed_at", schema.UtcDateTime, nullable=False),
    sa.Column("next_at", schema.UtcDateTime),  # the next planned transition after the current state
)
sa.Index("ix_sim_incident_plan_next", sim_incident_plan.c.next_at)

# One row per incident a field resource was sent to, with the dispatch's whole timeline
# (feeder/resources.py); pruned a day after the resource is back.
sim_dispatches = sa.Table(
    "sim_dispatches", sim_metadata,
    sa.Column("incident_id", sa.String(64), primary_key=True),
    sa.Column("resource_id", sa.String(64), nullable=False),
    sa.Column("dispatched_at", schema.UtcDateTime, nullable=False),
    sa.Column("arrive_at", schema.UtcDateTime, nullable=False),
    sa.Column("leave_at", schema.UtcDateTime, nullable=False),
    sa.Column("back_at", schema.UtcDateTime, nullable=False),
    sa.Column("from_lat", sa.Float, nullable=False),
    sa.Column("from_lon", sa.Float, nullable=False),
    sa.Column("to_lat", sa.Float, nullable=False),
    sa.Column("to_lon", sa.Float, nullable=False),
    sa.Column("base_lat", sa.Float, nullable=False),
    sa.Column("base_lon", sa.Float, nullable=False),
)


def create_sim_tables(engine: Engine | Connection) -> None:
    sim_metadata.create_all(engine, checkfirst=True)


def get_state(conn: Connection, key: str) -> str | None:
    return conn.execute(sa.select(sim_state.c.value).where(sim_state.c.key == key)).scalar_one_or_none()


def set_state(conn: Connection, key: str, value: str) -> None:
    upsert(conn, sim_state, [{"key": key, "value": value}])
