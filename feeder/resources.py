"""Field resources, simulated: patrol teams walk their street, pump trucks, repair crews and
emergency teams wait at their district base; during an episode the nearest free resource of the
right type goes to each new incident of the scenarios the episode drives, in its area
(en_route -> on_site -> idle, on its way back).

The fleet is read from the base tables (``resources``: the pack loader writes it from
``resource_types.csv``, a city may load its own), so any fleet is simulated the same way. A
resource's position and status at a moment are pure functions of (seed, resource, t) and its
dispatches; a dispatch is decided at ``reported_at`` + a drawn delay (or when a resource frees)
and recorded with its whole timeline in the simulator-only ``sim_dispatches``, so a restart, or
another step cadence, replays the same fleet. Each step writes only the rows that changed.

Also drawn from the seed: a few resources off duty each local day, at least one without a
position (no terminal: lat/lon stay NULL) and a few with a flaky terminal (they report every ten
periods, so the wall sees their positions go stale).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import schema
from data_access.upsert import execute_batches, insert_ignore
from feeder.city import City
from feeder.clock import LocalClock, dt, epoch, floor_to
from feeder.episodes import EPISODE_KINDS, Episode, EpisodeKind
from feeder.noise import stable_key
from feeder.state import sim_dispatches

PATROL = "patrol_team"
LEG_S = 600  # a patrol team walks from one of its cells to the next in this long
OFF_DUTY_SHARE = 0.04  # of resources, each local day
NO_POSITION_SHARE = 0.01  # never report a position (the least of all draws is always one of them)
FLAKY_SHARE = 0.03  # report every FLAKY_EVERY periods
FLAKY_EVERY = 10
DISPATCH_DELAY_S = (60, 240)  # from the report to the dispatch
MIN_TRAVEL_S = 120
DISPATCH_HORIZON_S = 6 * 3600  # incidents reported longer ago are not dispatched to any more
KEEP_DISPATCHES_S = 86400  # finished dispatches are pruned after this long (> DISPATCH_HORIZON_S)
PRUNE_EVERY_S = 600


@dataclass(frozen=True)
class TypeSim:
    speed_kmh: float
    on_site_min: tuple[float, float]  # minutes on site, drawn uniformly


TYPE_SIM: dict[str, TypeSim] = {
    PATROL: TypeSim(12.0, (15.0, 30.0)),
    "pump_truck": TypeSim(30.0, (40.0, 70.0)),
    "repair_crew": TypeSim(30.0, (30.0, 60.0)),
    "emergency_team": TypeSim(40.0, (20.0, 40.0)),
}
DEFAULT_TYPE_SIM = TypeSim(25.0, (20.0, 40.0))


def unit(*parts: object) -> float:
    """A uniform [0, 1) drawn from its parts (stable across processes)."""
    return (stable_key(*parts) >> 11) / float(1 << 53)


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance in km between two (lat, lon) points (equirectangular: fine within a city)."""
    dy = (a[0] - b[0]) * 111.2
    dx = (a[1] - b[1]) * 111.2 * math.cos(math.radians((a[0] + b[0]) / 2))
    return math.hypot(dx, dy)


def _lerp(a: tuple[float, float], b: tuple[float, float], f: float) -> tuple[float, float]:
    f = min(1.0, max(0.0, f))
    return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)


# --- the fleet --------------------------------------------------------------------------------------

@dataclass
class Unit:
    """One resource as the simulator sees it (static for a run)."""

    resource_id: str
    resource_type: str
    area_code: str
    district_code: str
    period_s: int
    waypoints: list[tuple[float, float]]  # (lat, lon): its street's or district's cell centres
    home: tuple[float, float]
    tracked: bool  # False: no terminal, never a position
    report_every_s: int  # period_s, or FLAKY_EVERY x period_s for a flaky terminal
    key: int

    @property
    def sim(self) -> TypeSim:
        return TYPE_SIM.get(self.resource_type, DEFAULT_TYPE_SIM)

    def wander(self, t: int) -> tuple[float, float]:
        """Where a free patrol team is at ``t`` (others: their base)."""
        if self.resource_type != PATROL or len(self.waypoints) < 2:
            return self.home
        leg, into = divmod(int(t), LEG_S)
        n = len(self.waypoints)
        a = self.waypoints[stable_key(self.key, "wp", leg) % n]
        b = self.waypoints[stable_key(self.key, "wp", leg + 1) % n]
        return _lerp(a, b, into / LEG_S)


@dataclass(frozen=True)
class Dispatch:
    """One resource sent to one incident, its whole timeline in epoch seconds."""

    incident_id: str
    resource_id: str
    dispatched: int
    arrive: int
    leave: int
    back: int
    origin: tuple[float, float]
    site: tuple[float, float]
    base: tuple[float, float]  # where it heads after leaving (its base, or its patrol path)

    def row(self) -> dict[str, Any]:
        return {"incident_id": self.incident_id, "resource_id": self.resource_id,
                "dispatched_at": dt(self.dispatched), "arrive_at": dt(self.arrive), "leave_at": dt(self.leave),
                "back_at": dt(self.back), "from_lat": self.origin[0], "from_lon": self.origin[1],
                "to_lat": self.site[0], "to_lon": self.site[1], "base_lat": self.base[0], "base_lon": self.base[1]}

    @classmethod
    def from_row(cls, r: Any) -> Dispatch:
        return cls(r["incident_id"], r["resource_id"], epoch(r["dispatched_at"]), epoch(r["arrive_at"]),
                   epoch(r["leave_at"]), epoch(r["back_at"]), (r["from_lat"], r["from_lon"]),
                   (r["to_lat"], r["to_lon"]), (r["base_lat"], r["base_lon"]))


@dataclass(frozen=True)
class Demand:
    """What the fleet answers during an episode: incidents of these (category, subcategory|None)
    pairs get a resource of these types."""

    categories: tuple[tuple[str, str | None], ...]
    types: tuple[str, ...]

    def covers(self, category: str, subcategory: str) -> bool:
        return any(c == category and (s is None or s == subcategory) for c, s in self.categories)

    def takes(self, pairs: Iterable[tuple[str, str | None]]) -> bool:
        """True when any (category, subcategory|None = any) of ``pairs`` falls in this demand."""
        return any(self.covers(c, s) if s is not None else any(c == dc for dc, _ in self.categories)
                   for c, s in pairs)


def episode_pairs(kind: EpisodeKind, categories: dict[str, str]) -> list[tuple[str, str | None]]:
    """The (category, subcategory|None) pairs of an episode kind's incidents (``categories``:
    subcategory -> category)."""
    pairs: list[tuple[str, str | None]] = [(categories[s], s) for s, _ in kind.incident_mix if s in categories]
    return pairs or [(kind.incident_category, None)]


class Fleet:
    """The city's field resources: positions, statuses and dispatches, written to ``resources``."""

    def __init__(self, units: list[Unit], city: City, *, seed: int, clock: LocalClock,
                 categories: dict[str, str]) -> None:
        self.units = units
        self.by_id = {u.resource_id: u for u in units}
        self.city = city
        self.seed = seed
        self.clock = clock
        self.categories = categories  # subcategory -> category
        self.latest: dict[str, Dispatch] = {}  # resource -> its latest dispatch
        self.dispatched: dict[str, int] = {}  # incident -> when its resource is back (epoch s)
        self._written: dict[str, tuple[Any, ...]] = {}  # resource -> the row last written
        self._next_prune = 0

    # -- reading ------------------------------------------------------------------------------

    @classmethod
    def load(cls, conn: Connection, city: City, *, seed: int, clock: LocalClock,
             categories: dict[str, str]) -> Fleet:
        """The fleet from ``resources`` (none: an empty fleet), its recent dispatches from sim_dispatches."""
        r = schema.resources
        rows = conn.execute(sa.select(r.c.resource_id, r.c.resource_type, r.c.area_code, r.c.period_s)
                            .order_by(r.c.resource_id)).mappings().all()
        a = schema.areas
        areas = {row.area_code: row for row in conn.execute(
            sa.select(a.c.area_code, a.c.level, a.c.parent_code, a.c.center_lat, a.c.center_lon))}
        cells = city.cells
        by_street = {code: list(zip(g["center_lat"], g["center_lon"], strict=True))
                     for code, g in cells.groupby("street_code")} if len(cells) else {}
        by_district = {code: list(zip(g["center_lat"], g["center_lon"], strict=True))
                       for code, g in cells.groupby("district_code")} if len(cells) else {}
        draws = {row["resource_id"]: unit(seed, row["resource_id"], "terminal") for row in rows}
        least = min(draws, key=lambda k: (draws[k], k)) if draws else None
        units = []
        for row in rows:
            rid, code = row["resource_id"], row["area_code"]
            area = areas.get(code)
            district = code if area is None or area.level != "street" else area.parent_code
            points = by_street.get(code) if area is not None and area.level == "street" else None
            points = [(float(p[0]), float(p[1])) for p in (points or by_district.get(district) or [])
                      if p[0] is not None and p[1] is not None]
            if not points and area is not None and area.center_lat is not None:
                points = [(float(area.center_lat), float(area.center_lon))]
            key = stable_key(seed, rid)
            home = points[stable_key(key, "home") % len(points)] if points else (math.nan, math.nan)
            period = max(1, int(row["period_s"] or 30))
            draw = draws[rid]
            tracked = bool(points) and rid != least and draw >= NO_POSITION_SHARE
            flaky = NO_POSITION_SHARE <= draw < NO_POSITION_SHARE + FLAKY_SHARE
            units.append(Unit(rid, row["resource_type"], code, str(district or code), period, points, home,
                              tracked, period * (FLAKY_EVERY if flaky else 1), key))
        fleet = cls(units, city, seed=seed, clock=clock, categories=categories)
        fleet._load_dispatches(conn)
        return fleet

    def _load_dispatches(self, conn: Connection) -> None:
        d = sim_dispatches
        for r in conn.execute(sa.select(d).order_by(d.c.dispatched_at, d.c.incident_id)).mappings():
            disp = Dispatch.from_row(r)
            self.dispatched[disp.incident_id] = disp.back
            if disp.resource_id in self.by_id:
                self.latest[disp.resource_id] = disp

    # -- state at a moment ----------------------------------------------------------------------

    def off_duty(self, u: Unit, t: int) -> bool:
        return unit(self.seed, u.resource_id, "off", self.clock.day_of(t).toordinal()) < OFF_DUTY_SHARE

    def position(self, u: Unit, t: int) -> tuple[float, float]:
        d = self.latest.get(u.resource_id)
        if d is None or t < d.dispatched or t >= d.back:
            return u.wander(t)
        if t < d.arrive:
            return _lerp(d.origin, d.site, (t - d.dispatched) / max(1, d.arrive - d.dispatched))
        if t < d.leave:
            return d.site
        return _lerp(d.site, d.base, (t - d.leave) / max(1, d.back - d.leave))

    def status(self, u: Unit, t: int) -> tuple[str, str | None]:
        """(status, assigned incident) at ``t``."""
        d = self.latest.get(u.resource_id)
        if d is not None and d.dispatched <= t < d.leave:
            return ("en_route" if t < d.arrive else "on_site"), d.incident_id
        return ("off_duty" if self.off_duty(u, t) else "idle"), None

    def free_at(self, u: Unit) -> int:
        """From when the resource can take another incident (it may still be on its way back)."""
        d = self.latest.get(u.resource_id)
        return d.leave if d is not None else 0

    # -- a step ---------------------------------------------------------------------------------

    def step(self, conn: Connection, now: int, episodes: Sequence[Episode]) -> int:
        """Dispatch to the new incidents of running episodes, then write every resource whose row
        changed (its report time, position, status or assignment); rows written."""
        if not self.units:
            return 0
        running = [ep for ep in episodes if epoch(ep.start) <= now and epoch(ep.end) >= now - DISPATCH_HORIZON_S]
        if running:
            self._dispatch(conn, now, running)
        self._prune(conn, now)
        return self._write(conn, now)

    def _demands(self, conn: Connection, kinds: Iterable[str]) -> dict[str, list[Demand]]:
        """What each episode kind calls for: the scenarios (scenario_categories x
        scenario_resource_types) whose categories take its incidents; a database without a
        scenario catalogue: the kind's own resource types for its own incidents."""
        sc, st = schema.scenario_categories, schema.scenario_resource_types
        cats: dict[str, list[tuple[str, str | None]]] = {}
        for sid, cat, sub in conn.execute(sa.select(sc.c.scenario_id, sc.c.category, sc.c.subcategory)):
            cats.setdefault(sid, []).append((cat, sub))
        types: dict[str, list[str]] = {}
        for sid, rtype in conn.execute(sa.select(st.c.scenario_id, st.c.resource_type)):
            types.setdefault(sid, []).append(rtype)
        catalogue = [Demand(tuple(cats[sid]), tuple(sorted(types[sid]))) for sid in sorted(cats) if sid in types]
        demands = {}
        for name in kinds:
            kind = EPISODE_KINDS[name]
            pairs = episode_pairs(kind, self.categories)
            if cats:
                demands[name] = [d for d in catalogue if d.takes(pairs)]
            else:
                demands[name] = [Demand(tuple(pairs), kind.resource_types)]
        return demands

    def _dispatch(self, conn: Connection, now: int, running: Sequence[Episode]) -> None:
        inc = schema.incidents
        rows: dict[str, dict[str, Any]] = {}
        demand_of: dict[str, Demand] = {}
        by_kind = self._demands(conn, sorted({ep.kind for ep in running}))
        for ep in running:
            demands = by_kind[ep.kind]
            if not demands:
                continue
            since = max(epoch(ep.start), now - DISPATCH_HORIZON_S)
            query = sa.select(inc.c.incident_id, inc.c.category, inc.c.subcategory, inc.c.district_code,
                              inc.c.lat, inc.c.lon, inc.c.reported_at, inc.c.closed_at).where(
                inc.c.reported_at >= dt(since), inc.c.reported_at <= dt(min(now, epoch(ep.end))),
                inc.c.lat.is_not(None), inc.c.lon.is_not(None))
            if ep.area_code != self.city.city_code:
                query = query.where(sa.or_(inc.c.district_code == ep.area_code, inc.c.street_code == ep.area_code))
            for r in conn.execute(query).mappings():
                if r["incident_id"] in self.dispatched or r["incident_id"] in rows:
                    continue
                demand = next((d for d in demands if d.covers(r["category"], r["subcategory"])), None)
                if demand is not None:
                    rows[r["incident_id"]] = dict(r)
                    demand_of[r["incident_id"]] = demand
        ready = sorted((epoch(r["reported_at"]) + self._delay(iid), iid) for iid, r in rows.items())
        new = []
        for at, iid in ready:
            if at > now:
                break
            r = rows[iid]
            disp = self._assign(r, at, now, demand_of[iid])
            if disp is not None:
                new.append(disp)
        if new:
            execute_batches(conn, insert_ignore(conn, sim_dispatches), [d.row() for d in new])

    def _delay(self, incident_id: str) -> int:
        lo, hi = DISPATCH_DELAY_S
        return int(lo + (hi - lo) * unit(self.seed, incident_id, "delay"))

    def _assign(self, r: dict[str, Any], ready: int, now: int, demand: Demand) -> Dispatch | None:
        """The nearest resource free at ``ready`` (else the first to free up, if it has by ``now``)."""
        site = (float(r["lat"]), float(r["lon"]))
        pool = [u for u in self.units if u.resource_type in demand.types and u.district_code == r["district_code"]
                and not math.isnan(u.home[0])]
        best: tuple[int, float, str] | None = None
        chosen: Unit | None = None
        for u in pool:
            at = max(ready, self.free_at(u))
            if at > now or self.off_duty(u, at):
                continue
            closed = r["closed_at"]
            if closed is not None and epoch(closed) <= at:
                continue
            rank = (at, km(self.position(u, at), site), u.resource_id)
            if best is None or rank < best:
                best, chosen = rank, u
        if chosen is None or best is None:
            return None
        at = best[0]
        origin = self.position(chosen, at)
        speed = chosen.sim.speed_kmh
        arrive = at + max(MIN_TRAVEL_S, int(km(origin, site) / speed * 3600))
        lo, hi = chosen.sim.on_site_min
        leave = arrive + int(60 * (lo + (hi - lo) * unit(self.seed, r["incident_id"], "on_site")))
        back_travel = max(MIN_TRAVEL_S, int(km(site, chosen.home) / speed * 3600))
        back = leave + back_travel
        base = chosen.wander(back)
        disp = Dispatch(r["incident_id"], chosen.resource_id, at, arrive, leave, back, origin, site, base)
        self.latest[chosen.resource_id] = disp
        self.dispatched[disp.incident_id] = disp.back
        return disp

    def _prune(self, conn: Connection, now: int) -> None:
        """Every PRUNE_EVERY_S: forget dispatches back longer than KEEP_DISPATCHES_S ago (their
        incidents were reported before DISPATCH_HORIZON_S: never candidates again)."""
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY_S
        cutoff = now - KEEP_DISPATCHES_S
        conn.execute(sim_dispatches.delete().where(sim_dispatches.c.back_at < dt(cutoff)))
        self.dispatched = {iid: back for iid, back in self.dispatched.items() if back >= cutoff}

    def rows_at(self, now: int) -> list[dict[str, Any]]:
        """Every resource's ``resources`` row as it stands at ``now``."""
        rows = []
        for u in self.units:
            status, assigned = self.status(u, now)
            reported = floor_to(now, u.report_every_s)
            lat = lon = None
            if u.tracked:
                lat, lon = (round(v, 6) for v in self.position(u, reported))
            rows.append({"resource_id": u.resource_id, "status": status, "lat": lat, "lon": lon,
                         "updated_at": dt(reported), "assigned_incident_id": assigned})
        return rows

    def _write(self, conn: Connection, now: int) -> int:
        changed = []
        for row in self.rows_at(now):
            values = (row["status"], row["lat"], row["lon"], row["updated_at"], row["assigned_incident_id"])
            if self._written.get(row["resource_id"]) != values:
                changed.append((row, values))
        if not changed:
            return 0
        r = schema.resources
        execute_batches(conn, r.update().where(r.c.resource_id == sa.bindparam("b_id")).values(
            {k: sa.bindparam(f"b_{k}") for k in ("status", "lat", "lon", "updated_at", "assigned_incident_id")}),
            [{f"b_{k}": v for k, v in row.items() if k != "resource_id"} | {"b_id": row["resource_id"]}
             for row, _ in changed])
        for row, values in changed:
            self._written[row["resource_id"]] = values
        return len(changed)


# --- the pack's fleet ------------------------------------------------------------------------------

def fleet_rows(types: Iterable[dict[str, Any]], areas: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``resources`` rows for a pack: ``fleet_size`` resources of each type per area of its
    ``fleet_level`` (every street or every district), idle and without a position until the
    simulator places them."""
    rows = []
    for t in types:
        size = int(t.get("fleet_size") or 0)
        level = t.get("fleet_level") or "district"
        for area in (a for a in areas if a["level"] == level):
            for n in range(1, size + 1):
                suffix = f"{n}" if size > 1 else ""
                kind_en = t["name_en"] or t["resource_type"]
                name_en = f"{area.get('name_en') or area['area_code']} {kind_en[:1].lower()}{kind_en[1:]}"
                rows.append({
                    "resource_id": f"{area['area_code']}-{t['resource_type']}-{n:02d}",
                    "resource_type": t["resource_type"],
                    "name": f"{area['name']}{t['name']}{suffix}",
                    "name_en": f"{name_en} {suffix}".strip(),
                    "area_code": area["area_code"],
                    "period_s": int(t.get("period_s") or 30),
                    "status": "idle", "lat": None, "lon": None, "updated_at": None, "assigned_incident_id": None,
                })
    return rows
