"""The demo city, run: the Simulator (back-fill, then steps), its start-up and the live loop.

Determinism: readings are pure functions of (seed, indicator, area, ts, episodes) (feeder/vitals.py),
incidents are seeded per local day and per episode (feeder/incidents.py), so a restart, or a
different step cadence, replays the same city. The Simulator holds only caches; everything it needs
to resume lives in the database (feeder/state.py).
"""
from __future__ import annotations

import logging
import math
import threading
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import incident_rollups, schema
from data_access.db import city_settings, init_db, make_engine, utc_now
from data_access.errors import first_line
from data_access.settings import DEFAULT_PACK, Settings
from data_access.upsert import BATCH_ROWS, execute_batches, insert_ignore, upsert
from feeder.city import City, load_city
from feeder.clock import LocalClock, ceil_to, dt, epoch, floor_to
from feeder.episodes import Episode, parse_episode, recorded_episodes, schedule_history, start_episode
from feeder.incidents import Incidents
from feeder.pack import indicator_rows, load_city_pack, read_categories, read_indicator_catalogue, seed_fleet
from feeder.resources import Fleet
from feeder.rollups import DEFAULT_POLICY, RetentionPolicy, apply_retention, roll_up
from feeder.state import create_sim_tables, get_state, set_state, sim_incident_plan
from feeder.vitals import IndicatorModel, Vitals, scale_catalogue, scaled_copies

LOG = logging.getLogger("citywall.feeder")
CATCHUP_S = 600  # step() fills at most this much of a reading gap; older gaps stay gaps
INCIDENT_CATCHUP_S = 86400  # arrivals missed while the feeder was down, at most one day of them
RETENTION_EVERY_S = 600


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
    resources: int = 0  # field resource rows written (moved, dispatched, arrived, ...)


@dataclass(frozen=True)
class BackfillStats:
    readings: int
    incidents: int
    open_incidents: int
    seconds: float


# --- the simulator ---------------------------------------------------------------------------------

class Simulator:
    """The demo city. Holds only caches; everything it needs to resume lives in the database."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.clock = LocalClock(config.timezone)
        self.catalogue = scale_catalogue(read_indicator_catalogue(config.pack_dir), scale=config.scale)
        self.categories = read_categories(config.pack_dir)
        self._prepared_for: int | None = None
        self.city: City | None = None
        self.vitals: Vitals | None = None
        self.incidents: Incidents | None = None
        self.fleet: Fleet | None = None
        self._next_ts: dict[str, int] = {}
        self._last_retention = 0
        self._next_rollup = 0  # epoch s of the next minute boundary the roll-up waits for

    # -- setup --------------------------------------------------------------------------------

    def prepare(self, engine: Engine) -> None:
        """Create the simulator's tables, insert the scaled catalogue copies, read the city's areas
        and grid cells, and load the resume state (the last reading of each indicator)."""
        if self._prepared_for == id(engine):
            return
        create_sim_tables(engine)
        config = self.config
        with engine.begin() as conn:
            copies = scaled_copies(self.catalogue)
            if len(copies):
                upsert(conn, schema.indicators, indicator_rows(copies))
            self.city = load_city(conn)
            self.vitals = Vitals(self.catalogue, self.city, seed=config.seed, clock=self.clock)
            self.incidents = Incidents(self.categories, self.city, seed=config.seed, id_prefix=config.id_prefix,
                                       clock=self.clock)
            upsert(conn, schema.indicator_thresholds, self.vitals.district_thresholds())
            self.fleet = Fleet.load(conn, self.city, seed=config.seed, clock=self.clock,
                                    categories=dict(zip(self.categories["subcategory"], self.categories["category"],
                                                        strict=True)))
            self._load_resume_state(conn)
        self._prepared_for = id(engine)

    def _load_resume_state(self, conn: Connection) -> None:
        latest = schema.readings_latest
        rows = conn.execute(sa.select(latest.c.indicator_id, sa.func.max(latest.c.ts))
                            .group_by(latest.c.indicator_id)).all()
        periods = {ind.indicator_id: ind.period_s for ind in self._indicators}
        self._next_ts = {iid: epoch(ts) + periods[iid] for iid, ts in rows if iid in periods and ts is not None}

    def reset(self) -> None:
        """Forget the resume state; the next call reloads it from the database (used after errors)."""
        self._prepared_for = None

    @property
    def _indicators(self) -> list[IndicatorModel]:
        return self.vitals.indicators if self.vitals else []

    @property
    def storm_district(self) -> str:
        return self.city.storm_district

    def check_episode_area(self, ep: Episode) -> None:
        """ValueError unless the episode's area is the city or one of its districts (the areas the
        indicators have series for)."""
        if ep.area_code != self.city.city_code and ep.area_code not in self.city.district_codes:
            raise ValueError(f"episode {ep.kind}:{ep.area_code}: {ep.area_code!r} is neither the city "
                             f"({self.city.city_code}) nor one of its districts")

    def values(self, ind: IndicatorModel, t: np.ndarray, episodes: Sequence[Episode]) -> np.ndarray:
        """Values (len(ind.area_codes), len(t)) at epoch seconds ``t`` (see Vitals.values)."""
        return self.vitals.values(ind, t, episodes)

    def needs_backfill(self, engine: Engine) -> bool:
        """True when readings are empty, or a back-fill was started and never finished."""
        create_sim_tables(engine)
        with engine.connect() as conn:
            empty = conn.execute(sa.select(schema.readings.c.ts).limit(1)).first() is None
            started = get_state(conn, "backfill_started") is not None
            done = get_state(conn, "backfill_done") is not None
        return empty or (started and not done)

    # -- the back-fill --------------------------------------------------------------------------------

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
        now_e = epoch(now)
        first = now_e - int(days * 86400)
        recent_from = max(first, now_e - int(recent_hours * 3600))
        schedule_history(engine, self.clock, first=first, now=now, district_codes=self.city.district_codes,
                         storm_district=self.city.storm_district)
        with engine.begin() as conn:
            set_state(conn, "backfill_started", now.isoformat(sep=" "))
            episodes = recorded_episodes(conn, since=dt(first))
        try:
            n_readings, n_incidents = self._write_history(engine, now, first, recent_from, episodes)
        except BaseException:
            self.reset()
            raise
        # The back-filled history goes into the roll-ups, then retention trims the raw readings.
        roll_up(engine, now=now, policy=self.config.retention)
        apply_retention(engine, now=now, policy=self.config.retention)
        incident_rollups.advance(engine, now=now)
        self._next_rollup = floor_to(now_e, 60) + 60
        self._last_retention = now_e
        with engine.connect() as c:
            open_n = c.execute(sa.select(sa.func.count()).select_from(sim_incident_plan)).scalar_one()
        self.incidents.forget_days()
        return BackfillStats(n_readings, n_incidents, int(open_n), round(_time.perf_counter() - started, 3))

    def _write_history(self, engine: Engine, now: datetime, first: int, recent_from: int,
                       episodes: list[Episode]) -> tuple[int, int]:
        """The back-fill's readings (a few transactions, not one: the wall sees history arrive),
        then its incidents unless an earlier run wrote them; (readings, incidents) written."""
        now_e = epoch(now)
        n_readings = n_incidents = 0
        stamps: dict[int, datetime] = {}
        pending: list[dict[str, Any]] = []
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # A big page cache halves the time: the ts index takes inserts all over the tree.
                conn.exec_driver_sql("PRAGMA cache_size=-262144")
            stmt = insert_ignore(conn, schema.readings)
            for ind in self._indicators:
                pending.extend(self._history_rows(ind, first, recent_from, now_e, episodes, stamps))
                if len(pending) >= BATCH_ROWS * 20:
                    execute_batches(conn, stmt, pending)
                    n_readings += len(pending)
                    pending = []
                    conn.commit()
            execute_batches(conn, stmt, pending)
            n_readings += len(pending)
            if get_state(conn, "incidents_until") is None:
                n_incidents = self.incidents.write(conn, first, now_e, episodes)
            set_state(conn, "backfill_done", now.isoformat(sep=" "))
            conn.commit()
            if sqlite:
                conn.exec_driver_sql("PRAGMA cache_size=-2000")  # back to SQLite's default
        return n_readings, n_incidents

    def _history_rows(self, ind: IndicatorModel, first: int, recent_from: int, now_e: int,
                      episodes: list[Episode], stamps: dict[int, datetime]) -> list[dict[str, Any]]:
        """One indicator's back-filled readings: 15-minute history, then the recent part at its
        period (no finer than a minute); the next reading after them is due at the next step."""
        p = ind.period_s
        old_step = p * max(1, round(900 / p))
        recent_step = p * max(1, math.ceil(60 / p))
        old = np.arange(ceil_to(first, old_step), recent_from, old_step, dtype=np.int64)
        recent = np.arange(ceil_to(recent_from, recent_step), now_e + 1, recent_step, dtype=np.int64)
        rows: list[dict[str, Any]] = []
        for t in (old, recent):
            if len(t):
                rows.extend(self.vitals.reading_rows(ind, t, episodes, stamps))
        if len(recent):
            self._next_ts[ind.indicator_id] = int(recent[-1]) + p
        return rows

    # -- a step ---------------------------------------------------------------------------------------

    def step(self, engine: Engine, *, now: datetime) -> StepStats:
        """Write every reading due since the last step (gaps over CATCHUP_S stay gaps), the incidents
        that arrived, and the lifecycle transitions that became due; prune old readings."""
        started = _time.perf_counter()
        self.prepare(engine)
        now_e = epoch(now)
        next_ts = dict(self._next_ts)
        try:
            with engine.begin() as conn:
                episodes = recorded_episodes(conn, since=dt(now_e - CATCHUP_S - 86400))
                readings = self._due_readings(now_e, episodes, next_ts)
                execute_batches(conn, insert_ignore(conn, schema.readings), readings)
                n_new = self._new_incidents(conn, now_e, episodes)
                transitions = self.incidents.promote(conn, now_e)
                n_resources = self.fleet.step(conn, now_e, episodes)
        except BaseException:
            self.reset()  # the transaction rolled back: reload what the database really holds
            raise
        self._next_ts = next_ts
        rolled, deleted = self._maintain(engine, now_e)
        return StepStats(len(readings), n_new, transitions, deleted,
                         rolled.minute_rows if rolled else 0, rolled.hour_rows if rolled else 0,
                         rolled.seconds if rolled else 0.0, round(_time.perf_counter() - started, 4), n_resources)

    def _due_readings(self, now_e: int, episodes: list[Episode], next_ts: dict[str, int]) -> list[dict[str, Any]]:
        """Every reading due up to ``now_e`` (advancing ``next_ts``); older than CATCHUP_S: skipped."""
        rows: list[dict[str, Any]] = []
        stamps: dict[int, datetime] = {}
        for ind in self._indicators:
            p = ind.period_s
            due = next_ts.get(ind.indicator_id, floor_to(now_e, p))
            first = max(due, ceil_to(now_e - CATCHUP_S, p))
            if first > now_e:
                continue
            t = np.arange(first, now_e + 1, p, dtype=np.int64)
            rows.extend(self.vitals.reading_rows(ind, t, episodes, stamps))
            next_ts[ind.indicator_id] = int(t[-1]) + p
        return rows

    def _new_incidents(self, conn: Connection, now_e: int, episodes: list[Episode]) -> int:
        """The arrivals since the last written one (at most INCIDENT_CATCHUP_S of them)."""
        until_text = get_state(conn, "incidents_until")
        until = epoch(datetime.fromisoformat(until_text)) if until_text else now_e
        if now_e > until:
            return self.incidents.write(conn, max(until, now_e - INCIDENT_CATCHUP_S), now_e, episodes)
        if until_text is None:
            set_state(conn, "incidents_until", dt(now_e).isoformat(sep=" "))
        return 0

    def _maintain(self, engine: Engine, now_e: int) -> tuple[Any, int]:
        """Once a minute (its own transaction, after the readings are committed): roll the finished
        minutes (and hours) up; every RETENTION_EVERY_S, drop what the retention policy no longer keeps."""
        rolled = None
        deleted = 0
        # The incident roll-ups' overdue watermark, every tick (a tick's worth of open incidents falling due).
        incident_rollups.advance(engine, now=dt(now_e))
        if now_e >= self._next_rollup:
            rolled = roll_up(engine, now=dt(now_e), policy=self.config.retention)
            self._next_rollup = floor_to(now_e, 60) + 60
        if now_e - self._last_retention >= RETENTION_EVERY_S:
            deleted = apply_retention(engine, now=dt(now_e), policy=self.config.retention).readings
            incident_rollups.prune(engine, now=dt(now_e))
            self._last_retention = now_e
        return rolled, deleted


# --- module-level conveniences ------------------------------------------------------------------------

def backfill(engine: Engine, *, days: float, now: datetime, config: SimConfig | None = None,
             recent_hours: float = 24.0) -> BackfillStats:
    """Back-fill with a fresh Simulator (see Simulator.backfill)."""
    return Simulator(config or SimConfig()).backfill(engine, days=days, now=now, recent_hours=recent_hours)


def step(engine: Engine, *, now: datetime, simulator: Simulator) -> StepStats:
    return simulator.step(engine, now=now)


# --- start-up and the live loop -----------------------------------------------------------------------

@dataclass
class FeederOptions:
    """Knobs of the live loop beyond Settings."""

    episodes: list[str] = field(default_factory=list)  # KIND:AREA[:MINUTES[:RAMP]], starting at start-up
    auto_episode_after_s: float | None = None  # a rainstorm this long after start-up (None: never)
    auto_episode_minutes: float = 60.0
    once: bool = False  # start up, one step, return


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {first_line(getattr(exc, 'orig', None) or exc)}"  # the driver's own words


def start_up(engine: Engine, settings: Settings, *, options: FeederOptions | None = None) -> Simulator:
    """init_db, load the pack when ``areas`` is empty (else seed the pack's fleet when ``resources``
    is), back-fill when ``readings`` is empty (or a back-fill was interrupted), record the requested
    episodes. Safe to repeat after a failure."""
    options = options or FeederOptions()
    settings = city_settings(settings, engine, warn=LOG.warning)
    config = SimConfig.from_settings(settings)
    init_db(engine, timezone=settings.timezone)
    with engine.connect() as conn:
        no_areas = conn.execute(sa.select(schema.areas.c.area_code).limit(1)).first() is None
    if no_areas:
        summary = load_city_pack(engine, pack_dir=config.pack_dir)
        LOG.info("loaded city pack %s: %s", config.pack_dir, summary)
    elif seeded := seed_fleet(engine, pack_dir=config.pack_dir):
        LOG.info("seeded %d field resources from %s", seeded, config.pack_dir)
    sim = Simulator(config)
    sim.prepare(engine)
    if sim.needs_backfill(engine):
        stats = sim.backfill(engine, days=config.backfill_days, now=utc_now())
        LOG.info("back-filled %s day(s): %s", config.backfill_days, stats)
    _start_episodes(engine, sim, options)
    return sim


def _start_episodes(engine: Engine, sim: Simulator, options: FeederOptions) -> None:
    now = utc_now()
    episodes = [parse_episode(spec, now=now) for spec in options.episodes]
    for ep in episodes:
        sim.check_episode_area(ep)  # every spec checked before any is recorded
    for ep in episodes:
        start_episode(engine, episode=ep)
        LOG.info("episode %s until %s UTC", ep.key, ep.end)
    if options.auto_episode_after_s is not None:
        at = now + timedelta(seconds=options.auto_episode_after_s)
        ep = parse_episode(f"rainstorm:{sim.storm_district}:{options.auto_episode_minutes}", now=at)
        start_episode(engine, episode=ep)
        LOG.info("scheduled %s from %s UTC to %s UTC", ep.key, ep.start, ep.end)


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
            except Exception as exc:
                if sim is None and not isinstance(exc, sa.exc.SQLAlchemyError):
                    raise  # a broken pack or bad option is not transient: say so and stop
                failures += 1
                delay = min(60.0, 2.0 ** min(failures - 1, 6))
                LOG.warning("feeder %s failed (%s); retrying in %.0f s",
                            "start-up" if sim is None else "step", _one_line(exc), delay)
                stop.wait(delay)
                continue
            if options.once:
                break
            stop.wait(tick_s)
    finally:
        engine.dispose()
