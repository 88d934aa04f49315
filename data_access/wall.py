"""The wall's reads of one scope, uncached: the vital signs from the nearest area reporting each,
sparklines, health score, alarms with their durations, and the incident strip; each panel but the
vital signs may fail alone (``WallSnapshot.failed``). The tick cache shares them in readers/wall.py;
the benchmarks' naive baseline calls them directly."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from data_access.areas import area_chain
from data_access.errors import first_line
from data_access.incidents import incident_channel, incident_counts, newest_incident_change
from data_access.models import STATUS_ORDER, Alarm, Area, HealthScore, WallIncidents, WallSnapshot
from data_access.sql import read_frame
from data_access.vitals import last_normal_minute, vitals_for_scope, vitals_trends

log = logging.getLogger(__name__)
T = TypeVar("T")

TREND_MINUTES = 60


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


def _panel_reader(area: Area, failed: set[str]) -> Callable[[str, Callable[[], T], T], T]:
    def panel(name: str, read: Callable[[], T], fallback: T) -> T:
        try:
            return read()
        except SQLAlchemyError as exc:  # a slow or broken view: this panel fails, the others go on
            log.warning("wall %s: %s read failed: %s", area.area_code, name, first_line(exc))
            failed.add(name)
            return fallback
    return panel


def load_wall_incidents(*, engine: Engine, area: Area, hotline_source: str = "hotline_12345") -> WallIncidents:
    failed: set[str] = set()
    panel = _panel_reader(area, failed)
    counts = panel("strip", lambda: incident_counts(engine=engine, area_code=area.area_code), None)
    hotline = panel("strip", lambda: incident_channel(engine=engine, area_code=area.area_code,
                                                              source=hotline_source), {})
    newest = panel("strip", lambda: newest_incident_change(engine=engine), None)
    return WallIncidents(counts=counts, hotline=hotline, failed=bool(failed), newest_change=newest)


def load_wall(*, engine: Engine, area: Area, now: datetime, hotline_source: str = "hotline_12345",
              incidents: Callable[[], WallIncidents] | None = None,
              level_words: dict[str, str] | None = None) -> WallSnapshot:
    """All queries of one wall scope, uncached (the benchmark's naive baseline calls this directly);
    ``incidents``: where the strip's figures come from instead (asked only once the vital signs
    were read: a database that is gone fails the first read, and nothing waits for a second);
    ``level_words``: what the city calls the area's level, by language (the wall's titles)."""
    chain = area_chain(engine=engine, area_code=area.area_code)
    return wall_snapshot(
        area=area, chain=chain, moment=now, vitals=vitals_for_scope(engine=engine, chain=chain, now=now),
        trends=lambda series: vitals_trends(engine=engine, series=series, since=now - timedelta(minutes=TREND_MINUTES)),
        normal_since=lambda series: last_normal_minute(engine=engine, series=series),
        strip=incidents or (lambda: load_wall_incidents(engine=engine, area=area, hotline_source=hotline_source)),
        level_words=level_words)


def wall_snapshot(*, area: Area, chain: list[Area], moment: datetime, vitals: pd.DataFrame,
                  trends: Callable[[list[tuple[str, str]]], pd.DataFrame],
                  normal_since: Callable[[list[tuple[str, str]]], dict[tuple[str, str], datetime]],
                  strip: Callable[[], WallIncidents], level_words: dict[str, str] | None) -> WallSnapshot:
    """One wall's snapshot from its vital signs at ``moment`` and the reads of the rest (by series):
    the live wall (load_wall) and a replayed one (asof.load_wall_as_of) differ only in those reads."""
    failed: set[str] = set()
    panel = _panel_reader(area, failed)
    if not vitals.empty:
        vitals = vitals[vitals["on_wall"].astype(bool)].reset_index(drop=True)
        level_of = {a.area_code: a.level for a in chain}
        vitals["source_level"] = vitals["source_area"].map(level_of)
    series = list(zip(vitals.get("indicator_id", []), vitals.get("source_area", []), strict=True))
    trends_read = panel("trends", lambda: trends(series),
                        pd.DataFrame(columns=["indicator_id", "area_code", "minute", "value", "status"]))
    bad = vitals[vitals["status"].isin(["warn", "alarm"]) & ~vitals["stale"].astype(bool)] if not vitals.empty \
        else vitals
    since = panel("alarms", lambda: normal_since(
        list(zip(bad.get("indicator_id", []), bad.get("source_area", []), strict=True))), {})
    alarms = [
        Alarm(indicator_id=r.indicator_id, area_code=r.source_area, status=r.status,
              value=None if pd.isna(r.value) else float(r.value),
              since=(since[(r.indicator_id, r.source_area)] + timedelta(minutes=1))
              if (r.indicator_id, r.source_area) in since else None)
        for r in bad.itertuples()
    ]
    # Worst first: alarms before warnings, then the longest-running.
    alarms.sort(key=lambda a: (STATUS_ORDER.get(a.status, 9), a.since or datetime.min))
    newest = vitals["ts"].max() if not vitals.empty else None
    figures = strip()
    if figures.failed:
        failed.add("strip")
    return WallSnapshot(
        area=area,
        vitals=vitals,
        sparks=_sparks(trends_read, moment),
        health=_health(vitals, trends_read, moment),
        alarms=alarms,
        counts=figures.counts,
        hotline=figures.hotline,
        newest_reading=None if newest is None or pd.isna(newest) else newest.to_pydatetime(),
        read_at=moment,
        failed=frozenset(failed),
        newest_incident_change=figures.newest_change,
        level_words=dict(level_words or {}),
    )


def incident_category_names(*, engine: Engine) -> pd.DataFrame:
    """The names of the major categories with open incidents (category, category_name,
    category_name_en): how a takeover's banner names an incidents rule's categories."""
    return read_frame(engine, "SELECT category, MIN(category_name) AS category_name, "
                              "MIN(category_name_en) AS category_name_en FROM v_incident_categories "
                              "GROUP BY category ORDER BY category")
