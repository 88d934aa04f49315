"""Episodes: what disturbs the city for a while (a rainstorm over one district, a holiday crowd at
the Bund, a wave of gas leaks), as data.

An episode is a row of ``sim_episodes``; every running simulator on the database picks it up at
its next step. Its effect ramps up, holds and ramps down (``Episode.intensity``; a ramp of 0 is
sudden: the first reading after the start is at full intensity); what it does to each indicator is
the catalogue's ``sim_*_factor`` column of its kind, and it brings incidents of its own in its area
(feeder/incidents.py). Each kind drives one demo scenario (feeder/packs/shanghai/scenarios.toml).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access.upsert import upsert
from feeder.clock import LocalClock, epoch
from feeder.state import create_sim_tables, sim_episodes

DEFAULT_STORM_DISTRICT = "310115"  # 浦东新区


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
    # (subcategory, weight) of its incidents; empty: every subcategory of incident_category, by daily rate.
    incident_mix: tuple[tuple[str, float], ...] = ()
    # The field resources sent to its incidents when the database has no scenario catalogue
    # (with one: the resource types of the scenarios whose categories take its incidents).
    resource_types: tuple[str, ...] = ()


EPISODE_KINDS: dict[str, EpisodeKind] = {
    "rainstorm": EpisodeKind(
        name="rainstorm", factor_column="sim_rain_factor", alarm_min_factor=10.0, alarm_overshoot=1.5,
        city_effect=0.35, incident_category="waterlogging", incidents_per_hour=20.0,
        duration_s=90 * 60, ramp_s=30 * 60, resource_types=("emergency_team", "pump_truck"),
    ),
    # A large crowd (the Bund on a holiday night): crowd density and metro station crowding past
    # alarm in the district, more 110 calls and passenger flow; crowd-gathering reports.
    "crowd": EpisodeKind(
        name="crowd", factor_column="sim_crowd_factor", alarm_min_factor=2.5, alarm_overshoot=1.3,
        city_effect=0.5, incident_category="public_safety", incidents_per_hour=12.0,
        duration_s=120 * 60, ramp_s=20 * 60,
        incident_mix=(("crowd_gathering", 0.7), ("illegal_passenger_touting", 0.1), ("street_vending", 0.1),
                      ("minor_traffic_accident", 0.1)),
        resource_types=("emergency_team", "patrol_team"),
    ),
    # A wave of gas leaks in one district: leak alarms past alarm, the city network's pressure sags
    # into warn; leak reports.
    "gas": EpisodeKind(
        name="gas", factor_column="sim_gas_factor", alarm_min_factor=5.0, alarm_overshoot=1.5,
        city_effect=0.8, incident_category="gas", incidents_per_hour=15.0,
        duration_s=60 * 60, ramp_s=5 * 60,
        incident_mix=(("indoor_gas_leak", 0.35), ("pipeline_gas_leak", 0.25), ("restaurant_gas_alarm", 0.25),
                      ("gas_pressure_abnormal", 0.1), ("gas_main_struck", 0.05)),
        resource_types=("emergency_team", "repair_crew"),
    ),
}
# Other spellings accepted on the command line (recorded under the kind's own name).
EPISODE_ALIASES: dict[str, str] = {"rain": "rainstorm"}
EPISODE_SPEC = "KIND:AREA[:MINUTES[:RAMP]]"


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
        """0..1 at epoch seconds ``t``: linear ramp up, plateau, linear ramp down (a ramp of 0:
        full from the second after the start to the second before the end)."""
        s, e = epoch(self.start), epoch(self.end)
        ramp = max(1.0, min(float(self.ramp_s), (e - s) / 2))
        up = np.clip((t - s) / ramp, 0.0, 1.0)
        down = np.clip((e - t) / ramp, 0.0, 1.0)
        return np.where((t >= s) & (t <= e), np.minimum(up, down), 0.0)


def storm_area(district_codes: Sequence[str], city_code: str) -> str:
    """Where storms go by default: the pack's storm district, else the first district, else the city."""
    if DEFAULT_STORM_DISTRICT in district_codes:
        return DEFAULT_STORM_DISTRICT
    return district_codes[0] if district_codes else city_code


def episode_kinds() -> list[str]:
    """Every spelling ``parse_episode`` accepts for a kind, for help texts."""
    return [*EPISODE_KINDS, *EPISODE_ALIASES]


def _minutes(spec: str, what: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"episode {spec!r}: {what} {text!r} is not a number of minutes") from None
    if not math.isfinite(value):
        raise ValueError(f"episode {spec!r}: {what} {text!r} is not a number of minutes")
    return value


def parse_episode(spec: str, *, now: datetime) -> Episode:
    """``KIND:AREA[:MINUTES[:RAMP]]``, starting now: e.g. ``rainstorm:310115``, ``crowd:310101:45`` or
    ``gas:310104:30:0``. MINUTES: how long (default: the kind's); RAMP: minutes to full intensity
    and back (default: the kind's, at most a third of the duration; 0: sudden, the first reading
    after the start is at full intensity). ``rain`` is another spelling of ``rainstorm``."""
    parts = spec.strip().split(":")
    name = EPISODE_ALIASES.get(parts[0], parts[0]) if parts else ""
    if len(parts) not in (2, 3, 4) or name not in EPISODE_KINDS or not parts[1]:
        raise ValueError(f"episode {spec!r}: expected {EPISODE_SPEC}, KIND one of {', '.join(episode_kinds())}")
    kind = EPISODE_KINDS[name]
    duration = int(_minutes(spec, "duration", parts[2]) * 60) if len(parts) >= 3 else kind.duration_s
    if duration <= 0:
        raise ValueError(f"episode {spec!r}: duration must be positive")
    if len(parts) == 4:
        ramp = int(_minutes(spec, "ramp", parts[3]) * 60)
        if ramp < 0 or 2 * ramp > duration:
            raise ValueError(f"episode {spec!r}: ramp must be between 0 and half the duration")
    else:
        ramp = min(kind.ramp_s, duration // 3)
    end = now + timedelta(seconds=duration)
    return Episode(name, parts[1], now, end, ramp)


def start_episode(engine: Engine, *, episode: Episode) -> None:
    """Record an episode; every running simulator on this database picks it up at its next step."""
    create_sim_tables(engine)
    with engine.begin() as conn:
        upsert(conn, sim_episodes, [{
            "episode_key": episode.key, "kind": episode.kind, "area_code": episode.area_code,
            "start_at": episode.start, "end_at": episode.end, "ramp_s": int(episode.ramp_s),
        }])


def schedule_history(engine: Engine, clock: LocalClock, *, first: int, now: datetime,
                     district_codes: Sequence[str], storm_district: str) -> None:
    """Record the HISTORY_EPISODES that fall between epoch ``first`` and ``now`` (a back-fill's span)."""
    for sched in HISTORY_EPISODES:
        local_day = clock.day_of(epoch(now)) - timedelta(days=sched.days_ago)
        start = clock.utc_at(local_day, sched.local_start)
        end = start + timedelta(seconds=sched.duration_s)
        area = sched.area_code if sched.area_code in district_codes else storm_district
        if epoch(start) >= first and end <= now.replace(microsecond=0):
            start_episode(engine, episode=Episode(sched.kind, area, start, end, sched.ramp_s))


def recorded_episodes(conn: Connection, *, since: datetime) -> list[Episode]:
    """Every recorded episode of a known kind that ends at or after ``since``, in start order."""
    rows = conn.execute(sa.select(sim_episodes).where(sim_episodes.c.end_at >= since)
                        .order_by(sim_episodes.c.start_at, sim_episodes.c.episode_key)).mappings().all()
    return [Episode(r["kind"], r["area_code"], r["start_at"], r["end_at"], int(r["ramp_s"]))
            for r in rows if r["kind"] in EPISODE_KINDS]
