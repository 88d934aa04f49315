"""Incidents: arrivals (seeded per local day and per episode) and planned lifecycles.

Arrivals come from one numpy Generator per local day (and one per episode), seeded from the seed
and the day, so a restart, or a different step cadence, replays the same city. Incident ids are
serials per local day assigned in arrival order, so they are stable as well.

A lifecycle is planned when its incident arrives (all future timestamps, kept in the
simulator-only table ``sim_incident_plan``); ``promote`` applies the planned transitions whose
time has passed, so nothing is ever written with a timestamp in the future.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import schema
from data_access.upsert import execute_batches, insert_ignore
from feeder.city import City
from feeder.clock import LocalClock, dt, epoch
from feeder.episodes import EPISODE_KINDS, Episode, EpisodeKind
from feeder.noise import INCIDENT_PROFILE, stable_key
from feeder.state import set_state, sim_incident_plan

# Lifecycle: time to first resolution / SLA is log-normal (median 0.45, sigma 0.7: ~87 % of
# first resolutions are inside the SLA); 3 % fail verification and get reworked.
RESOLVE_MEDIAN = 0.45
RESOLVE_SIGMA = 0.7
REOPEN_SHARE = 0.03
REWORK_MEDIAN = 0.15


# --- lifecycles -------------------------------------------------------------------------------------

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
            state.update(status="dispatched", dispatched_at=dt(self.dispatched))
        if now >= self.started:
            state.update(status="in_progress", started_at=dt(self.started))
        if now >= self.first_resolved:
            state.update(status="resolved", resolved_at=dt(self.first_resolved))
        if self.reopen_at is not None and now >= self.reopen_at:
            # Verification failed: back to work, the first resolution no longer counts.
            state.update(status="in_progress", resolved_at=None, reopened=1)
            if now >= self.resolved:
                state.update(status="resolved", resolved_at=dt(self.resolved))
        if now >= self.closed:
            state.update(status="closed", closed_at=dt(self.closed))
        return state

    def next_after(self, now: int) -> int | None:
        return next((p for p in self.milestones() if p > now), None)

    def row(self, incident_id: str, now: int) -> dict[str, Any]:
        """The plan as a ``sim_incident_plan`` row, with the next transition after ``now``."""
        nxt = self.next_after(now)
        return {
            "incident_id": incident_id, "reported_at": dt(self.reported),
            "dispatched_at": dt(self.dispatched),
            "started_at": dt(self.started), "first_resolved_at": dt(self.first_resolved),
            "reopen_at": None if self.reopen_at is None else dt(self.reopen_at),
            "resolved_at": dt(self.resolved), "closed_at": dt(self.closed),
            "next_at": None if nxt is None else dt(nxt),
        }

    @classmethod
    def from_row(cls, r: Any) -> Plan:
        reopen = None if r["reopen_at"] is None else epoch(r["reopen_at"])
        return cls(epoch(r["reported_at"]), epoch(r["dispatched_at"]), epoch(r["started_at"]),
                   epoch(r["first_resolved_at"]), reopen, epoch(r["resolved_at"]), epoch(r["closed_at"]))


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


# --- arrivals ---------------------------------------------------------------------------------------

@dataclass
class Arrivals:
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

    def take(self, mask: np.ndarray) -> Arrivals:
        return Arrivals(self.t[mask], self.sub[mask], self.cell[mask], self.lat[mask], self.lon[mask],
                        self.number[mask], self.u[mask], self.g[mask], self.stream)


Picked = list[tuple[int, Arrivals, int]]  # (arrival time, its batch, its index in the batch), in id order


class Incidents:
    """The city's incidents: who reports what where and when, and how each one is handled."""

    def __init__(self, categories: pd.DataFrame, city: City, *, seed: int, id_prefix: str,
                 clock: LocalClock) -> None:
        self.categories = categories
        self.city = city
        self.seed = seed
        self.id_prefix = id_prefix
        self.clock = clock
        self._category_records = categories.to_dict("records")
        self._serials: dict[str, int] = {}
        self._day_cache: dict[date, Arrivals] = {}
        self._episode_cache: dict[str, Arrivals] = {}

    def forget_days(self) -> None:
        self._day_cache.clear()

    # -- arrivals ---------------------------------------------------------------------------------

    def _finish(self, rng: np.random.Generator, t: np.ndarray, sub: np.ndarray, cell: np.ndarray,
                stream: int) -> Arrivals:
        """Draw the rest of each arrival: its point, house number and lifecycle randomness."""
        city = self.city
        n = len(t)
        jitter = rng.random((n, 2)) * 2.0 - 1.0
        number = rng.integers(1, 1000, n)
        u = rng.random((n, 6))
        g = rng.standard_normal((n, 2))
        lat = city.cells["center_lat"].to_numpy(float)[cell]
        lon = city.cells["center_lon"].to_numpy(float)[cell]
        if n:
            # A point near the cell's centre, kept only if it is inside the cell's polygon.
            cand_lon = lon + jitter[:, 0] * city.cell_half_w[cell] * 0.6
            cand_lat = lat + jitter[:, 1] * city.cell_half_h[cell] * 0.6
            geoms = city.cell_geoms[cell]
            ok = np.array([g_ is not None for g_ in geoms])
            inside = np.zeros(n, bool)
            if ok.any():
                inside[ok] = shapely.contains_xy(geoms[ok], cand_lon[ok], cand_lat[ok])
            lat = np.round(np.where(inside, cand_lat, lat), 6)
            lon = np.round(np.where(inside, cand_lon, lon), 6)
        return Arrivals(t.astype(np.int64), sub.astype(np.int64), cell.astype(np.int64), lat, lon, number,
                        u, g, stream)

    def day_arrivals(self, day: date) -> Arrivals:
        """Every ordinary arrival of a local day (Poisson per subcategory and hour)."""
        cached = self._day_cache.get(day)
        if cached is not None:
            return cached
        start = self.clock.midnight(day)
        length = self.clock.midnight(day + timedelta(days=1)) - start
        rng = np.random.default_rng([self.seed, 7, day.toordinal()])
        rates = self.categories["daily_rate"].to_numpy(float)
        lam = rates[:, None] * INCIDENT_PROFILE[None, :] / 24.0 * (length / 86400.0)
        counts = rng.poisson(lam).ravel()
        n_sub = len(rates)
        sub = np.repeat(np.repeat(np.arange(n_sub), 24), counts)
        hour = np.repeat(np.tile(np.arange(24), n_sub), counts)
        offset = rng.random(len(sub))
        t = start + ((hour + offset) * (length / 24.0)).astype(np.int64)
        cell = rng.choice(len(self.city.cells), size=len(sub), p=self.city.cell_weights)
        arrivals = self._finish(rng, t, sub, cell, stream=0)
        if len(self._day_cache) > 10:
            self._day_cache.clear()
        self._day_cache[day] = arrivals
        return arrivals

    def episode_arrivals(self, ep: Episode) -> Arrivals:
        """The episode's own incidents (its kind's incident mix, in its area), thinned by its intensity."""
        cache_key = f"{ep.key}|{ep.end}|{ep.ramp_s}"  # an episode re-recorded longer is a new plan
        cached = self._episode_cache.get(cache_key)
        if cached is not None:
            return cached
        kind = EPISODE_KINDS[ep.kind]
        rng = np.random.default_rng([self.seed, 11, stable_key(ep.key) >> 1])
        city = self.city
        subs, w = self._episode_mix(kind)
        if ep.area_code == city.city_code:
            cells = np.arange(len(city.cells))
        else:
            cells = np.flatnonzero(((city.cells["district_code"] == ep.area_code)
                                    | (city.cells["street_code"] == ep.area_code)).to_numpy())
        s, e = epoch(ep.start), epoch(ep.end)
        n = int(rng.poisson(kind.incidents_per_hour * (e - s) / 3600.0)) if len(subs) and len(cells) else 0
        t = s + (rng.random(n) * (e - s)).astype(np.int64)
        keep = rng.random(n) < ep.intensity(t)
        sub = rng.choice(subs, size=n, p=w / w.sum()) if n else np.zeros(0, np.int64)
        cw = city.cell_weights[cells] if len(cells) else np.ones(0)
        cell = rng.choice(cells, size=n, p=cw / cw.sum()) if n else np.zeros(0, np.int64)
        arrivals = self._finish(rng, t, sub, cell, stream=1).take(keep)
        self._episode_cache[cache_key] = arrivals
        return arrivals

    def _episode_mix(self, kind: EpisodeKind) -> tuple[np.ndarray, np.ndarray]:
        """(subcategory indexes, weights) of an episode kind's incidents: its incident_mix where the
        categories have those subcategories, else every subcategory of its category by daily rate."""
        cats = self.categories
        if kind.incident_mix:
            index = {s: i for i, s in enumerate(cats["subcategory"])}
            mix = [(index[s], w) for s, w in kind.incident_mix if s in index and w > 0]
            if mix:
                return np.array([i for i, _ in mix], np.int64), np.array([w for _, w in mix], float)
        subs = np.flatnonzero((cats["category"] == kind.incident_category).to_numpy())
        return subs, cats["daily_rate"].to_numpy(float)[subs] + 0.5

    def arrivals_between(self, start: int, end: int, episodes: Sequence[Episode]) -> Picked:
        """Arrivals with start < t <= end, in the one order ids are assigned in."""
        if end <= start or not len(self.city.cells) or self.categories.empty:
            return []
        batches = []
        day = self.clock.day_of(start)
        while self.clock.midnight(day) <= end:
            batches.append(self.day_arrivals(day))
            day += timedelta(days=1)
        for ep in episodes:
            if epoch(ep.start) <= end and epoch(ep.end) > start and ep.kind in EPISODE_KINDS:
                batches.append(self.episode_arrivals(ep))
        picked = []
        for batch in batches:
            for i in np.flatnonzero((batch.t > start) & (batch.t <= end)):
                picked.append((int(batch.t[i]), batch, int(i)))
        picked.sort(key=lambda x: (x[0], x[1].stream, int(x[1].sub[x[2]]), x[2]))
        return picked

    # -- rows -------------------------------------------------------------------------------------

    def _next_serial(self, conn: Connection, day: str) -> int:
        if day not in self._serials:
            prefix = f"{self.id_prefix}{day}"
            last = conn.execute(sa.select(sa.func.max(schema.incidents.c.incident_id))
                                .where(schema.incidents.c.incident_id.like(prefix + "%"))).scalar()
            self._serials[day] = int(last[len(prefix):]) if last and last[len(prefix):].isdigit() else 0
        self._serials[day] += 1
        return self._serials[day]

    def incident_rows(self, conn: Connection, picked: Picked, now: int
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(``incidents`` rows as they stand at ``now``, plan rows of those not yet closed)."""
        incidents, plans = [], []
        names = self.city.area_names
        for t, batch, i in picked:
            cat = self._category_records[int(batch.sub[i])]
            cell = self.city.cell_records[int(batch.cell[i])]
            sla_s = float(cat["sla_hours"]) * 3600.0
            plan = make_plan(t, sla_s, batch.u[i], batch.g[i])
            local_day = self.clock.day_of(t).strftime("%Y%m%d")
            incident_id = f"{self.id_prefix}{local_day}{self._next_serial(conn, local_day):06d}"
            street = names.get(cell["street_code"], "")
            district = names.get(cell["district_code"], "")
            state = plan.state_at(now)
            incidents.append({
                "incident_id": incident_id, "category": cat["category"], "subcategory": cat["subcategory"],
                "source": cat["source"] or "patrol", "priority": int(cat["priority"]), **state,
                "title": f"{cat['name']} - {street}",
                "address": f"{district}{street}{int(batch.number[i])}号",
                "lat": float(batch.lat[i]), "lon": float(batch.lon[i]), "cell_id": cell["cell_id"],
                "street_code": cell["street_code"], "district_code": cell["district_code"],
                "reported_at": dt(t), "due_at": dt(t + int(round(sla_s))),
            })
            if state["status"] != "closed":
                plans.append(plan.row(incident_id, now))
        return incidents, plans

    # -- writes -----------------------------------------------------------------------------------

    def write(self, conn: Connection, start: int, end: int, episodes: Sequence[Episode]) -> int:
        """Write the arrivals of (start, end] as they stand at ``end``; record ``end`` as done."""
        picked = self.arrivals_between(start, end, episodes)
        incidents, plans = self.incident_rows(conn, picked, end)
        execute_batches(conn, insert_ignore(conn, schema.incidents), incidents)
        execute_batches(conn, insert_ignore(conn, sim_incident_plan), plans)
        set_state(conn, "incidents_until", dt(end).isoformat(sep=" "))
        return len(incidents)

    def promote(self, conn: Connection, now: int) -> int:
        """Apply every planned transition that became due; closed incidents leave the plan table."""
        plan_t = sim_incident_plan
        rows = conn.execute(sa.select(plan_t).where(plan_t.c.next_at <= dt(now))
                            .order_by(plan_t.c.incident_id)).mappings().all()
        if not rows:
            return 0
        updates, moves, done = [], [], []
        for r in rows:
            plan = Plan.from_row(r)
            updates.append({f"b_{k}": v for k, v in plan.state_at(now).items()} | {"b_id": r["incident_id"]})
            nxt = plan.next_after(now)
            if nxt is None:
                done.append({"b_id": r["incident_id"]})
            else:
                moves.append({"b_id": r["incident_id"], "b_next": dt(nxt)})
        inc = schema.incidents
        execute_batches(conn, inc.update().where(inc.c.incident_id == sa.bindparam("b_id")).values(
            {k: sa.bindparam(f"b_{k}") for k in
             ("status", "dispatched_at", "started_at", "resolved_at", "closed_at", "reopened")}), updates)
        if moves:
            execute_batches(conn, plan_t.update().where(plan_t.c.incident_id == sa.bindparam("b_id"))
                            .values(next_at=sa.bindparam("b_next")), moves)
        if done:
            execute_batches(conn, plan_t.delete().where(plan_t.c.incident_id == sa.bindparam("b_id")), done)
        return len(rows)
