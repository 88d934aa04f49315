"""SQLite faults against the real app and its real callback endpoint: the database file locked by
another process-like connection (the busy timeout bounds the wait, the wall reports the failure,
other requests are served meanwhile, and it recovers on the next tick), and a slow view stopped
by the query-time guard while the rest of the wall still answers."""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from data_access.db import SQLITE_BUSY_TIMEOUT_MS, init_db, make_engine
from data_access.settings import Settings
from tests.fixtures import seed_small_city
from tests.test_security_auth import wall_payload

BUSY_S = SQLITE_BUSY_TIMEOUT_MS / 1000


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "fault.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    seed_small_city(engine)
    engine.dispose()
    return path


def _tick(client, app, n: int) -> tuple[float, dict]:
    started = time.monotonic()
    reply = client.post("/_dash-update-component", json=wall_payload(app, "100000", "city", n=n))
    assert reply.status_code == 200, reply.get_data(as_text=True)[:300]
    return time.monotonic() - started, reply.get_json()["response"]


def test_locked_database_file(db_path: Path) -> None:
    # The request path's own reads (CITYWALL_TICK_COMPUTER=off): with the tick computer a request never
    # reads, and the wall serves the warmer's last value for up to 2 ticks, so the failed tick's timing
    # is the warmer's (tests/test_tick_cache.py covers that path).
    app = create_app(Settings(database_url=f"sqlite:///{db_path}", feeder=False, refresh_s=0.5, tick_computer="off"))
    client = app.server.test_client()
    _seconds, first = _tick(client, app, 1)
    assert first["status-store"]["data"]["ok"] is True

    # Another program takes the whole file (in WAL mode that needs exclusive locking mode, so the app's idle
    # pooled connections are closed first, as after a restart); the app's next reads find it locked.
    locker = sqlite3.connect(db_path, isolation_level=None, timeout=0.5)
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    for _attempt in range(40):  # the app's tick warmer may reconnect between the dispose and the lock: again
        app.server.extensions["citywall"].engine.dispose()
        try:
            locker.execute("BEGIN EXCLUSIVE")
            break
        except sqlite3.OperationalError:
            time.sleep(0.05)
    else:
        raise AssertionError("the app's connections never let go of the file")
    locker.execute("INSERT INTO citywall_meta (key, value) VALUES ('lock', 'held')")
    try:
        other: dict[str, float] = {}

        def meanwhile() -> None:  # a request that needs no database, during the locked tick
            time.sleep(0.5)
            started = time.monotonic()
            assert app.server.test_client().get("/_dash-layout").status_code == 200
            other["s"] = time.monotonic() - started

        side = threading.Thread(target=meanwhile)
        time.sleep(1.1)  # two windows on: the last good tick is not the previous one any more
        side.start()
        seconds, locked = _tick(client, app, 2)
        side.join()
        assert locked["status-store"]["data"]["ok"] is False  # the wall keeps its data and counts a failed tick
        assert "wall-delta" not in locked and "wall-alarms" not in locked  # nothing on screen is replaced
        # Bounded by the busy timeout: no worker stuck (unbounded, this read would wait for the ROLLBACK
        # below, which waits for it). The slack is for a loaded 2-core CI machine (9.4 s seen there).
        assert seconds < BUSY_S + 8, seconds
        assert other["s"] < BUSY_S - 2, other  # not queued behind the locked read (that takes BUSY_S)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    time.sleep(0.6)
    seconds, back = _tick(client, app, 3)
    assert back["status-store"]["data"]["ok"] is True and seconds < BUSY_S  # the next tick recovers by itself


def test_slow_sqlite_view_is_interrupted_and_only_its_panel_fails(db_path: Path) -> None:
    admin = make_engine(f"sqlite:///{db_path}")
    with admin.begin() as conn:  # ~minutes of work per read without the guard
        view_sql = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'v_incident_counts'").scalar_one()
        conn.exec_driver_sql("DROP VIEW v_incident_counts")
        conn.exec_driver_sql(view_sql.replace("CREATE VIEW v_incident_counts", "CREATE VIEW v_incident_counts_fast"))
        conn.exec_driver_sql(
            "CREATE VIEW v_incident_counts AS SELECT f.* FROM v_incident_counts_fast f,"
            " (WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 1000000000)"
            " SELECT MAX(x) AS m FROM r) slow")
    admin.dispose()
    app = create_app(Settings(database_url=f"sqlite:///{db_path}", feeder=False, refresh_s=0.5,
                              statement_timeout_s=1.0))
    client = app.server.test_client()
    seconds, reply = _tick(client, app, 1)
    assert seconds < 4, seconds  # the guard interrupted the slow read after ~1 s
    assert reply["status-store"]["data"]["ok"] is True  # the wall is live ...
    delta = reply["wall-delta"]["data"]
    assert delta["err"].startswith("事件数据读取失败")  # ... and the incident strip shows its own error state
    assert "kpis" not in delta  # (its figures are not replaced by blanks)
    assert {"aqi", "power_load"} <= set(delta["tiles"])  # the tiles were filled meanwhile


def test_guard_interrupts_any_long_statement(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}", statement_timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(sa.exc.OperationalError, match="interrupted"), engine.connect() as conn:
        conn.exec_driver_sql("WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT COUNT(*) FROM r")
    assert time.monotonic() - started < 2
    with engine.connect() as conn:  # the connection is fine afterwards, and quick reads are untouched
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    engine.dispose()
