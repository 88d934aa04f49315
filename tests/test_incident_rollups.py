"""The incident count roll-ups (data_access/incident_rollups.py, the triggers of
incident_rollups.trigger_sql) on SQLite and PostgreSQL: every view that reads them
returns exactly what it returns counting the incidents themselves (its plain branch, taken when
the watermark row is missing), after inserts, closes, reopens, moves and deletes, feeder ticks and
imports, with the overdue watermark behind, at or ahead of the clock."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import incident_rollups, schema
from data_access.db import init_db, utc_now
from data_access.upsert import upsert
from feeder.loop import SimConfig, Simulator
from importers import incidents as importer
from tests.fixtures import insert_rows

VIEWS = ("v_incident_counts", "v_incident_sources", "v_incident_open_areas", "v_incident_cells",
         "v_incident_categories")
TOWN_CSV = Path(__file__).resolve().parent / "data" / "town_requests.csv"
TOWN_MAPPING = Path(__file__).resolve().parent / "data" / "town_mapping.toml"


def _rows(conn: sa.Connection, view: str) -> list[tuple]:
    out = []
    for row in conn.execute(sa.text(f"SELECT * FROM {view}")):
        out.append(tuple(round(float(v), 9) if isinstance(v, float) or type(v).__name__ == "Decimal" else v
                         for v in row))
    return sorted(out, key=repr)


def rolled_and_plain(engine: Engine) -> tuple[dict[str, list[tuple]], dict[str, list[tuple]]]:
    """Every view read with the roll-ups, then without (the watermark deleted in a transaction
    that is rolled back: on PostgreSQL both reads see the same now())."""
    with engine.connect() as conn:
        assert incident_rollups.watermark(conn) is not None
        rolled = {v: _rows(conn, v) for v in VIEWS}
        incident_rollups.invalidate(conn)
        plain = {v: _rows(conn, v) for v in VIEWS}
        conn.rollback()
    return rolled, plain


def assert_equal_to_plain(engine: Engine) -> dict[str, list[tuple]]:
    rolled, plain = rolled_and_plain(engine)
    for view in VIEWS:
        assert rolled[view] == plain[view], view
    return rolled


def _update(engine: Engine, incident_id: str, **values: object) -> None:
    with engine.begin() as conn:
        inc = schema.incidents
        assert conn.execute(inc.update().where(inc.c.incident_id == incident_id).values(**values)).rowcount == 1


def test_the_roll_ups_equal_the_plain_counts_of_the_small_city(rollup_city: Engine) -> None:
    rolled = assert_equal_to_plain(rollup_city)
    city = next(r for r in rolled["v_incident_counts"] if r[0] == "100000")
    assert city[2:4] == (4, 2)  # open, overdue (i1, i3)
    assert any(r[0] == "c1" and r[3] == 2 for r in rolled["v_incident_cells"])
    with rollup_city.connect() as conn:  # the tables really hold them (not the plain branch)
        assert conn.execute(sa.text("SELECT SUM(n_open) FROM incident_open_counts")).scalar() == 4
        assert conn.execute(sa.text("SELECT COUNT(*) FROM incident_hour_counts")).scalar() > 0


def test_closes_reopens_moves_and_deletes_keep_them_equal(rollup_city: Engine) -> None:
    now = utc_now()
    d = timedelta(days=1)
    _update(rollup_city, "i1", status="closed", resolved_at=now, closed_at=now)  # an overdue one closes
    assert_equal_to_plain(rollup_city)
    _update(rollup_city, "i5", status="in_progress", closed_at=None, resolved_at=None, reopened=1)  # reopens
    assert_equal_to_plain(rollup_city)
    _update(rollup_city, "i2", due_at=now - timedelta(hours=3), priority=3)  # falls due, more urgent
    _update(rollup_city, "i3", street_code="100200001", district_code="100200", cell_id="c4")  # moved
    assert_equal_to_plain(rollup_city)
    with rollup_city.begin() as conn:
        conn.execute(schema.incidents.delete().where(schema.incidents.c.incident_id == "i4"))
        base = dict(category="noise", source="hotline_12345", priority=1, status="closed")
        insert_rows(conn, schema.incidents, [
            # no district, no street, no cell: the city's only
            {**base, "incident_id": "n1", "status": "reported", "reported_at": now, "due_at": now - d},
            # the edges of the 30 days (the roll-up's partial hour) and of today
            {**base, "incident_id": "n2", "street_code": "100100001", "district_code": "100100",
             "reported_at": now - 40 * d, "due_at": now - 35 * d, "closed_at": now - 30 * d + timedelta(minutes=2)},
            {**base, "incident_id": "n3", "street_code": "100100001", "district_code": "100100",
             "reported_at": now - 40 * d, "due_at": now - 20 * d, "closed_at": now - 30 * d - timedelta(minutes=2)},
            {**base, "incident_id": "n4", "street_code": "100100002", "district_code": "100100",
             "reported_at": now - timedelta(minutes=1), "due_at": None, "closed_at": now - timedelta(seconds=5)},
            # an incident closed in the future and one due right now
            {**base, "incident_id": "n5", "district_code": "100200", "reported_at": now - d,
             "due_at": now + d, "closed_at": now + timedelta(hours=2)},
            {**base, "incident_id": "n6", "status": "reported", "cell_id": "c2", "street_code": "100100001",
             "district_code": "100100", "reported_at": now - d, "due_at": now},
        ])
    assert_equal_to_plain(rollup_city)
    _update(rollup_city, "n6", closed_at=now, status="closed")  # closed in the same hour it is counted open
    _update(rollup_city, "n2", closed_at=None, status="in_progress")  # a month-old closure reopens
    rolled = assert_equal_to_plain(rollup_city)
    assert any(r[0] == "hotline_12345" or r[1] == "hotline_12345" for r in rolled["v_incident_sources"])


def test_closures_around_the_30_days_start_count_on_either_side_of_its_nearest_hour(rollup_city: Engine) -> None:
    # The views read the 30 days' first buckets from the hour start nearest to their start and add or
    # take out the closures in between from the incidents: closures every quarter hour around it put
    # some on both sides of that hour start whatever the minute of the run.
    start = utc_now() - timedelta(days=30)
    base = dict(category="noise", source="hotline_12345", priority=1, status="closed", street_code="100100001",
                district_code="100100", reported_at=start - timedelta(days=2))
    with rollup_city.begin() as conn:
        insert_rows(conn, schema.incidents, [
            {**base, "incident_id": f"q{k}", "closed_at": start + timedelta(minutes=15 * k - 1),
             "due_at": start + timedelta(minutes=15 * k - 1 + (1 if k % 2 else -1))}  # on time every other one
            for k in range(-4, 5)])
    rolled = assert_equal_to_plain(rollup_city)
    city = next(r for r in rolled["v_incident_counts"] if r[0] == "100000")
    assert city[7] is not None  # the 30-day on-time rate counts them


def test_the_overdue_watermark_behind_or_ahead_of_the_clock(rollup_city: Engine) -> None:
    now = utc_now()
    incident_rollups.rebuild(rollup_city, now=now - timedelta(days=3))  # three days behind: i1, i3 fell due since
    with rollup_city.connect() as conn:
        assert conn.execute(sa.text("SELECT SUM(n_overdue) FROM incident_open_counts")).scalar() == 0
    assert_equal_to_plain(rollup_city)
    step = incident_rollups.advance(rollup_city, now=now)
    assert step.done and step.rolled_until == now
    with rollup_city.connect() as conn:
        assert conn.execute(sa.text("SELECT SUM(n_overdue) FROM incident_open_counts")).scalar() == 2
        assert conn.execute(sa.text("SELECT SUM(n_overdue) FROM incident_open_cells")).scalar() == 2
    assert_equal_to_plain(rollup_city)
    incident_rollups.advance(rollup_city, now=now + timedelta(days=2))  # ahead: i2 counted overdue by the roll-up
    with rollup_city.connect() as conn:
        assert conn.execute(sa.text("SELECT SUM(n_overdue) FROM incident_open_counts")).scalar() == 3
    rolled = assert_equal_to_plain(rollup_city)
    assert next(r for r in rolled["v_incident_counts"] if r[0] == "100000")[3] == 2  # the views say now's figure
    _update(rollup_city, "i2", closed_at=now, status="closed")  # closes while counted overdue ahead of time
    assert_equal_to_plain(rollup_city)


def test_without_the_watermark_the_views_count_the_incidents_and_init_rebuilds(rollup_city: Engine) -> None:
    before = assert_equal_to_plain(rollup_city)
    with rollup_city.begin() as conn:
        incident_rollups.invalidate(conn)
        for table in (schema.incident_open_counts, schema.incident_open_cells, schema.incident_hour_counts):
            conn.execute(table.delete())  # stale or gone: never read without the watermark
    with rollup_city.connect() as conn:
        assert {v: _rows(conn, v) for v in VIEWS} == before
    init_db(rollup_city)  # finds no watermark: counts them afresh
    assert assert_equal_to_plain(rollup_city) == before
    with rollup_city.connect() as conn:
        assert conn.execute(sa.text("SELECT SUM(n_open) FROM incident_open_counts")).scalar() == 4


def test_prune_drops_old_hours_and_empty_rows_only(rollup_city: Engine) -> None:
    now = utc_now()
    _update(rollup_city, "i2", closed_at=now, status="closed")
    before = assert_equal_to_plain(rollup_city)
    deleted = incident_rollups.prune(rollup_city, now=now)
    assert deleted > 0  # i7's hours (41 and 40 days ago) and i2's emptied open rows
    with rollup_city.connect() as conn:
        oldest = conn.execute(sa.text("SELECT MIN(hour) FROM incident_hour_counts")).scalar()
        assert str(oldest) >= str(now - timedelta(seconds=incident_rollups.KEEP_S))
        assert conn.execute(sa.text("SELECT COUNT(*) FROM incident_open_counts WHERE n_open = 0")).scalar() == 0
    assert assert_equal_to_plain(rollup_city) == before


def test_feeder_ticks_keep_them_equal(rollup_pack_city: Engine) -> None:
    now = utc_now()
    sim = Simulator(SimConfig(seed=7, backfill_days=1))
    sim.backfill(rollup_pack_city, days=0.3, now=now, recent_hours=0.2)
    assert_equal_to_plain(rollup_pack_city)
    for offset in (30, 65, 300, 600):
        sim.step(rollup_pack_city, now=now + timedelta(seconds=offset))
    rolled = assert_equal_to_plain(rollup_pack_city)
    with rollup_pack_city.connect() as conn:
        closed = conn.execute(sa.text("SELECT COUNT(*) FROM incidents WHERE closed_at IS NOT NULL")).scalar()
        reopened = conn.execute(sa.text("SELECT COUNT(*) FROM incidents WHERE reopened = 1")).scalar()
        mark = incident_rollups.watermark(conn)
    assert closed > 0 and reopened > 0 and rolled["v_incident_cells"]
    assert mark is not None and mark >= (now + timedelta(seconds=600)).replace(microsecond=0)  # the feeder moved it


def test_imports_keep_them_equal(rollup_town: Engine, tmp_path: Path) -> None:
    before = utc_now()
    first = importer.import_incidents(rollup_town, path=TOWN_CSV, mapping_path=TOWN_MAPPING,
                                      rejects_path=tmp_path / "rejects.csv")
    assert first.new > 0
    assert_equal_to_plain(rollup_town)
    with rollup_town.connect() as conn:  # the importer moved the overdue watermark on (no feeder here)
        assert incident_rollups.watermark(conn) >= before
    # The export a day later: the same requests, now every one closed (updates through the upsert).
    text = TOWN_CSV.read_text(encoding="utf-8")
    (tmp_path / "again.csv").write_text(text, encoding="utf-8")
    again = importer.import_incidents(rollup_town, path=tmp_path / "again.csv", mapping_path=TOWN_MAPPING,
                                      rejects_path=tmp_path / "rejects2.csv")
    assert again.updated == first.new
    with rollup_town.begin() as conn:
        conn.execute(sa.text("UPDATE incidents SET closed_at = reported_at, status = 'closed'"
                             " WHERE closed_at IS NULL AND incident_id IN"
                             " (SELECT incident_id FROM incidents ORDER BY incident_id LIMIT 3)"))
    assert_equal_to_plain(rollup_town)


def test_a_batch_upsert_with_a_repeated_id_keeps_the_last_row_and_the_roll_ups(rollup_city: Engine) -> None:
    # PostgreSQL sends a batch as multi-row statements (its roll-up trigger runs once per page): a
    # key may appear once per statement there, so the last row of a key wins, as row by row.
    now = utc_now()
    row = dict(category="noise", source="patrol", priority=1, status="reported", street_code="100100001",
               district_code="100100", cell_id="c1", reported_at=now - timedelta(hours=1),
               due_at=now + timedelta(hours=1), closed_at=None)
    with rollup_city.begin() as conn:
        upsert(conn, schema.incidents, [{**row, "incident_id": "u1"}, {**row, "incident_id": "u2"},
                                        {**row, "incident_id": "u1", "priority": 3, "status": "closed",
                                         "closed_at": now}])
        stored = conn.execute(sa.select(schema.incidents.c.priority, schema.incidents.c.closed_at)
                              .where(schema.incidents.c.incident_id == "u1")).one()
    assert stored[0] == 3 and stored[1] is not None
    assert_equal_to_plain(rollup_city)
