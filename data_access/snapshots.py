"""What each page reads per tick, bundled and shared through the tick cache: N screens of the
same scope cost one set of queries per tick."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from data_access import queries
from data_access.db import utc_now
from data_access.runtime import CityWallRuntime
from security import require_scope

log = logging.getLogger(__name__)
T = TypeVar("T")

TREND_MINUTES = 60


@dataclass(frozen=True)
class HealthScore:
    """Share of wall indicators that are fresh and normal (stale counts against the score)."""
    overall: float | None
    by_dimension: dict[str, float | None]
    trend: list[float | None]  # overall share per minute over the last hour, oldest first


@dataclass(frozen=True)
class Alarm:
    indicator_id: str
    area_code: str
    status: str
    value: float | None
    since: datetime | None  # naive UTC; None: not normal for 24 h (or no history)


@dataclass(frozen=True)
class WallSnapshot:
    area: queries.Area
    vitals: pd.DataFrame  # one row per indicator, from the nearest area reporting it
    sparks: dict[str, list[float | None]]  # indicator_id -> minute values of the last hour
    health: HealthScore
    alarms: list[Alarm]  # worst first
    counts: queries.IncidentCounts | None
    hotline: dict[str, float | int | None]
    newest_reading: datetime | None  # naive UTC
    read_at: datetime
    # Panels whose read failed this tick ("trends", "alarms", "strip"): they show their own error
    # state while the others update. The vitals read failing fails the whole snapshot.
    failed: frozenset[str] = frozenset()


def _complete_minutes(now: datetime) -> pd.DatetimeIndex:
    """The last hour's finished minutes: the running minute is left out, so a sparkline changes
    once a minute, not on every tick."""
    return pd.date_range(end=pd.Timestamp(now).floor("min") - pd.Timedelta(minutes=1), periods=TREND_MINUTES,
                         freq="min")


def _health(vitals: pd.DataFrame, trends: pd.DataFrame, now: datetime) -> HealthScore:
    if vitals.empty:
        return HealthScore(overall=None, by_dimension={}, trend=[])
    healthy = (vitals["status"] == "normal") & ~vitals["stale"].astype(bool)
    by_dimension = {str(dim): float(group.mean()) for dim, group in healthy.groupby(vitals["dimension"])}
    minutes = _complete_minutes(now)
    trend: list[float | None] = []
    if not trends.empty:
        per_minute = trends.assign(ok=trends["status"] == "normal").groupby("minute")["ok"].mean()
        trend = [None if pd.isna(per_minute.get(m)) else float(per_minute.get(m)) for m in minutes]
    return HealthScore(overall=float(healthy.mean()), by_dimension=by_dimension, trend=trend)


def _sparks(trends: pd.DataFrame, now: datetime) -> dict[str, list[float | None]]:
    if trends.empty:
        return {}
    minutes = _complete_minutes(now)
    out: dict[str, list[float | None]] = {}
    for indicator_id, group in trends.groupby("indicator_id"):
        series = group.set_index("minute")["value"].reindex(minutes)
        out[str(indicator_id)] = [None if pd.isna(v) else float(v) for v in series]
    return out


@dataclass(frozen=True)
class WallIncidents:
    """The incident strip of one scope: read on its own, so its slower views never delay the vital signs."""
    counts: queries.IncidentCounts | None
    hotline: dict[str, float | int | None]
    failed: bool = False


def _panel_reader(area: queries.Area, failed: set[str]) -> Callable[[str, Callable[[], T], T], T]:
    def panel(name: str, read: Callable[[], T], fallback: T) -> T:
        try:
            return read()
        except SQLAlchemyError as exc:  # a slow or broken view: this panel fails, the others go on
            log.warning("wall %s: %s read failed: %s", area.area_code, name, str(exc).splitlines()[0])
            failed.add(name)
            return fallback
    return panel


def read_wall_incidents(*, engine, area: queries.Area, hotline_source: str = "hotline_12345") -> WallIncidents:
    failed: set[str] = set()
    panel = _panel_reader(area, failed)
    counts = panel("strip", lambda: queries.incident_counts(engine=engine, area_code=area.area_code), None)
    hotline = panel("strip", lambda: queries.incident_channel(engine=engine, area_code=area.area_code,
                                                              source=hotline_source), {})
    return WallIncidents(counts=counts, hotline=hotline, failed=bool(failed))


def read_wall(*, engine, area: queries.Area, now: datetime, hotline_source: str = "hotline_12345",
              incidents: Callable[[], WallIncidents] | None = None) -> WallSnapshot:
    """All queries of one wall scope, uncached (the benchmark's naive baseline calls this directly);
    ``incidents``: where the strip's figures come from instead (asked only once the vital signs
    were read: a database that is gone fails the first read, and nothing waits for a second)."""
    failed: set[str] = set()
    panel = _panel_reader(area, failed)

    chain = queries.area_chain(engine=engine, area_code=area.area_code)
    vitals = queries.vitals_for_scope(engine=engine, chain=chain, now=now)
    if not vitals.empty:
        vitals = vitals[vitals["on_wall"].astype(bool)].reset_index(drop=True)
        level_of = {a.area_code: a.level for a in chain}
        vitals["source_level"] = vitals["source_area"].map(level_of)
    series = list(zip(vitals.get("indicator_id", []), vitals.get("source_area", []), strict=True))
    trends = panel("trends", lambda: queries.vitals_trends(engine=engine, series=series,
                                                           since=now - timedelta(minutes=TREND_MINUTES)),
                   pd.DataFrame(columns=["indicator_id", "area_code", "minute", "value", "status"]))
    bad = vitals[vitals["status"].isin(["warn", "alarm"]) & ~vitals["stale"].astype(bool)] if not vitals.empty \
        else vitals
    since = panel("alarms", lambda: queries.last_normal_minute(
        engine=engine, series=list(zip(bad.get("indicator_id", []), bad.get("source_area", []), strict=True))), {})
    alarms = [
        Alarm(indicator_id=r.indicator_id, area_code=r.source_area, status=r.status,
              value=None if pd.isna(r.value) else float(r.value),
              since=(since[(r.indicator_id, r.source_area)] + timedelta(minutes=1))
              if (r.indicator_id, r.source_area) in since else None)
        for r in bad.itertuples()
    ]
    # Worst first: alarms before warnings, then the longest-running.
    alarms.sort(key=lambda a: (queries.STATUS_ORDER.get(a.status, 9), a.since or datetime.min))
    newest = vitals["ts"].max() if not vitals.empty else None
    strip = incidents() if incidents is not None else read_wall_incidents(engine=engine, area=area,
                                                                            hotline_source=hotline_source)
    if strip.failed:
        failed.add("strip")
    return WallSnapshot(
        area=area,
        vitals=vitals,
        sparks=_sparks(trends, now),
        health=_health(vitals, trends, now),
        alarms=alarms,
        counts=strip.counts,
        hotline=strip.hotline,
        newest_reading=None if newest is None or pd.isna(newest) else newest.to_pydatetime(),
        read_at=now,
        failed=frozenset(failed),
    )


def wall_snapshot(*, runtime: CityWallRuntime, area: queries.Area) -> WallSnapshot:
    """The wall of one scope, read once per tick for every screen showing it (after the scope check:
    a user scoped elsewhere gets PermissionError, never the cached snapshot).

    The vital signs are this tick's; the incident strip is this tick's when it is already read,
    else the previous tick's while the tick warmer reads it (its views are the slow ones at
    100,000 open incidents: a new reading must not wait for them)."""
    require_scope(area.area_code)
    settings = runtime.settings

    def incidents() -> WallIncidents:
        return runtime.cache.latest(
            f"wall-incidents:{area.area_code}",
            lambda: read_wall_incidents(engine=runtime.engine, area=area, hotline_source=settings.hotline_source))

    return runtime.cache.get_or_compute(
        f"wall:{area.area_code}",
        lambda: read_wall(engine=runtime.engine, area=area, now=utc_now(), hotline_source=settings.hotline_source,
                          incidents=incidents))


def city_area(*, runtime: CityWallRuntime) -> queries.Area | None:
    return runtime.cache.get_or_compute("city", lambda: queries.city_area(engine=runtime.engine))


def wall_catalogue(*, runtime: CityWallRuntime) -> pd.DataFrame:
    """The indicators shown on walls (layout time; shared by all screens for a tick)."""
    def compute() -> pd.DataFrame:
        catalogue = queries.indicator_catalogue(engine=runtime.engine)
        return catalogue[catalogue["on_wall"].astype(bool)].reset_index(drop=True)

    return runtime.cache.get_or_compute("wall-catalogue", compute)
