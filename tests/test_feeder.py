"""The demo feeder on real databases (SQLite; PostgreSQL when CITYWALL_TEST_POSTGRES_URL is set):
pack loading, a simulated day (back-fill at a fixed ``now``, then a few steps with a fake clock),
incident lifecycles, reading cadence, determinism and the rainstorm episode."""
from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.db import make_engine
from data_access.settings import DEFAULT_PACK, Settings
from feeder.__main__ import main as feeder_main
from feeder.episodes import Episode, parse_episode, start_episode
from feeder.loop import SimConfig, Simulator, run_feeder
from feeder.pack import (
    RAIN_GAUGES,
    copy_pack,
    load_city_pack,
    read_categories,
    read_indicator_catalogue,
    seed_fleet,
)
from feeder.state import sim_dispatches, sim_episodes
from tests.conftest import BACKENDS, InitialisedDatabases

SEED = 4242
NOW = datetime(2026, 6, 15, 6, 0, 17)  # 14:00:17 in Shanghai: a busy afternoon
STEPS_S = (7, 30, 65, 300, 420)  # the fake clock of the simulated day, seconds after NOW
END = NOW + timedelta(seconds=STEPS_S[-1])
STORM_DISTRICT = "310115"
CATALOGUE = read_indicator_catalogue(DEFAULT_PACK)
CATEGORIES = read_categories(DEFAULT_PACK)


def _indicator(period_s: int) -> str:
    rows = CATALOGUE[(CATALOGUE["period_s"] == period_s) & (CATALOGUE["level"] == "city")]
    return str(rows["indicator_id"].iloc[0])


def _epoch(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds())


def _fresh(backend: str, tmp: Path, cleanups: list[Callable[[], None]], initialised: InitialisedDatabases) -> Engine:
    url, cleanup = initialised.create(backend, tmp)
    cleanups.append(cleanup)
    engine = make_engine(url)
    load_city_pack(engine, pack_dir=DEFAULT_PACK)
    return engine


@dataclass
class SimulatedDay:
    engine: Engine
    sim: Simulator
    backend: str


def _simulate_day(engine: Engine, *, seed: int = SEED, steps: tuple[int, ...] = STEPS_S) -> Simulator:
    sim = Simulator(SimConfig(seed=seed, backfill_days=1))
    sim.backfill(engine, days=1, now=NOW, recent_hours=2)
    for offset in steps:
        sim.step(engine, now=NOW + timedelta(seconds=offset))
    return sim


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def databases(backend: str, tmp_path_factory: pytest.TempPathFactory,
              initialised_databases: InitialisedDatabases) -> Iterator[Callable[[], Engine]]:
    """Factory of fresh databases (pack loaded) for this module; all dropped at the end."""
    cleanups: list[Callable[[], None]] = []
    engines: list[Engine] = []

    def factory() -> Engine:
        engine = _fresh(backend, tmp_path_factory.mktemp("feeder"), cleanups, initialised_databases)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.dispose()
    for cleanup in cleanups:
        cleanup()


@pytest.fixture(scope="module")
def day(backend: str, databases: Callable[[], Engine]) -> SimulatedDay:
    engine = databases()
    return SimulatedDay(engine, _simulate_day(engine), backend)


def _incidents(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            sa.select(schema.incidents).order_by(schema.incidents.c.incident_id)).mappings()]


def _readings(engine: Engine, indicator_id: str | None = None, area_code: str | None = None) -> list[tuple]:
    r = schema.readings
    query = sa.select(r.c.indicator_id, r.c.area_code, r.c.ts, r.c.value)
    if indicator_id:
        query = query.where(r.c.indicator_id == indicator_id)
    if area_code:
        query = query.where(r.c.area_code == area_code)
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query.order_by(r.c.indicator_id, r.c.area_code, r.c.ts))]


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


# --- incidents -------------------------------------------------------------------------------------

def test_lifecycle_timestamps_are_ordered_and_never_in_the_future(day: SimulatedDay) -> None:
    rows = _incidents(day.engine)
    assert len(rows) > 2000  # ~3,600 a day city-wide
    for row in rows:
        chain = [row[k] for k in ("reported_at", "dispatched_at", "started_at", "resolved_at", "closed_at")]
        present = [t for t in chain if t is not None]
        assert present == sorted(present), row
        assert all(t <= END for t in present), row
        assert NOW - timedelta(days=1) < row["reported_at"] <= END
        if row["closed_at"] is not None:
            assert row["resolved_at"] is not None, row


def test_status_matches_timestamps(day: SimulatedDay) -> None:
    expected_present = {
        "reported": (), "dispatched": ("dispatched_at",), "in_progress": ("dispatched_at", "started_at"),
        "resolved": ("dispatched_at", "started_at", "resolved_at"),
        "closed": ("dispatched_at", "started_at", "resolved_at", "closed_at"),
    }
    sla = dict(zip(CATEGORIES["subcategory"], CATEGORIES["sla_hours"], strict=True))
    statuses = set()
    for row in _incidents(day.engine):
        statuses.add(row["status"])
        present = {k for k in ("dispatched_at", "started_at", "resolved_at", "closed_at")
                   if row[k] is not None}
        assert present == set(expected_present[row["status"]]), row
        assert row["due_at"] == row["reported_at"] + timedelta(hours=sla[row["subcategory"]])
        assert re.fullmatch(r"SH\d{8}\d{6}", row["incident_id"])
        assert row["cell_id"] and row["street_code"].startswith(row["district_code"])
        assert row["title"] and row["address"].endswith("号")
    assert statuses == set(schema.INCIDENT_STATUSES)


def test_incidents_lie_in_their_cells(day: SimulatedDay) -> None:
    import shapely

    with day.engine.connect() as conn:
        cells = {c: shapely.from_geojson(g) for c, g in conn.execute(
            sa.select(schema.grid_cells.c.cell_id, schema.grid_cells.c.geojson))}
    rows = _incidents(day.engine)[:500]
    inside = sum(cells[r["cell_id"]].buffer(1e-4).contains(shapely.Point(r["lon"], r["lat"])) for r in rows)
    assert inside == len(rows)


def test_most_incidents_are_resolved_on_time(day: SimulatedDay) -> None:
    resolved = [r for r in _incidents(day.engine) if r["resolved_at"] is not None]
    on_time = sum(r["resolved_at"] <= r["due_at"] for r in resolved) / len(resolved)
    assert 0.75 <= on_time <= 0.98, on_time


def test_some_incidents_are_reopened(day: SimulatedDay) -> None:
    rows = _incidents(day.engine)
    reopened = [r for r in rows if r["reopened"]]
    assert 0 < len(reopened) < 0.08 * len(rows)
    assert all(r["reopened"] == 1 and r["started_at"] is not None for r in reopened)


def test_step_promotes_planned_transitions(day: SimulatedDay) -> None:
    # Whatever is still open has a plan whose next transition lies after the last step.
    plan = sa.table("sim_incident_plan", sa.column("incident_id"), sa.column("next_at"))
    with day.engine.connect() as conn:
        open_ids = {r[0] for r in conn.execute(sa.select(schema.incidents.c.incident_id)
                                               .where(schema.incidents.c.closed_at.is_(None)))}
        planned = {r[0] for r in conn.execute(sa.select(plan.c.incident_id))}
        overdue_plans = conn.execute(sa.select(sa.func.count()).select_from(plan)
                                     .where(plan.c.next_at <= END)).scalar_one()
    assert open_ids == planned
    assert overdue_plans == 0


# --- readings --------------------------------------------------------------------------------------

def test_a_60_second_indicator_is_spaced_by_its_period(day: SimulatedDay) -> None:
    indicator = _indicator(60)
    times = [ts for _, _, ts, _ in _readings(day.engine, indicator) if ts > END - timedelta(hours=1)]
    assert len(times) == 60
    assert all((b - a) == timedelta(seconds=60) for a, b in zip(times, times[1:], strict=False))
    assert all(_epoch(t) % 60 == 0 for t in times)


def test_a_5_second_indicator_lands_on_5_second_boundaries(day: SimulatedDay) -> None:
    indicator = _indicator(5)
    times = [ts for _, _, ts, _ in _readings(day.engine, indicator) if ts > NOW]
    assert times and all(_epoch(t) % 5 == 0 for t in times)
    assert all((b - a) == timedelta(seconds=5) for a, b in zip(times, times[1:], strict=False))
    assert times[-1] == END - timedelta(seconds=_epoch(END) % 5)


def test_district_indicators_have_a_city_series(day: SimulatedDay) -> None:
    summed = CATALOGUE[(CATALOGUE["level"] == "district") & (CATALOGUE["aggregate"] == "sum")
                       & (CATALOGUE["period_s"] == 300)].iloc[0]
    rows = _readings(day.engine, summed["indicator_id"])
    at = max(ts for _, _, ts, _ in rows)
    values = {area: v for _, area, ts, v in rows if ts == at}
    assert len(values) == 17  # 16 districts and the city
    city = values.pop("310000")
    assert city == pytest.approx(sum(values.values()), rel=1e-9, abs=10 ** -int(summed["sim_decimals"]))
    assert all(v >= 0 for v in values.values())
    counts = CATALOGUE[CATALOGUE["sim_kind"] == "count"]["indicator_id"]
    with day.engine.connect() as conn:
        bad = conn.execute(sa.select(sa.func.count()).select_from(schema.readings).where(
            schema.readings.c.indicator_id.in_(list(counts)),
            (schema.readings.c.value < 0)
            | (schema.readings.c.value != sa.func.round(schema.readings.c.value)),
        )).scalar_one()
    assert bad == 0


# --- determinism -----------------------------------------------------------------------------------

def test_same_seed_same_city(day: SimulatedDay, databases: Callable[[], Engine]) -> None:
    other = databases()
    # Same seed and the same final `now`, but a different step cadence (one catch-up step).
    _simulate_day(other, steps=(STEPS_S[-1],))
    assert _readings(other) == _readings(day.engine)
    assert _incidents(other) == _incidents(day.engine)


def test_another_seed_another_city(day: SimulatedDay, databases: Callable[[], Engine]) -> None:
    other = databases()
    sim = Simulator(SimConfig(seed=SEED + 1))
    sim.backfill(other, days=0.1, now=NOW, recent_hours=0.1)
    indicator = _indicator(60)
    mine = {ts: v for _, _, ts, v in _readings(day.engine, indicator)}
    theirs = {ts: v for _, _, ts, v in _readings(other, indicator)}
    shared = sorted(set(mine) & set(theirs))
    assert shared and any(mine[t] != theirs[t] for t in shared)


# --- episodes --------------------------------------------------------------------------------------

def _vital(engine: Engine, indicator_id: str, area_code: str) -> dict:
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT value, status FROM v_vitals_latest WHERE indicator_id = :i AND area_code = :a"
        ), {"i": indicator_id, "a": area_code}).mappings().one()
    return dict(row)


def test_rainstorm_drives_waterlogging_to_alarm(databases: Callable[[], Engine]) -> None:
    engine = databases()
    sim = Simulator(SimConfig(seed=SEED, backfill_days=1))
    sim.backfill(engine, days=0.25, now=NOW, recent_hours=0.5)
    assert _vital(engine, "waterlogging_points", STORM_DISTRICT)["status"] == "normal"
    start_episode(engine, episode=parse_episode(f"rainstorm:{STORM_DISTRICT}", now=NOW))
    for minutes in range(5, 50, 5):
        sim.step(engine, now=NOW + timedelta(minutes=minutes))
    # 45 minutes in: past the 30-minute ramp, on the plateau.
    assert _vital(engine, "waterlogging_points", STORM_DISTRICT)["status"] == "alarm"
    assert _vital(engine, "rainfall_mm_h", STORM_DISTRICT)["status"] == "alarm"
    assert _vital(engine, "waterlogging_points", "310000")["status"] == "alarm"  # the city sum follows
    assert _vital(engine, "waterlogging_points", "310101")["status"] == "normal"  # elsewhere it is dry
    with engine.connect() as conn:
        flooded = conn.execute(sa.select(sa.func.count()).select_from(schema.incidents).where(
            schema.incidents.c.category == "waterlogging", schema.incidents.c.district_code == STORM_DISTRICT,
            schema.incidents.c.reported_at > NOW)).scalar_one()
        elsewhere = conn.execute(sa.select(sa.func.count()).select_from(schema.incidents).where(
            schema.incidents.c.category == "waterlogging", schema.incidents.c.district_code != STORM_DISTRICT,
            schema.incidents.c.reported_at > NOW)).scalar_one()
    assert flooded >= 5 and flooded > elsewhere  # one district out-floods the other fifteen together


def _episode_incidents(engine: Engine, category: str, since: datetime) -> dict[str, int]:
    """district -> incidents of ``category`` reported after ``since``."""
    inc = schema.incidents
    with engine.connect() as conn:
        rows = conn.execute(sa.select(inc.c.district_code, sa.func.count()).where(
            inc.c.category == category, inc.c.reported_at > since).group_by(inc.c.district_code)).all()
    return {str(code): int(n) for code, n in rows}


@pytest.mark.parametrize("spec, triggers, category", [
    ("crowd:310101:40:0", ("crowd_density_p_m2", "metro_station_crowding_pct"), "public_safety"),
    ("gas:310104:40:0", ("gas_leak_alarms",), "gas"),
    ("rain:310115:40:0", ("rainfall_mm_h", "waterlogging_points"), "waterlogging"),
])
def test_each_episode_drives_its_scenario_into_alarm_in_its_district(
        databases: Callable[[], Engine], spec: str, triggers: tuple[str, ...], category: str) -> None:
    engine = databases()
    area = spec.split(":")[1]
    sim = Simulator(SimConfig(seed=SEED, backfill_days=1))
    sim.backfill(engine, days=0.25, now=NOW, recent_hours=0.5)
    for indicator_id in triggers:
        assert _vital(engine, indicator_id, area)["status"] == "normal", indicator_id
    start_episode(engine, episode=parse_episode(spec, now=NOW))
    # Sudden (RAMP 0): the first step after the start writes alarms, at every trigger's next period.
    sim.step(engine, now=NOW + timedelta(seconds=301))
    for indicator_id in triggers:
        assert _vital(engine, indicator_id, area)["status"] == "alarm", indicator_id
        assert _vital(engine, indicator_id, "310113")["status"] == "normal", indicator_id  # elsewhere calm
    for minutes in (10, 20, 30):
        sim.step(engine, now=NOW + timedelta(minutes=minutes))
    raised = _episode_incidents(engine, category, NOW)
    assert raised.get(area, 0) >= 3, raised
    assert raised[area] > sum(n for code, n in raised.items() if code != area), raised
    sim.step(engine, now=NOW + timedelta(minutes=45, seconds=1))  # over: back to normal
    for indicator_id in triggers:
        assert _vital(engine, indicator_id, area)["status"] == "normal", indicator_id


def test_episode_specs() -> None:
    crowd = parse_episode("crowd:310101", now=NOW)
    assert (crowd.kind, crowd.area_code, crowd.end - crowd.start, crowd.ramp_s) == (
        "crowd", "310101", timedelta(minutes=120), 1200)
    gas = parse_episode("gas:310104:30:0", now=NOW)
    assert (gas.kind, gas.end - gas.start, gas.ramp_s) == ("gas", timedelta(minutes=30), 0)
    assert parse_episode("rain:310115:45", now=NOW).kind == "rainstorm"  # another spelling, one kind
    t = np.array([_epoch(NOW), _epoch(NOW) + 1, _epoch(NOW) + 1799, _epoch(NOW) + 1800])
    assert gas.intensity(t).tolist() == [0.0, 1.0, 1.0, 0.0]  # sudden: full from the first second
    for bad, message in (("crowd:310101:soon", "not a number"), ("gas:310104:30:20", "half the duration"),
                         ("flood:310101", "KIND one of"), ("crowd", "KIND:AREA"), ("gas:310104:0", "positive"),
                         ("gas:310104:nan", "not a number")):
        with pytest.raises(ValueError, match=message):
            parse_episode(bad, now=NOW)


def test_episode_shape_and_values_are_pure(day: SimulatedDay) -> None:
    start = NOW - timedelta(days=3)
    ep = Episode("rainstorm", STORM_DISTRICT, start, start + timedelta(hours=2), 1800)
    t = np.array([_epoch(start) - 60, _epoch(start) + 900, _epoch(start) + 3600, _epoch(start) + 7260])
    assert ep.intensity(t).tolist() == [0.0, 0.5, 1.0, 0.0]
    # values() depends on (seed, indicator, area, ts, episodes) only: any history can be recomputed.
    model = next(m for m in day.sim._indicators if m.indicator_id == "waterlogging_points")
    calm, storm = day.sim.values(model, t, []), day.sim.values(model, t, [ep])
    row = model.area_codes.index(STORM_DISTRICT)
    assert storm[row, 2] > model.alarm_high > calm[row, 2]
    assert storm[row, 0] == calm[row, 0] and storm[row, 3] == calm[row, 3]
    assert (day.sim.values(model, t, [ep]) == storm).all()
    with pytest.raises(ValueError):
        parse_episode("earthquake:310115", now=NOW)
    # Overlapping storms over the same district (a scheduled one and one started by hand) take the
    # stronger effect; they must not multiply into absurd values.
    later = Episode("rainstorm", STORM_DISTRICT, start + timedelta(minutes=10), start + timedelta(hours=2), 1800)
    both = day.sim.values(model, t, [ep, later])
    assert (both >= storm).all()
    assert both[row, 2] <= max(model.alarm_high * 1.5, calm[row, 2] * 20) * 1.6
    rain = next(m for m in day.sim._indicators if m.indicator_id == "rainfall_mm_h")
    assert day.sim.values(rain, t, [ep, later, ep])[rain.area_codes.index(STORM_DISTRICT), 2] < 200  # mm/h


# --- field resources -------------------------------------------------------------------------------

GAS_DISTRICT = "310104"


def _fleet(engine: Engine) -> dict[str, dict]:
    """resource_id -> its v_resources row."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM v_resources ORDER BY resource_id").columns(
            updated_at=schema.UtcDateTime)).mappings().all()
    return {r["resource_id"]: dict(r) for r in rows}


def _dispatches(engine: Engine) -> list[tuple]:
    d = sim_dispatches
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(d).order_by(d.c.incident_id))]


def _gas_run(engine: Engine, offsets_s: Iterable[int], *, seed: int = SEED, sim: Simulator | None = None,
             start_episode_now: bool = True) -> tuple[Simulator, list[tuple[int, dict[str, dict]]]]:
    """A short back-fill, a sudden gas episode in GAS_DISTRICT at NOW, then steps at NOW + each
    offset; (the simulator, [(offset, the fleet after that step)])."""
    if sim is None:
        sim = Simulator(SimConfig(seed=seed, backfill_days=1))
        sim.backfill(engine, days=0.05, now=NOW, recent_hours=0.05)
    if start_episode_now:
        start_episode(engine, episode=parse_episode(f"gas:{GAS_DISTRICT}:90:0", now=NOW))
    snapshots = []
    for offset in offsets_s:
        sim.step(engine, now=NOW + timedelta(seconds=offset))
        snapshots.append((offset, _fleet(engine)))
    return sim, snapshots


GAS_STEPS = tuple(range(60, 3 * 3600, 180))


@pytest.fixture(scope="module")
def gas_run(databases: Callable[[], Engine]) -> tuple[Engine, list[tuple[int, dict[str, dict]]]]:
    engine = databases()
    _, snapshots = _gas_run(engine, GAS_STEPS)
    return engine, snapshots


def test_the_pack_seeds_resource_types_and_a_fleet(databases: Callable[[], Engine]) -> None:
    engine = databases()
    with engine.connect() as conn:
        types = conn.execute(sa.text("SELECT resource_type, name, name_en FROM v_resource_types "
                                     "ORDER BY sort_order")).all()
        streets = conn.execute(sa.text("SELECT count(*) FROM areas WHERE level = 'street'")).scalar_one()
    assert [t[0] for t in types] == ["patrol_team", "pump_truck", "repair_crew", "emergency_team"]
    assert all(t[1] and t[2] for t in types)  # zh and en names
    fleet = _fleet(engine)
    by_type = Counter(r["type"] for r in fleet.values())
    assert by_type == {"patrol_team": streets, "pump_truck": 48, "repair_crew": 48, "emergency_team": 32}
    assert {r["status"] for r in fleet.values()} == {"idle"}  # not yet placed: no position, no report
    assert all(r["lat"] is None and r["updated_at"] is None for r in fleet.values())
    pump = fleet["310115-pump_truck-02"]
    assert (pump["name"], pump["name_en"], pump["area_code"], pump["period_s"]) == (
        "浦东新区排水抢险车2", "Pudong New Area pump truck 2", "310115", 30)


def test_an_older_database_gets_the_fleet_over_its_own_areas(databases: Callable[[], Engine]) -> None:
    engine = databases()
    with engine.begin() as conn:
        conn.execute(schema.resources.delete())
        conn.execute(schema.resource_types.delete())
    assert seed_fleet(engine, pack_dir=DEFAULT_PACK) == 362
    assert seed_fleet(engine, pack_dir=DEFAULT_PACK) == 0  # a fleet is there: left alone
    assert _count(engine, schema.resource_types) == 4 and len(_fleet(engine)) == 362


def test_resources_report_move_and_keep_a_few_off_duty(gas_run: tuple[Engine, list]) -> None:
    _, snapshots = gas_run
    (t0, first), (_, second) = snapshots[0], snapshots[1]
    assert all(r["updated_at"] is not None and r["updated_at"] <= NOW + timedelta(seconds=t0) for r in first.values())
    # Every report is on its period boundary (a flaky terminal: every ten periods) and no older than that.
    for r in first.values():
        age = (NOW + timedelta(seconds=t0) - r["updated_at"]).total_seconds()
        assert age < 10 * r["period_s"] and _epoch(r["updated_at"]) % r["period_s"] == 0, r
    stale = [r for r in first.values() if r["lat"] is not None
             and (NOW + timedelta(seconds=t0) - r["updated_at"]).total_seconds() > 2 * r["period_s"]]
    assert stale  # flaky terminals: the wall greys them
    patrols = [k for k, r in first.items() if r["type"] == "patrol_team" and r["status"] == "idle" and r["lat"]]
    moved = [k for k in patrols if (first[k]["lat"], first[k]["lon"]) != (second[k]["lat"], second[k]["lon"])]
    assert len(moved) > 0.8 * len(patrols)  # patrol teams walk their streets
    bases = [k for k, r in first.items() if r["type"] == "pump_truck" and r["status"] == "idle" and r["lat"]]
    assert all((first[k]["lat"], first[k]["lon"]) == (second[k]["lat"], second[k]["lon"]) for k in bases)
    off = [k for k, r in first.items() if r["status"] == "off_duty"]
    assert 1 <= len(off) <= 0.1 * len(first)
    assert all(r["status"] == "off_duty" for _, fleet in snapshots for k, r in fleet.items() if k in off)
    # A resource without a terminal is in the table, never placed: the board lists it without a position.
    no_position = [k for k, r in first.items() if r["lat"] is None]
    assert 1 <= len(no_position) <= 0.05 * len(first)
    assert all(r["lat"] is None and r["lon"] is None and r["updated_at"] is not None
               for _, fleet in snapshots for k, r in fleet.items() if k in no_position)


def test_resources_are_dispatched_arrive_and_finish(gas_run: tuple[Engine, list]) -> None:
    engine, snapshots = gas_run
    incidents = {r["incident_id"]: r for r in _incidents(engine)}
    journeys: dict[str, list[tuple[int, str, str | None, tuple]]] = {}
    for offset, fleet in snapshots:
        for k, r in fleet.items():
            journeys.setdefault(k, []).append((offset, r["status"], r["assigned_incident_id"], (r["lat"], r["lon"])))
    busy = {k: j for k, j in journeys.items() if any(s in ("en_route", "on_site") for _, s, _, _ in j)}
    assert len(busy) >= 4
    for k, journey in busy.items():
        r = snapshots[-1][1][k]
        # Only the gas scenario's kinds of resource, of the district the episode hit, to its incidents.
        assert r["type"] in ("repair_crew", "emergency_team") and r["area_code"] == GAS_DISTRICT, r
        for _, status, assigned, _ in journey:
            if status in ("en_route", "on_site"):
                inc = incidents[assigned]
                assert inc["category"] == "gas" and inc["district_code"] == GAS_DISTRICT
                assert inc["reported_at"] >= NOW
            else:
                assert assigned is None
    # en_route -> on_site (at the incident) -> idle, for someone.
    complete = []
    for k, journey in busy.items():
        statuses = [s for _, s, _, _ in journey]
        if "en_route" in statuses and "on_site" in statuses:
            on_site = statuses.index("on_site")
            if statuses.index("en_route") < on_site and "idle" in statuses[on_site:]:
                complete.append(k)
            _, _, assigned, where = journey[on_site]
            if where[0] is not None:
                assert where == (incidents[assigned]["lat"], incidents[assigned]["lon"])
    assert complete
    # Nobody outside the district, and no patrol or pump truck (the gas scenario's types) moved off its round.
    others = {r["status"] for _, fleet in snapshots for r in fleet.values() if r["area_code"] != GAS_DISTRICT}
    assert others <= {"idle", "off_duty"}
    dispatched = _dispatches(engine)
    assert len({d[0] for d in dispatched}) == len(dispatched)  # one resource per incident
    assert all(d[2] <= d[3] <= d[4] <= d[5] for d in dispatched)  # dispatched <= arrive <= leave <= back


def test_a_scenario_catalogue_decides_who_is_sent(databases: Callable[[], Engine]) -> None:
    engine = databases()
    with engine.begin() as conn:
        conn.execute(schema.scenarios.insert().values(
            scenario_id="gas_only_crews", name="燃气", area_level="district", activation_kind="manual"))
        conn.execute(schema.scenario_categories.insert().values(
            scenario_id="gas_only_crews", category="gas", subcategory=None))
        conn.execute(schema.scenario_resource_types.insert().values(
            scenario_id="gas_only_crews", resource_type="repair_crew"))
    _gas_run(engine, range(60, 2 * 3600, 300))
    sent = {rid for _, rid, *_ in _dispatches(engine)}
    assert sent and all("-repair_crew-" in rid for rid in sent)


def test_the_fleet_is_deterministic_across_cadences_and_restarts(
        gas_run: tuple[Engine, list], databases: Callable[[], Engine]) -> None:
    engine, snapshots = gas_run
    offsets = (GAS_STEPS[0], 1800, 3 * 3600 - 420, GAS_STEPS[-1])  # coarser steps, the same last one
    other = databases()
    sim, _ = _gas_run(other, offsets[:2])
    _gas_run(other, offsets[2:], sim=Simulator(SimConfig(seed=SEED, backfill_days=1)),
             start_episode_now=False)  # a restart half-way
    assert _dispatches(other) == _dispatches(engine)
    assert _fleet(other) == snapshots[-1][1]
    _, reseeded = _gas_run(databases(), offsets[:1], seed=SEED + 1)
    assert reseeded[0][1] != snapshots[0][1]  # another seed, another fleet


# --- pack ------------------------------------------------------------------------------------------

def test_loading_the_pack_twice_changes_nothing(day: SimulatedDay) -> None:
    tables = (schema.areas, schema.grid_cells, schema.indicators, schema.incident_categories,
              schema.readings, schema.incidents, schema.resource_types, schema.resources)
    before = {t.name: _count(day.engine, t) for t in tables}
    city_geometry = sa.select(schema.areas.c.geojson).where(schema.areas.c.level == "city")
    with day.engine.connect() as conn:
        geo_before = conn.execute(city_geometry).scalar()
    fleet_before = _fleet(day.engine)
    summary = load_city_pack(day.engine, pack_dir=DEFAULT_PACK)
    after = {t.name: _count(day.engine, t) for t in tables}
    assert after == before
    assert _fleet(day.engine) == fleet_before  # the feeder's positions and statuses survive a reload
    assert (summary.resource_types, summary.resources) == (before["resource_types"], before["resources"])
    assert (summary.areas, summary.districts, summary.streets, summary.cells) == (
        before["areas"], 16, before["areas"] - 17, before["grid_cells"])
    assert summary.indicators == before["indicators"] == len(CATALOGUE)
    with day.engine.connect() as conn:
        geo_after = conn.execute(city_geometry).scalar()
    assert geo_after == geo_before and ", " not in geo_after[:200]


def test_scale_copies_the_catalogue_off_the_wall(databases: Callable[[], Engine]) -> None:
    engine = databases()
    sim = Simulator(SimConfig(seed=SEED, scale=3))
    stats = sim.step(engine, now=NOW)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.indicators.c.indicator_id, schema.indicators.c.name,
                                      schema.indicators.c.on_wall)).all()
    copies = [r for r in rows if "__" in r.indicator_id]
    assert len(rows) == 3 * len(CATALOGUE) and len(copies) == 2 * len(CATALOGUE)
    assert all(not r.on_wall and re.search(r" #[23]$", r.name) for r in copies)
    assert stats.readings > 0 and any("__3" in r[0] for r in _readings(engine))


def test_retention_drops_old_readings(databases: Callable[[], Engine]) -> None:
    """Raw readings older than the policy's 26 h leave the table once the roll-ups hold them; the
    minute roll-up keeps 48 h, the hourly one 30 days (tests/test_rollups.py has the details)."""
    engine = databases()
    with engine.begin() as conn:
        conn.execute(schema.readings.insert(), [
            {"indicator_id": "aqi", "area_code": "310000", "ts": NOW - timedelta(days=3), "value": 1.0},
            {"indicator_id": "aqi", "area_code": "310000", "ts": NOW - timedelta(hours=30), "value": 2.0},
            {"indicator_id": "aqi", "area_code": "310000", "ts": NOW - timedelta(hours=20), "value": 3.0},
        ])
    stats = Simulator(SimConfig(seed=SEED, backfill_days=1)).step(engine, now=NOW)
    kept = [ts for _, _, ts, _ in _readings(engine, "aqi", "310000")]
    assert NOW - timedelta(days=3) not in kept and NOW - timedelta(hours=30) not in kept
    assert NOW - timedelta(hours=20) in kept and stats.deleted_readings >= 2
    with engine.connect() as conn:
        minutes = conn.execute(sa.select(schema.readings_minute.c.value).where(
            schema.readings_minute.c.indicator_id == "aqi")).scalars().all()
        hours = conn.execute(sa.select(schema.readings_hourly.c.value).where(
            schema.readings_hourly.c.indicator_id == "aqi")).scalars().all()
    assert sorted(minutes) == [2.0, 3.0] and sorted(hours) == [1.0, 2.0, 3.0]


def test_steps_keep_the_minute_roll_up_current(day: SimulatedDay) -> None:
    """After the back-fill and the steps, every finished minute up to the last step is rolled, and
    each roll-up row is the mean (and count) of its raw readings."""
    minute = "strftime('%Y-%m-%d %H:%M:00', ts)" if day.backend == "sqlite" else "date_trunc('minute', ts)"
    with day.engine.connect() as conn:
        marks = dict(conn.execute(sa.select(schema.rollup_watermarks)).all())
        raw = {(r[0], r[1], str(r[2])[:19]): (r[3], r[4]) for r in conn.exec_driver_sql(
            f"SELECT indicator_id, area_code, {minute}, AVG(value), COUNT(value) FROM readings"
            f" WHERE ts < '{marks['minute']:%Y-%m-%d %H:%M:%S}' GROUP BY 1, 2, 3")}
        rolled = {(r.indicator_id, r.area_code, str(r.minute)[:19]): (r.value, r.n)
                  for r in conn.execute(sa.select(schema.readings_minute))}
    assert marks["minute"] == END.replace(second=0)
    assert marks["hour"] == (END - timedelta(minutes=5)).replace(minute=0, second=0)
    assert set(rolled) == set(raw) and len(rolled) > 1000
    assert all(rolled[k][1] == raw[k][1] and rolled[k][0] == pytest.approx(raw[k][0]) for k in raw)


def test_copies_get_a_realistic_mix_of_periods() -> None:
    from feeder.vitals import COPY_PERIOD_MIX, scale_catalogue

    scaled = scale_catalogue(CATALOGUE, scale=22)
    copies = scaled[scaled["indicator_id"].str.contains("__")]
    shares = copies["period_s"].value_counts(normalize=True)
    assert len(scaled) == 22 * len(CATALOGUE) and set(shares.index) == {p for p, _ in COPY_PERIOD_MIX}
    assert all(abs(shares[p] - share) < 0.04 for p, share in COPY_PERIOD_MIX)
    assert (scaled.iloc[:len(CATALOGUE)]["period_s"].to_numpy() == CATALOGUE["period_s"].to_numpy()).all()
    assert (scale_catalogue(CATALOGUE, scale=22)["period_s"] == scaled["period_s"]).all()  # stable


# --- the live loop and the command line ---------------------------------------------------------------

def test_run_feeder_writes_and_stops(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'live.db'}", backfill_days=0, feeder_seed=SEED)
    stop = threading.Event()
    thread = threading.Thread(target=run_feeder, kwargs={"settings": settings, "stop": stop, "tick_s": 0.2})
    thread.start()
    stop.wait(3.0)
    stop.set()
    thread.join(timeout=20)
    assert not thread.is_alive()
    engine = make_engine(settings.database_url)
    try:
        assert _count(engine, schema.areas) > 200 and _count(engine, schema.readings) > 0
    finally:
        engine.dispose()


def test_run_feeder_survives_an_unreachable_database(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on port 9: start-up fails, is logged as one line, and retried until stopped.
    settings = Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=1")
    stop = threading.Event()
    thread = threading.Thread(target=run_feeder, kwargs={"settings": settings, "stop": stop})
    with caplog.at_level(logging.WARNING, logger="citywall.feeder"):
        thread.start()
        stop.wait(2.5)
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) >= 2 and all("\n" not in m for m in failures)


def test_cli_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert feeder_main(["--database-url", url, "--backfill-days", "0", "--seed", "3", "--once",
                        "--episode", f"rainstorm:{STORM_DISTRICT}:30"]) == 0
    assert "step:" in capsys.readouterr().out
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            kinds = [r[0] for r in conn.execute(sa.text("SELECT kind FROM sim_episodes"))]
        assert kinds == ["rainstorm"] and _count(engine, schema.readings) > 0
        assert feeder_main(["--database-url", url, "--once", "--episode", "flood"]) == 2  # a bad spec, before any work
        assert "KIND one of rainstorm, crowd, gas, rain" in capsys.readouterr().err
        assert feeder_main(["--database-url", url, "--once", "--episode", "crowd:999999"]) == 1  # no such area
        err = capsys.readouterr().err
        assert "'999999' is neither the city" in err and "Traceback" not in err
        assert _count(engine, sim_episodes) == 1  # nothing recorded
    finally:
        engine.dispose()


def test_settings_feed_the_simulator_config() -> None:
    settings = replace(Settings(), feeder_seed=9, feeder_scale=2, timezone="Asia/Shanghai", backfill_days=3)
    config = SimConfig.from_settings(settings)
    assert (config.seed, config.scale, config.backfill_days, config.pack_dir) == (9, 2, 3, DEFAULT_PACK)


def test_district_series_of_sum_indicators_get_their_own_bounds(day: SimulatedDay) -> None:
    engine = day.engine
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.indicator_thresholds)).mappings().all()
        catalogue = {r["indicator_id"]: r for r in conn.execute(sa.select(schema.indicators)).mappings()}
    power = [r for r in rows if r["indicator_id"] == "power_load_mw"]
    assert len(power) == 16  # one per district
    city_warn = catalogue["power_load_mw"]["warn_high"]
    assert 0.99 * city_warn < sum(r["warn_high"] for r in power) < 1.01 * city_warn  # shares add up
    assert not any(r["indicator_id"] == "waterlogging_points" for r in rows)  # small counts keep the city's
    latest = _vital(engine, "power_load_mw", "310101")
    assert latest["status"] == "normal"  # a calm day: the district is normal at its own scale


def test_a_pack_copied_with_quick_rain_gauges_changes_only_their_period(tmp_path: Path) -> None:
    """The takeover test's and benchmark's pack (feeder.pack.copy_pack): the rain gauges every 2 s, the rest as is."""
    original = read_indicator_catalogue(DEFAULT_PACK)
    quick = copy_pack(DEFAULT_PACK, tmp_path / "quick", periods=dict.fromkeys(RAIN_GAUGES, 2))
    copied = read_indicator_catalogue(quick)
    gauges = copied["indicator_id"].isin(RAIN_GAUGES)
    assert gauges.sum() == len(RAIN_GAUGES) and set(copied.loc[gauges, "period_s"]) == {2}
    assert copied[~gauges].equals(original[~original["indicator_id"].isin(RAIN_GAUGES)])
    with pytest.raises(ValueError, match="no such indicator .*: river_level"):
        copy_pack(DEFAULT_PACK, tmp_path / "bad", periods={"river_level": 2})
