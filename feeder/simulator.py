"""A seeded, replayable simulator of the demo city: vital-sign readings, incidents and episodes.

Determinism: a reading's value is a pure function of (seed, indicator, area, ts) and the episodes
active at ts (hash-seeded noise, no generator state carried between steps); incident arrivals
come from one numpy Generator per local day (and one per episode), seeded from the seed and the
day, so a restart, or a different step cadence, replays the same city. Incident ids are serials
per local day assigned in arrival order, so they are stable as well.

Incident lifecycles are planned when an incident arrives (all future timestamps, kept in the
simulator-only table ``sim_incident_plan``); ``step`` promotes incidents whose planned times
have passed, so nothing is ever written with a timestamp in the future.
"""
from __future__ import annotations

import hashlib
import logging
import math
import threading
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema
from data_access.db import init_db, make_engine, utc_now
from data_access.settings import DEFAULT_PACK, Settings
from feeder.pack import indicator_rows, load_city_pack, read_categories, read_indicator_catalogue, upsert
from feeder.rollups import DEFAULT_POLICY, RetentionPolicy, apply_retention, roll_up

LOG = logging.getLogger("citywall.feeder")
EPOCH = datetime(1970, 1, 1)
BATCH_ROWS = 5000
CATCHUP_S = 600  # step() fills at most this much of a reading gap; older gaps stay gaps
INCIDENT_CATCHUP_S = 86400  # arrivals missed while the feeder was down, at most one day of them
RETENTION_EVERY_S = 600
SCALE_SEP = "__"
# Reporting periods of the catalogue's scaled copies (--scale): a city platform's realistic mix,
# not the pack's 78 periods repeated (SCADA-style 5-10 s feeds are few; most sensors report every
# minute or five; air and water quality hourly). Shares, summing to 1.
COPY_PERIOD_MIX: tuple[tuple[int, float], ...] = (
    (5, 0.05), (10, 0.05), (30, 0.10), (60, 0.30), (300, 0.30), (900, 0.10), (3600, 0.10),
)

# --- simulator-only tables (not part of the view contract; created here, not in schema.py) ---------

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


# --- episodes as data -----------------------------------------------------------------------------

@dataclass(frozen=True)
class EpisodeKind:
    """What an episode does to the city, as data."""

    name: str
    factor_column: str  # catalogue column with each indicator's multiplier at full intensity
    alarm_min_factor: float  # district indicators with a factor this large are driven past alarm_high
    alarm_overshoot: float  # ... to at least alarm_high x this at full intensity
    city_effect: float  # share of the effect on city-level indicators (the storm hits one district)
    incident_category: str  # extra incidents of this category in the affected area
    incidents_per_hour: float  # at full intensity
    duration_s: int
    ramp_s: int


EPISODE_KINDS: dict[str, EpisodeKind] = {
    "rainstorm": EpisodeKind(
        name="rainstorm", factor_column="sim_rain_factor", alarm_min_factor=10.0, alarm_overshoot=1.5,
        city_effect=0.35, incident_category="waterlogging", incidents_per_hour=20.0,
        duration_s=90 * 60, ramp_s=30 * 60,
    ),
}


@dataclass(frozen=True)
class ScheduledEpisode:
    """An episode placed in the back-filled history, relative to the back-fill's ``now``."""

    kind: str
    area_code: str | None  # None: the pack's default storm district
    days_ago: int
    local_start: time
    duration_s: int
    ramp_s: int


# A 4-hour afternoon rainstorm three days back, building up over 90 minutes.
HISTORY_EPISODES: tuple[ScheduledEpisode, ...] = (
    ScheduledEpisode("rainstorm", "310115", days_ago=3, local_start=time(14, 30), duration_s=4 * 3600,
                     ramp_s=90 * 60),
)
DEFAULT_STORM_DISTRICT = "310115"
MIN_SCALED_BOUND = 20.0  # below this a district's share of a city bound is too small a number to judge by  # 浦东新区


@dataclass(frozen=True)
class Episode:
    kind: str
    area_code: str
    start: datetime
    end: datetime
    ramp_s: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.area_code}:{self.start:%Y%m%dT%H%M%S}"

    def intensity(self, t: np.ndarray) -> np.ndarray:
        """0..1 at epoch seconds ``t``: linear ramp up, plateau, linear ramp down."""
        s, e = _epoch(self.start), _epoch(self.end)
        ramp = max(1.0, min(float(self.ramp_s), (e - s) / 2))
        up = np.clip((t - s) / ramp, 0.0, 1.0)
        down = np.clip((e - t) / ramp, 0.0, 1.0)
        return np.where((t >= s) & (t <= e), np.minimum(up, down), 0.0)


def parse_episode(spec: str, *, now: datetime) -> Episode:
    """``kind:area[:minutes]`` (e.g. ``rainstorm:310115`` or ``rainstorm:310115:45``), starting now."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[0] not in EPISODE_KINDS or not parts[1]:
        raise ValueError(f"episode {spec!r}: expected KIND:AREA[:MINUTES], KIND in {sorted(EPISODE_KINDS)}")
    kind = EPISODE_KINDS[parts[0]]
    duration = int(float(parts[2]) * 60) if len(parts) == 3 else kind.duration_s
    if duration <= 0:
        raise ValueError(f"episode {spec!r}: duration must be positive")
    end = now + timedelta(seconds=duration)
    return Episode(parts[0], parts[1], now, end, min(kind.ramp_s, duration // 3))


def start_episode(engine: Engine, *, episode: Episode) -> None:
    """Record an episode; every running simulator on this database picks it up at its next step."""
    create_sim_tables(engine)
    with engine.begin() as conn:
        upsert(conn, sim_episodes, [{
            "episode_key": episode.key, "kind": episode.kind, "area_code": episode.area_code,
            "start_at": episode.start, "end_at": episode.end, "ramp_s": int(episode.ramp_s),
        }])


# --- configuration and results ---------------------------------------------------------------------

@dataclass(frozen=True)
class SimConfig:
    pack_dir: Path = DEFAULT_PACK
    seed: int = 20261123
    scale: int = 1
    timezone: str = "Asia/Shanghai"
    backfill_days: int = 7  # history written on first run (older than retention.raw_s: roll-ups only)
    id_prefix: str = "SH"
    retention: RetentionPolicy = DEFAULT_POLICY  # raw readings / minute / hourly roll-ups kept

    @classmethod
    def from_settings(cls, settings: Settings) -> SimConfig:
        return cls(pack_dir=Path(settings.city_pack), seed=settings.feeder_seed, scale=settings.feeder_scale,
                   timezone=settings.timezone, backfill_days=settings.backfill_days)


@dataclass(frozen=True)
class StepStats:
    readings: int = 0
    incidents: int = 0
    transitions: int = 0
    deleted_readings: int = 0
    rolled_minutes: int = 0  # minute roll-up rows written by this step (0: no minute finished)
    rolled_hours: int = 0
    rollup_seconds: float = 0.0
    seconds: float = 0.0


@dataclass(frozen=True)
class BackfillStats:
    readings: int
    incidents: int
    open_incidents: int
    seconds: float


# --- deterministic noise -----------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


def stable_key(*parts: object) -> int:
    """A 64-bit key from text, stable across processes and Python versions (unlike hash())."""
    digest = hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _mix(x: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser; uint64 arithmetic wraps, which is the point.
    with np.errstate(over="ignore"):
        x = (x ^ (x >> _S30)) * _C1
        x = (x ^ (x >> _S27)) * _C2
        return x ^ (x >> _S31)


def hash_uniform(keys: np.ndarray, t: np.ndarray, salt: int) -> np.ndarray:
    """Uniform [0, 1) for every (key, t) pair, broadcasting ``keys`` (n, 1) against ``t`` (m,)."""
    with np.errstate(over="ignore"):
        k = _mix(np.asarray(keys, dtype=np.uint64) ^ np.uint64(salt))
        h = _mix(k ^ (np.asarray(t).astype(np.uint64) * _GOLDEN))
    return (h >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)


def hash_normal(keys: np.ndarray, t: np.ndarray, salt: int) -> np.ndarray:
    u1 = hash_uniform(keys, t, salt)
    u2 = hash_uniform(keys, t, salt + 0x5151)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def _smooth_normal(keys: np.ndarray, t: np.ndarray, period: int, salt: int) -> np.ndarray:
    """Unit-variance value noise: normals at knots every ``period`` s, smoothly interpolated."""
    k = t // period
    f = (t % period) / period
    s = f * f * (3.0 - 2.0 * f)
    a = hash_normal(keys, k, salt)
    b = hash_normal(keys, k + 1, salt)
    return (a * (1.0 - s) + b * s) / np.sqrt((1.0 - s) ** 2 + s**2)


def series_noise(keys: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Standard-normal-ish noise: white + 10-minute wander + 6-hour drift (so charts look alive)."""
    z = (0.5 * hash_normal(keys, t, 1) + 0.6 * _smooth_normal(keys, t, 600, 2)
         + 0.6 * _smooth_normal(keys, t, 21600, 3))
    return np.clip(z, -3.0, 3.0)


# --- daily rhythms (local time) -----------------------------------------------------------------------

def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _bump(h: np.ndarray, center: float, width: float) -> np.ndarray:
    d = (h - center + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (d / width) ** 2)


def _mask(h: np.ndarray, rise: float, fall: float, soft: float = 2.5) -> np.ndarray:
    hh = np.where(h < 4.0, h + 24.0, h)  # the small hours belong to the previous evening
    return _smoothstep((hh - rise) / soft) * (1.0 - _smoothstep((hh - fall) / soft))


def rhythm(h: np.ndarray, kind: str, night_ratio: float) -> np.ndarray:
    """Multiplier of the typical daytime value at local hour ``h`` (0..24, fractional)."""
    nr = night_ratio
    if kind == "commute":
        shape = 0.85 * _mask(h, 5.5, 21.0) + 0.5 * _bump(h, 8.25, 1.0) + 0.45 * _bump(h, 18.0, 1.2)
    elif kind == "day":
        shape = _mask(h, 5.5, 21.0) * (1.0 + 0.12 * _bump(h, 14.5, 2.5))
    elif kind == "evening":
        shape = 0.8 * _mask(h, 8.5, 22.5) + 0.45 * _bump(h, 20.0, 1.6)
    else:  # flat, night (night_ratio > 1: higher at night), anything unknown
        shape = _mask(h, 5.5, 21.0)
    return nr + (1.0 - nr) * shape


# Incident arrivals over the local day: quiet at night, busiest late morning and afternoon.
_HOURS = np.arange(24) + 0.5
_INCIDENT_PROFILE = 0.2 + 0.8 * _mask(_HOURS, 5.0, 21.5) + 0.25 * _bump(_HOURS, 10.0, 2.0) \
    + 0.2 * _bump(_HOURS, 15.5, 2.0)
_INCIDENT_PROFILE = _INCIDENT_PROFILE / _INCIDENT_PROFILE.mean()


# --- helpers -------------------------------------------------------------------------------------

def _epoch(moment: datetime) -> int:
    return int((moment.replace(tzinfo=None, microsecond=0) - EPOCH).total_seconds())


def _dt(epoch_s: int | float | np.integer) -> datetime:
    return EPOCH + timedelta(seconds=int(epoch_s))


def _floor(t: int, period: int) -> int:
    return t - t % period


def _ceil(t: int, period: int) -> int:
    return -((-t) // period) * period


def create_sim_tables(engine: Engine | Connection) -> None:
    sim_metadata.create_all(engine, checkfirst=True)


def _insert_ignore(conn: Connection, table: sa.Table) -> sa.Insert:
    """INSERT that skips rows whose key exists: writing the same reading twice is harmless."""
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        return table.insert()
    return dialect_insert(table).on_conflict_do_nothing()


def _executemany(conn: Connection, stmt: sa.Executable, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH_ROWS):
        conn.execute(stmt, list(rows[start:start + BATCH_ROWS]))


# --- the model -------------------------------------------------------------------------------------

@dataclass
class _Indicator:
    indicator_id: str
    level: str
    period_s: int
    rhythm: str
    night_ratio: float
    noise: float
    decimals: int
    kind: str
    base: float
    aggregate: str  # sum | mean: how the city series follows the districts'
    alarm_high: float | None
    factors: dict[str, float]  # episode kind -> multiplier at full intensity
    area_codes: list[str]  # district series first, the city series last
    keys: np.ndarray  # (n_own_series, 1) uint64: districts (district-level) or the city (city-level)
    scale: np.ndarray  # (n_own_series, 1): each own series' share (sum) or factor (mean) of base


@dataclass
class _Arrivals:
    """A batch of incident arrivals, column-wise (numpy arrays of equal length)."""

    t: np.ndarray
    sub: np.ndarray
    cell: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    number: np.ndarray
    u: np.ndarray  # (n, 6) uniforms for the lifecycle plan
    g: np.ndarray  # (n, 2) standard normals for the lifecycle plan
    stream: int

    def __len__(self) -> int:
        return len(self.t)

    def take(self, mask: np.ndarray) -> _Arrivals:
        return _Arrivals(self.t[mask], self.sub[mask], self.cell[mask], self.lat[mask], self.lon[mask],
                         self.number[mask], self.u[mask], self.g[mask], self.stream)


# Lifecycle: time to first resolution / SLA is log-normal (median 0.45, sigma 0.7: ~87 % of
# first resolutions are inside the SLA); 3 % fail verification and get reworked.
RESOLVE_MEDIAN = 0.45
RESOLVE_SIGMA = 0.7
REOPEN_SHARE = 0.03
REWORK_MEDIAN = 0.15


@dataclass(frozen=True)
class Plan:
    """One incident's whole lifecycle in epoch seconds (reopen_at None: verification passes)."""

    reported: int
    dispatched: int
    started: int
    first_resolved: int
    reopen_at: int | None
    resolved: int
    closed: int

    def milestones(self) -> list[int]:
        points = [self.dispatched, self.started, self.first_resolved]
        if self.reopen_at is not None:
            points += [self.reopen_at, self.resolved]
        return points + [self.closed]

    def state_at(self, now: int) -> dict[str, Any]:
        """Status and timestamps as seen at ``now`` (only times <= now are visible)."""
        state: dict[str, Any] = {"status": "reported", "dispatched_at": None, "started_at": None,
                                 "resolved_at": None, "closed_at": None, "reopened": 0}
        if now >= self.dispatched:
            state.update(status="dispatched", dispatched_at=_dt(self.dispatched))
        if now >= self.started:
            state.update(status="in_progress", started_at=_dt(self.started))
        if now >= self.first_resolved:
            state.update(status="resolved", resolved_at=_dt(self.first_resolved))
        if self.reopen_at is not None and now >= self.reopen_at:
            # Verification failed: back to work, the first resolution no longer counts.
            state.update(status="in_progress", resolved_at=None, reopened=1)
            if now >= self.resolved:
                state.update(status="resolved", resolved_at=_dt(self.resolved))
        if now >= self.closed:
            state.update(status="closed", closed_at=_dt(self.closed))
        return state

    def next_after(self, now: int) -> int | None:
        return next((p for p in self.milestones() if p > now), None)


def make_plan(reported: int, sla_s: float, u: np.ndarray, g: np.ndarray) -> Plan:
    """Plan a lifecycle from pre-drawn random numbers (u: 6 uniforms, g: 2 normals)."""
    total = max(300.0, sla_s * math.exp(math.log(RESOLVE_MEDIAN) + RESOLVE_SIGMA * float(g[0])))
    dispatched = reported + int(max(60.0, total * (0.04 + 0.12 * u[0])))
    started = dispatched + int(max(60.0, total * (0.05 + 0.2 * u[1])))
    first_resolved = max(reported + int(total), started + 120)
    verify = int(min(12 * 3600.0, max(600.0, sla_s * (0.03 + 0.1 * u[2]))))
    if u[3] < REOPEN_SHARE:
        reopen_at = first_resolved + verify
        rework = max(600.0, sla_s * math.exp(math.log(REWORK_MEDIAN) + 0.5 * float(g[1])))
        resolved = reopen_at + int(rework)
        closed = resolved + int(min(12 * 3600.0, max(600.0, sla_s * (0.03 + 0.1 * u[4]))))
        return Plan(reported, dispatched, started, first_resolved, reopen_at, resolved, closed)
    return Plan(reported, dispatched, started, first_resolved, None, first_resolved, first_resolved + verify)


class Simulator:
    """The demo city. Holds only caches; everything it needs to resume lives in the database."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.tz = ZoneInfo(config.timezone)
        catalogue = read_indicator_catalogue(config.pack_dir)
        self.catalogue = scale_catalogue(catalogue, scale=config.scale)
        self.categories = read_categories(config.pack_dir)
        self._prepared_for: int | None = None
        self._indicators: list[_Indicator] = []
        self._next_ts: dict[str, int] = {}
        self._serials: dict[str, int] = {}
        self._day_cache: dict[date, _Arrivals] = {}
        self._episode_cache: dict[str, _Arrivals] = {}
        self._hours_cache: dict[tuple[int, int, int], np.ndarray] = {}
        self._last_retention = 0
        self._next_rollup = 0  # epoch s of the next minute boundary the roll-up waits for

    # -- setup --------------------------------------------------------------------------------

    def prepare(self, engine: Engine) -> None:
        """Create the simulator's tables, insert the scaled catalogue copies, read the city's areas
        and grid cells, and load the resume state (last reading per indicator, id serials)."""
        if self._prepared_for == id(engine):
            return
        create_sim_tables(engine)
        with engine.begin() as conn:
            copies = self.catalogue[self.catalogue["indicator_id"].str.contains(SCALE_SEP, regex=False)]
            if len(copies):
                upsert(conn, schema.indicators, indicator_rows(copies))
            self._load_city(conn)
            upsert(conn, schema.indicator_thresholds, self.district_thresholds())
            self._load_resume_state(conn)
        self._prepared_for = id(engine)

    def district_thresholds(self) -> list[dict[str, Any]]:
        """Bounds for the district series of ``sum`` indicators: the city's bounds times the
        district's share, so a district's power load warns at its own scale. Small counts
        (waterlogging points: a share of 5) keep the city's bounds, where a share would be noise."""
        rows: list[dict[str, Any]] = []
        bounds = self.catalogue.set_index("indicator_id")
        for ind in self._indicators:
            if ind.level != "district" or ind.aggregate != "sum" or ind.indicator_id not in bounds.index:
                continue
            row = bounds.loc[ind.indicator_id]
            limits = {k: None if pd.isna(row[k]) else float(row[k])
                      for k in ("warn_low", "warn_high", "alarm_low", "alarm_high")}
            for code, share in zip(ind.area_codes[:-1], ind.scale[:, 0], strict=True):
                scaled = {k: None if v is None else round(v * float(share), 3) for k, v in limits.items()}
                if scaled["warn_high"] is not None and scaled["warn_high"] < MIN_SCALED_BOUND:
                    continue
                rows.append({"indicator_id": ind.indicator_id, "area_code": code, **scaled})
        return rows

    def _load_city(self, conn: Connection) -> None:
        areas = pd.DataFrame(conn.execute(sa.select(
            schema.areas.c.area_code, schema.areas.c.level, schema.areas.c.parent_code, schema.areas.c.name,
            schema.areas.c.center_lat, schema.areas.c.center_lon, schema.areas.c.sort_order,
        ).order_by(schema.areas.c.sort_order, schema.areas.c.area_code)).mappings().all())
        if areas.empty or not (areas["level"] == "city").any():
            raise RuntimeError("no city area in the database: load a city pack first")
        city = areas[areas["level"] == "city"].iloc[0]
        self.city_code = str(city["area_code"])
        self.districts = areas[areas["level"] == "district"].reset_index(drop=True)
        self.district_codes: list[str] = [str(c) for c in self.districts["area_code"]]
        self.area_names = dict(zip(areas["area_code"], areas["name"], strict=True))
        self.storm_district = (DEFAULT_STORM_DISTRICT if DEFAULT_STORM_DISTRICT in self.district_codes
                               else (self.district_codes[0] if self.district_codes else self.city_code))
        streets = areas[areas["level"] == "street"]
        street_counts = streets.groupby("parent_code").size().to_dict()

        cells = pd.DataFrame(conn.execute(sa.select(
            schema.grid_cells.c.cell_id, schema.grid_cells.c.street_code, schema.areas.c.parent_code,
            schema.grid_cells.c.geojson, schema.grid_cells.c.center_lat, schema.grid_cells.c.center_lon,
        ).join(schema.areas, schema.areas.c.area_code == schema.grid_cells.c.street_code)
            .order_by(schema.grid_cells.c.cell_id)).mappings().all())
        self.cells = cells.rename(columns={"parent_code": "district_code"})
        if len(cells):
            self.cell_geoms = np.array([shapely.from_geojson(g) if g else None for g in cells["geojson"]],
                                       dtype=object)
            bounds = np.array([g.bounds if g is not None else (np.nan,) * 4 for g in self.cell_geoms])
            self.cell_half_w = np.nan_to_num((bounds[:, 2] - bounds[:, 0]) / 2, nan=0.002)
            self.cell_half_h = np.nan_to_num((bounds[:, 3] - bounds[:, 1]) / 2, nan=0.002)
            # The core is the district with the smallest area per street (old, dense districts),
            # not the city's centroid, which may well sit in the suburbs.
            area = pd.Series([g.area if g is not None else 0.0 for g in self.cell_geoms])
            per_street = (area.groupby(self.cells["district_code"]).sum()
                          / streets.groupby("parent_code").size()).dropna()
            per_street = per_street[per_street > 0]
            core = (cells if per_street.empty
                    else self.cells[self.cells["district_code"] == per_street.idxmin()])
            lat0, lon0 = float(core["center_lat"].mean()), float(core["center_lon"].mean())
            dy = (cells["center_lat"].to_numpy(float) - lat0) * 111.0
            dx = (cells["center_lon"].to_numpy(float) - lon0) * 111.0 * math.cos(math.radians(lat0))
            # Central districts get more incidents per cell; the outskirts still get some.
            weights = 0.15 + np.exp(-np.hypot(dx, dy) / 10.0)
            self.cell_weights = weights / weights.sum()
        # Plain dicts for the per-incident loop (pandas row access is slow there).
        self._cell_records = self.cells.drop(columns=["geojson"]).to_dict("records")
        self._category_records = self.categories.to_dict("records")
        self._indicators = [self._model(row, street_counts) for row in self.catalogue.itertuples(index=False)]

    def _model(self, row: Any, street_counts: dict[str, int]) -> _Indicator:
        seed = self.config.seed
        factors = {name: float(getattr(row, kind.factor_column)) for name, kind in EPISODE_KINDS.items()}
        if row.level == "district" and self.district_codes:
            own = self.district_codes
            aggregate = row.aggregate if row.aggregate in ("sum", "mean") else "mean"
            jitter = np.array([hash_uniform(np.array([stable_key(seed, row.indicator_id, d, "scale")]),
                                            np.array([0]), 9)[0] for d in own])
            if aggregate == "sum":
                # Bigger districts (more streets) carry more of the city's total.
                share = np.array([max(1, street_counts.get(d, 1)) for d in own], float) * (0.7 + 0.6 * jitter)
                scale = share / share.sum()
            else:
                factor = 0.85 + 0.3 * jitter
                scale = factor / factor.mean()
            area_codes = [*own, self.city_code]
        else:
            own, aggregate, scale, area_codes = [self.city_code], "", np.ones(1), [self.city_code]
        keys = np.array([stable_key(seed, row.indicator_id, a) for a in own], dtype=np.uint64)[:, None]
        return _Indicator(
            indicator_id=row.indicator_id, level=row.level, period_s=int(row.period_s),
            rhythm=row.sim_rhythm, night_ratio=float(row.sim_night_ratio), noise=float(row.sim_noise),
            decimals=int(row.sim_decimals),
            kind=row.sim_kind, base=float(row.sim_base), aggregate=aggregate,
            alarm_high=None if pd.isna(row.alarm_high) else float(row.alarm_high), factors=factors,
            area_codes=area_codes, keys=keys, scale=np.asarray(scale, float)[:, None],
        )

    def _load_resume_state(self, conn: Connection) -> None:
        latest = schema.readings_latest
        rows = conn.execute(sa.select(latest.c.indicator_id, sa.func.max(latest.c.ts))
                            .group_by(latest.c.indicator_id)).all()
        periods = {ind.indicator_id: ind.period_s for ind in self._indicators}
        self._next_ts = {iid: _epoch(ts) + periods[iid] for iid, ts in rows
                         if iid in periods and ts is not None}
        self._serials = {}

    def reset(self) -> None:
        """Forget the resume state; the next call reloads it from the database (used after errors)."""
        self._prepared_for = None

    # -- readings -----------------------------------------------------------------------------

    def _local_hours(self, t: np.ndarray) -> np.ndarray:
        key = (int(t[0]), int(t[-1]), len(t))
        cached = self._hours_cache.get(key)
        if cached is not None:
            return cached
        first, last = (self.tz.utcoffset(_dt(x)) for x in (t[0], t[-1]))
        if first == last and first is not None:  # no DST change inside: one offset for all
            hours = ((t + int(first.total_seconds())) % 86400) / 3600.0
        else:
            local = pd.to_datetime(t, unit="s", utc=True).tz_convert(self.tz)
            hours = np.asarray(local.hour + local.minute / 60.0 + local.second / 3600.0, dtype=float)
        if len(self._hours_cache) > 256:
            self._hours_cache.clear()
        self._hours_cache[key] = hours
        return hours

    def values(self, ind: _Indicator, t: np.ndarray, episodes: Sequence[Episode]) -> np.ndarray:
        """Values (len(ind.area_codes), len(t)) at epoch seconds ``t``; pure in (seed, ids, t, episodes)."""
        r = rhythm(self._local_hours(t), ind.rhythm, ind.night_ratio)
        clean = ind.base * ind.scale * r[None, :]
        baseline = clean.copy()  # episodes act on the undisturbed value: overlapping ones don't compound
        noise_sd = np.full(clean.shape, ind.noise)
        for ep in episodes:
            factor = ind.factors.get(ep.kind, 1.0)
            if factor == 1.0:
                continue
            intensity = ep.intensity(t)
            if not intensity.any():
                continue
            kind = EPISODE_KINDS[ep.kind]
            if ind.level == "district" and len(ind.area_codes) > 1:
                own = ind.area_codes[:-1]
                everywhere = ep.area_code == self.city_code
                rows = [i for i, code in enumerate(own) if everywhere or code == ep.area_code]
                weight = intensity
            else:
                rows, weight = [0], intensity * kind.city_effect
            if not rows:
                continue
            part = baseline[rows]
            peak = part * factor
            if (ind.level == "district" and ind.alarm_high is not None and factor >= kind.alarm_min_factor):
                # Rain-driven indicators pass their alarm line at full intensity, whatever the base.
                peak = np.maximum(peak, ind.alarm_high * kind.alarm_overshoot)
                noise_sd[rows] = noise_sd[rows] * (1.0 - 0.8 * weight)
            effect = part + (peak - part) * weight
            # The strongest episode wins (a factor below 1, e.g. speeds in a storm, the lowest value).
            clean[rows] = np.maximum(clean[rows], effect) if factor > 1 else np.minimum(clean[rows], effect)
        value = clean * np.maximum(0.0, 1.0 + noise_sd * series_noise(ind.keys, t))
        if ind.base >= 0:
            value = np.maximum(value, 0.0)
        if ind.kind == "count":
            # Stochastic rounding keeps small counts honest (a mean of 0.3 shows 0 and sometimes 1).
            value = np.floor(value + hash_uniform(ind.keys, t, 77))
        else:
            value = np.round(value, ind.decimals)
        if len(ind.area_codes) > 1:
            city = value.sum(axis=0) if ind.aggregate == "sum" else value.mean(axis=0)
            value = np.vstack([value, np.round(city, ind.decimals)[None, :]])
        return value

    def _reading_rows(self, ind: _Indicator, t: np.ndarray, episodes: Sequence[Episode],
                      stamps: dict[int, datetime]) -> list[dict[str, Any]]:
        values = self.values(ind, t, episodes).tolist()
        times = []
        for x in t.tolist():
            stamp = stamps.get(x)
            if stamp is None:
                stamp = stamps[x] = _dt(x)
            times.append(stamp)
        iid = ind.indicator_id
        return [{"indicator_id": iid, "area_code": code, "ts": ts, "value": v}
                for code, row in zip(ind.area_codes, values, strict=True)
                for ts, v in zip(times, row, strict=True)]

    def _episodes(self, conn: Connection, *, since: datetime) -> list[Episode]:
        rows = conn.execute(sa.select(sim_episodes).where(sim_episodes.c.end_at >= since)
                            .order_by(sim_episodes.c.start_at, sim_episodes.c.episode_key)).mappings().all()
        return [Episode(r["kind"], r["area_code"], r["start_at"], r["end_at"], int(r["ramp_s"]))
                for r in rows if r["kind"] in EPISODE_KINDS]

    # -- incidents ------------------------------------------------------------------------------

    def _local_midnight(self, day: date) -> int:
        return _epoch(datetime.combine(day, time(0), tzinfo=self.tz).astimezone(ZoneInfo("UTC")))

    def _local_date(self, epoch_s: int) -> date:
        return datetime.fromtimestamp(epoch_s, tz=self.tz).date()

    def _finish(self, rng: np.random.Generator, t: np.ndarray, sub: np.ndarray, cell: np.ndarray,
                stream: int) -> _Arrivals:
        n = len(t)
        jitter = rng.random((n, 2)) * 2.0 - 1.0
        number = rng.integers(1, 1000, n)
        u = rng.random((n, 6))
        g = rng.standard_normal((n, 2))
        lat = self.cells["center_lat"].to_numpy(float)[cell]
        lon = self.cells["center_lon"].to_numpy(float)[cell]
        if n:
            # A point near the cell's centre, kept only if it is inside the cell's polygon.
            cand_lon = lon + jitter[:, 0] * self.cell_half_w[cell] * 0.6
            cand_lat = lat + jitter[:, 1] * self.cell_half_h[cell] * 0.6
            geoms = self.cell_geoms[cell]
            ok = np.array([g_ is not None for g_ in geoms])
            inside = np.zeros(n, bool)
            if ok.any():
                inside[ok] = shapely.contains_xy(geoms[ok], cand_lon[ok], cand_lat[ok])
            lat = np.round(np.where(inside, cand_lat, lat), 6)
            lon = np.round(np.where(inside, cand_lon, lon), 6)
        return _Arrivals(t.astype(np.int64), sub.astype(np.int64), cell.astype(np.int64), lat, lon, number,
                         u, g, stream)

    def _day_arrivals(self, day: date) -> _Arrivals:
        cached = self._day_cache.get(day)
        if cached is not None:
            return cached
        start = self._local_midnight(day)
        length = self._local_midnight(day + timedelta(days=1)) - start
        rng = np.random.default_rng([self.config.seed, 7, day.toordinal()])
        rates = self.categories["daily_rate"].to_numpy(float)
        lam = rates[:, None] * _INCIDENT_PROFILE[None, :] / 24.0 * (length / 86400.0)
        counts = rng.poisson(lam).ravel()
        n_sub = len(rates)
        sub = np.repeat(np.repeat(np.arange(n_sub), 24), counts)
        hour = np.repeat(np.tile(np.arange(24), n_sub), counts)
        offset = rng.random(len(sub))
        t = start + ((hour + offset) * (length / 24.0)).astype(np.int64)
        cell = rng.choice(len(self.cells), size=len(sub), p=self.cell_weights)
        arrivals = self._finish(rng, t, sub, cell, stream=0)
        if len(self._day_cache) > 10:
            self._day_cache.clear()
        self._day_cache[day] = arrivals
        return arrivals

    def _episode_arrivals(self, ep: Episode) -> _Arrivals:
        cache_key = f"{ep.key}|{ep.end}|{ep.ramp_s}"  # an episode re-recorded longer is a new plan
        cached = self._episode_cache.get(cache_key)
        if cached is not None:
            return cached
        kind = EPISODE_KINDS[ep.kind]
        rng = np.random.default_rng([self.config.seed, 11, stable_key(ep.key) >> 1])
        cats = self.categories
        subs = np.flatnonzero((cats["category"] == kind.incident_category).to_numpy())
        if ep.area_code == self.city_code:
            cells = np.arange(len(self.cells))
        else:
            cells = np.flatnonzero(((self.cells["district_code"] == ep.area_code)
                                    | (self.cells["street_code"] == ep.area_code)).to_numpy())
        s, e = _epoch(ep.start), _epoch(ep.end)
        n = int(rng.poisson(kind.incidents_per_hour * (e - s) / 3600.0)) if len(subs) and len(cells) else 0
        t = s + (rng.random(n) * (e - s)).astype(np.int64)
        keep = rng.random(n) < ep.intensity(t)
        w = cats["daily_rate"].to_numpy(float)[subs] + 0.5 if len(subs) else np.ones(0)
        sub = rng.choice(subs, size=n, p=w / w.sum()) if n else np.zeros(0, np.int64)
        cw = self.cell_weights[cells] if len(cells) else np.ones(0)
        cell = rng.choice(cells, size=n, p=cw / cw.sum()) if n else np.zeros(0, np.int64)
        arrivals = self._finish(rng, t, sub, cell, stream=1).take(keep)
        self._episode_cache[cache_key] = arrivals
        return arrivals

    def _arrivals_between(self, start: int, end: int,
                          episodes: Sequence[Episode]) -> list[tuple[int, _Arrivals, int]]:
        """Arrivals with start < t <= end, in the one order ids are assigned in."""
        if end <= start or not len(self.cells) or self.categories.empty:
            return []
        batches = []
        day = self._local_date(start)
        while self._local_midnight(day) <= end:
            batches.append(self._day_arrivals(day))
            day += timedelta(days=1)
        for ep in episodes:
            if _epoch(ep.start) <= end and _epoch(ep.end) > start and ep.kind in EPISODE_KINDS:
                batches.append(self._episode_arrivals(ep))
        picked = []
        for batch in batches:
            for i in np.flatnonzero((batch.t > start) & (batch.t <= end)):
                picked.append((int(batch.t[i]), batch, int(i)))
        picked.sort(key=lambda x: (x[0], x[1].stream, int(x[1].sub[x[2]]), x[2]))
        return picked

    def _next_serial(self, conn: Connection, day: str) -> int:
        if day not in self._serials:
            prefix = f"{self.config.id_prefix}{day}"
            last = conn.execute(sa.select(sa.func.max(schema.incidents.c.incident_id))
                                .where(schema.incidents.c.incident_id.like(prefix + "%"))).scalar()
            self._serials[day] = int(last[len(prefix):]) if last and last[len(prefix):].isdigit() else 0
        self._serials[day] += 1
        return self._serials[day]

    def _incident_rows(self, conn: Connection, picked: list[tuple[int, _Arrivals, int]], now: int
                       ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        incidents, plans = [], []
        for t, batch, i in picked:
            cat = self._category_records[int(batch.sub[i])]
            cell = self._cell_records[int(batch.cell[i])]
            sla_s = float(cat["sla_hours"]) * 3600.0
            plan = make_plan(t, sla_s, batch.u[i], batch.g[i])
            local_day = self._local_date(t).strftime("%Y%m%d")
            incident_id = f"{self.config.id_prefix}{local_day}{self._next_serial(conn, local_day):06d}"
            street = self.area_names.get(cell["street_code"], "")
            district = self.area_names.get(cell["district_code"], "")
            state = plan.state_at(now)
            incidents.append({
                "incident_id": incident_id, "category": cat["category"], "subcategory": cat["subcategory"],
                "source": cat["source"] or "patrol", "priority": int(cat["priority"]), **state,
                "title": f"{cat['name']} - {street}",
                "address": f"{district}{street}{int(batch.number[i])}号",
                "lat": float(batch.lat[i]), "lon": float(batch.lon[i]), "cell_id": cell["cell_id"],
                "street_code": cell["street_code"], "district_code": cell["district_code"],
                "reported_at": _dt(t), "due_at": _dt(t + int(round(sla_s))),
            })
            if state["status"] != "closed":
                plans.append(self._plan_row(incident_id, plan, now))
        return incidents, plans

    @staticmethod
    def _plan_row(incident_id: str, plan: Plan, now: int) -> dict[str, Any]:
        nxt = plan.next_after(now)
        return {
            "incident_id": incident_id, "reported_at": _dt(plan.reported),
            "dispatched_at": _dt(plan.dispatched),
            "started_at": _dt(plan.started), "first_resolved_at": _dt(plan.first_resolved),
            "reopen_at": None if plan.reopen_at is None else _dt(plan.reopen_at),
            "resolved_at": _dt(plan.resolved), "closed_at": _dt(plan.closed),
            "next_at": None if nxt is None else _dt(nxt),
        }

    def _write_incidents(self, conn: Connection, start: int, end: int, episodes: Sequence[Episode]) -> int:
        picked = self._arrivals_between(start, end, episodes)
        incidents, plans = self._incident_rows(conn, picked, end)
        _executemany(conn, _insert_ignore(conn, schema.incidents), incidents)
        _executemany(conn, _insert_ignore(conn, sim_incident_plan), plans)
        self._set_state(conn, "incidents_until", _dt(end).isoformat(sep=" "))
        return len(incidents)

    def _promote(self, conn: Connection, now: int) -> int:
        """Apply every planned transition that became due; closed incidents leave the plan table."""
        plan_t = sim_incident_plan
        rows = conn.execute(sa.select(plan_t).where(plan_t.c.next_at <= _dt(now))
                            .order_by(plan_t.c.incident_id)).mappings().all()
        if not rows:
            return 0
        updates, moves, done = [], [], []
        for r in rows:
            reopen = None if r["reopen_at"] is None else _epoch(r["reopen_at"])
            plan = Plan(_epoch(r["reported_at"]), _epoch(r["dispatched_at"]), _epoch(r["started_at"]),
                        _epoch(r["first_resolved_at"]), reopen, _epoch(r["resolved_at"]),
                        _epoch(r["closed_at"]))
            state = plan.state_at(now)
            updates.append({f"b_{k}": v for k, v in state.items()} | {"b_id": r["incident_id"]})
            nxt = plan.next_after(now)
            if nxt is None:
                done.append({"b_id": r["incident_id"]})
            else:
                moves.append({"b_id": r["incident_id"], "b_next": _dt(nxt)})
        inc = schema.incidents
        _executemany(conn, inc.update().where(inc.c.incident_id == sa.bindparam("b_id")).values(
            {k: sa.bindparam(f"b_{k}") for k in
             ("status", "dispatched_at", "started_at", "resolved_at", "closed_at", "reopened")}), updates)
        if moves:
            _executemany(conn, plan_t.update().where(plan_t.c.incident_id == sa.bindparam("b_id"))
                         .values(next_at=sa.bindparam("b_next")), moves)
        if done:
            _executemany(conn, plan_t.delete().where(plan_t.c.incident_id == sa.bindparam("b_id")), done)
        return len(rows)

    # -- state --------------------------------------------------------------------------------

    @staticmethod
    def _get_state(conn: Connection, key: str) -> str | None:
        return conn.execute(sa.select(sim_state.c.value).where(sim_state.c.key == key)).scalar_one_or_none()

    @staticmethod
    def _set_state(conn: Connection, key: str, value: str) -> None:
        upsert(conn, sim_state, [{"key": key, "value": value}])

    def needs_backfill(self, engine: Engine) -> bool:
        """True when readings are empty, or a back-fill was started and never finished."""
        create_sim_tables(engine)
        with engine.connect() as conn:
            empty = conn.execute(sa.select(schema.readings.c.ts).limit(1)).first() is None
            started = self._get_state(conn, "backfill_started") is not None
            done = self._get_state(conn, "backfill_done") is not None
        return empty or (started and not done)

    # -- the two entry points ----------------------------------------------------------------------

    def backfill(self, engine: Engine, *, days: float, now: datetime,
                 recent_hours: float = 24.0) -> BackfillStats:
        """Write ``days`` of history up to ``now``, fast.

        Readings: the last ``recent_hours`` (24 h) at each indicator's period but no finer than
        one a minute (max(period_s, 60 s), kept on period boundaries); older history at
        15-minute resolution (or the period, if longer). Incidents: every arrival of the whole
        period, with its lifecycle as it stands at ``now`` (the rest is planned, for step()).
        Also schedules HISTORY_EPISODES falling inside the period. Safe to re-run: rows that
        exist are skipped.
        """
        started = _time.perf_counter()
        self.prepare(engine)
        now_e = _epoch(now)
        first = now_e - int(days * 86400)
        recent_from = max(first, now_e - int(recent_hours * 3600))
        for sched in HISTORY_EPISODES:
            local_day = self._local_date(now_e) - timedelta(days=sched.days_ago)
            start = datetime.combine(local_day, sched.local_start, tzinfo=self.tz).astimezone(ZoneInfo("UTC"))
            start = start.replace(tzinfo=None)
            end = start + timedelta(seconds=sched.duration_s)
            area = sched.area_code if sched.area_code in self.district_codes else self.storm_district
            if _epoch(start) >= first and end <= now.replace(microsecond=0):
                start_episode(engine, episode=Episode(sched.kind, area, start, end, sched.ramp_s))
        with engine.begin() as conn:
            self._set_state(conn, "backfill_started", now.isoformat(sep=" "))
            episodes = self._episodes(conn, since=_dt(first))
        n_readings = n_incidents = 0
        stamps: dict[int, datetime] = {}
        pending: list[dict[str, Any]] = []
        try:
            with engine.connect() as conn:
                sqlite = conn.dialect.name == "sqlite"
                if sqlite:
                    # A big page cache halves the time: the ts index takes inserts all over the tree.
                    conn.exec_driver_sql("PRAGMA cache_size=-262144")
                stmt = _insert_ignore(conn, schema.readings)
                for ind in self._indicators:
                    p = ind.period_s
                    old_step = p * max(1, round(900 / p))
                    recent_step = p * max(1, math.ceil(60 / p))
                    old = np.arange(_ceil(first, old_step), recent_from, old_step, dtype=np.int64)
                    recent = np.arange(_ceil(recent_from, recent_step), now_e + 1, recent_step,
                                       dtype=np.int64)
                    for t in (old, recent):
                        if len(t):
                            pending.extend(self._reading_rows(ind, t, episodes, stamps))
                    if len(recent):
                        self._next_ts[ind.indicator_id] = int(recent[-1]) + p
                    if len(pending) >= BATCH_ROWS * 20:
                        _executemany(conn, stmt, pending)
                        n_readings += len(pending)
                        pending = []
                        conn.commit()  # a few transactions, not one: the wall sees history arrive
                _executemany(conn, stmt, pending)
                n_readings += len(pending)
                if self._get_state(conn, "incidents_until") is None:
                    n_incidents = self._write_incidents(conn, first, now_e, episodes)
                self._set_state(conn, "backfill_done", now.isoformat(sep=" "))
                conn.commit()
                if sqlite:
                    conn.exec_driver_sql("PRAGMA cache_size=-2000")  # back to SQLite's default
        except BaseException:
            self.reset()
            raise
        # The back-filled history goes into the roll-ups, then retention trims the raw readings.
        roll_up(engine, now=now, policy=self.config.retention)
        apply_retention(engine, now=now, policy=self.config.retention)
        self._next_rollup = _floor(now_e, 60) + 60
        self._last_retention = now_e
        with engine.connect() as c:
            open_n = c.execute(sa.select(sa.func.count()).select_from(sim_incident_plan)).scalar_one()
        self._day_cache.clear()
        return BackfillStats(n_readings, n_incidents, int(open_n), round(_time.perf_counter() - started, 3))

    def step(self, engine: Engine, *, now: datetime) -> StepStats:
        """Write every reading due since the last step (gaps over CATCHUP_S stay gaps), the incidents
        that arrived, and the lifecycle transitions that became due; prune old readings."""
        started = _time.perf_counter()
        self.prepare(engine)
        now_e = _epoch(now)
        next_ts = dict(self._next_ts)
        try:
            with engine.begin() as conn:
                episodes = self._episodes(conn, since=_dt(now_e - CATCHUP_S - 86400))
                rows: list[dict[str, Any]] = []
                stamps: dict[int, datetime] = {}
                for ind in self._indicators:
                    p = ind.period_s
                    due = next_ts.get(ind.indicator_id, _floor(now_e, p))
                    first = max(due, _ceil(now_e - CATCHUP_S, p))
                    if first > now_e:
                        continue
                    t = np.arange(first, now_e + 1, p, dtype=np.int64)
                    rows.extend(self._reading_rows(ind, t, episodes, stamps))
                    next_ts[ind.indicator_id] = int(t[-1]) + p
                _executemany(conn, _insert_ignore(conn, schema.readings), rows)

                until_text = self._get_state(conn, "incidents_until")
                until = _epoch(datetime.fromisoformat(until_text)) if until_text else now_e
                n_new = 0
                if now_e > until:
                    since = max(until, now_e - INCIDENT_CATCHUP_S)
                    n_new = self._write_incidents(conn, since, now_e, episodes)
                elif until_text is None:
                    self._set_state(conn, "incidents_until", _dt(now_e).isoformat(sep=" "))
                transitions = self._promote(conn, now_e)
        except BaseException:
            self.reset()  # the transaction rolled back: reload what the database really holds
            raise
        self._next_ts = next_ts
        # Once a minute (its own transaction, after the readings are committed): roll the finished
        # minutes (and hours) up; every RETENTION_EVERY_S, drop what the retention policy no longer keeps.
        rolled = None
        deleted = 0
        if now_e >= self._next_rollup:
            rolled = roll_up(engine, now=_dt(now_e), policy=self.config.retention)
            self._next_rollup = _floor(now_e, 60) + 60
        if now_e - self._last_retention >= RETENTION_EVERY_S:
            deleted = apply_retention(engine, now=_dt(now_e), policy=self.config.retention).readings
            self._last_retention = now_e
        return StepStats(len(rows), n_new, transitions, deleted,
                         rolled.minute_rows if rolled else 0, rolled.hour_rows if rolled else 0,
                         rolled.seconds if rolled else 0.0, round(_time.perf_counter() - started, 4))


def copy_period(indicator_id: str, copy: int) -> int:
    """The reporting period of copy ``copy`` of an indicator: drawn from COPY_PERIOD_MIX by a
    stable hash of (id, copy), so every run gets the same catalogue."""
    u = (stable_key(indicator_id, copy, "period") >> 11) / float(1 << 53)
    edge = 0.0
    for period, share in COPY_PERIOD_MIX:
        edge += share
        if u < edge:
            return period
    return COPY_PERIOD_MIX[-1][0]


def scale_catalogue(catalogue: pd.DataFrame, *, scale: int) -> pd.DataFrame:
    """The catalogue repeated ``scale`` times: copies get ids ``<id>__2``.., names `` #2``.., on_wall 0,
    and their own reporting period from COPY_PERIOD_MIX (5 s .. 1 h), not the original's.

    A benchmark uses this to run ~1,700 indicators from the ~70 of the demo pack.
    """
    if scale <= 1:
        return catalogue.reset_index(drop=True)
    copies = [catalogue]
    for k in range(2, scale + 1):
        copy = catalogue.copy()
        copy["indicator_id"] = copy["indicator_id"] + f"{SCALE_SEP}{k}"
        copy["name"] = copy["name"] + f" #{k}"
        copy["name_en"] = copy["name_en"].where(copy["name_en"] == "", copy["name_en"] + f" #{k}")
        copy["on_wall"] = False
        copy["sort_order"] = copy["sort_order"] + 1000 * k
        copy["period_s"] = [copy_period(i, k) for i in catalogue["indicator_id"]]
        copies.append(copy)
    return pd.concat(copies, ignore_index=True)


# --- module-level conveniences ------------------------------------------------------------------------

def backfill(engine: Engine, *, days: float, now: datetime, config: SimConfig | None = None,
             recent_hours: float = 24.0) -> BackfillStats:
    """Back-fill with a fresh Simulator (see Simulator.backfill)."""
    return Simulator(config or SimConfig()).backfill(engine, days=days, now=now, recent_hours=recent_hours)


def step(engine: Engine, *, now: datetime, simulator: Simulator) -> StepStats:
    return simulator.step(engine, now=now)


@dataclass
class FeederOptions:
    """Knobs of the live loop beyond Settings."""

    episodes: list[str] = field(default_factory=list)  # KIND:AREA[:MINUTES], starting at start-up
    auto_episode_after_s: float | None = None  # a rainstorm this long after start-up (None: never)
    auto_episode_minutes: float = 60.0
    once: bool = False  # start up, one step, return


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def start_up(engine: Engine, settings: Settings, *, options: FeederOptions | None = None) -> Simulator:
    """init_db, load the pack when ``areas`` is empty, back-fill when ``readings`` is empty (or a
    back-fill was interrupted), record the requested episodes. Safe to repeat after a failure."""
    options = options or FeederOptions()
    config = SimConfig.from_settings(settings)
    init_db(engine, timezone=settings.timezone)
    with engine.connect() as conn:
        no_areas = conn.execute(sa.select(schema.areas.c.area_code).limit(1)).first() is None
    if no_areas:
        summary = load_city_pack(engine, pack_dir=config.pack_dir)
        LOG.info("loaded city pack %s: %s", config.pack_dir, summary)
    sim = Simulator(config)
    sim.prepare(engine)
    if sim.needs_backfill(engine):
        stats = sim.backfill(engine, days=config.backfill_days, now=utc_now())
        LOG.info("back-filled %s day(s): %s", config.backfill_days, stats)
    now = utc_now()
    for spec in options.episodes:
        ep = parse_episode(spec, now=now)
        start_episode(engine, episode=ep)
        LOG.info("episode %s until %s UTC", ep.key, ep.end)
    if options.auto_episode_after_s is not None:
        at = now + timedelta(seconds=options.auto_episode_after_s)
        ep = parse_episode(f"rainstorm:{sim.storm_district}:{options.auto_episode_minutes}", now=at)
        start_episode(engine, episode=ep)
        LOG.info("scheduled %s from %s UTC to %s UTC", ep.key, ep.start, ep.end)
    return sim


def run_feeder(settings: Settings, *, stop: threading.Event, tick_s: float = 1.0,
               options: FeederOptions | None = None) -> None:
    """Run the demo city until ``stop`` is set: start_up(), then step() every ``tick_s`` seconds.

    A failure (database down, locked, restarted) is logged as one line and retried with
    exponential backoff (1 s .. 60 s); the loop never dies from a transient database error.
    """
    options = options or FeederOptions()
    engine = make_engine(settings.database_url)
    sim: Simulator | None = None
    failures = 0
    try:
        while not stop.is_set():
            try:
                if sim is None:
                    sim = start_up(engine, settings, options=options)
                stats = sim.step(engine, now=utc_now())
                if failures:
                    LOG.info("feeder recovered after %d failed attempt(s)", failures)
                failures = 0
                LOG.debug("step: %s", stats)
            except sa.exc.SQLAlchemyError as exc:
                failures += 1
                delay = min(60.0, 2.0 ** min(failures - 1, 6))
                LOG.warning("feeder %s failed (%s); retrying in %.0f s",
                            "start-up" if sim is None else "step", _one_line(exc), delay)
                stop.wait(delay)
                continue
            except Exception as exc:
                if sim is None:
                    raise  # a broken pack or bad option is not transient: say so and stop
                failures += 1
                delay = min(60.0, 2.0 ** min(failures - 1, 6))
                LOG.warning("feeder step failed (%s); retrying in %.0f s", _one_line(exc), delay)
                stop.wait(delay)
                continue
            if options.once:
                break
            stop.wait(tick_s)
    finally:
        engine.dispose()
