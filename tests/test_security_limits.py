"""What a signed-in user may not run up (issue 12, items 3, 12 and 16), against the real app (Flask's
test client, a real SQLite database, Dash's real callback endpoint): filters bounded to the
catalogue and keyed by a digest, exports limited per user and per process, odd values in the
list's request answered without the last-resort handler."""
from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator

import pytest

import security
from app import create_app
from data_access.db import init_db, make_engine
from data_access.incident_list import count_incidents
from data_access.models import IncidentFilter
from data_access.settings import Settings
from pages._runtime import current_runtime
from tests.fixtures import seed_small_city
from tests.test_security_auth import EAST, SECRET, basic, rows_payload

LEADER = basic("east_leader", "leader-pass")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{folder / 'limits.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_small_city(engine)
    engine.dispose()
    users = folder / "users.json"
    security.add_user(users, name="east_leader", password="leader-pass", role="leader", scope=EAST)
    security.add_user(users, name="east_sup", password="east-pass", role="supervisor", scope=EAST)
    security.add_user(users, name="east_sup2", password="east-pass2", role="supervisor", scope=EAST)
    return Settings(database_url=url, feeder=False, refresh_s=1, auth="basic", users_file=users, secret_key=SECRET)


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator:
    yield create_app(settings)


def _rows(client, app, categories: object, **extra: object) -> tuple[int, dict]:
    reply = client.post("/_dash-update-component", headers=LEADER,
                        json=rows_payload(app, EAST, **{"cw-list-category": categories, **extra}))
    return reply.status_code, (reply.get_json(silent=True) or {})


def _count(body: dict) -> int:
    return body["response"][next(k for k in body["response"] if "cw-grid" in k)]["getRowsResponse"]["rowCount"]


def _expected(app, **values: object) -> int:
    with app.server.app_context():
        engine = current_runtime().engine
    return count_incidents(engine=engine, filt=IncidentFilter.from_values(area_level="district", area_code=EAST,
                                                                          **values))


def _cache_keys(app) -> list[str]:
    with app.server.app_context():
        return list(current_runtime().cache._cache._cache)  # SimpleCache's own store


# --- item 3: a leader's filters cannot run up memory ------------------------------------------------

def test_huge_made_up_filters_are_bounded_to_the_catalogue_and_keyed_by_a_digest(app) -> None:
    client = app.server.test_client()
    made_up = [f"x{i}" for i in range(100_000)]
    status, body = _rows(client, app, made_up)
    assert status == 200 and _count(body) == 0  # only unknown categories: nothing matches, as before
    status, body = _rows(client, app, [*made_up, "gas"])
    assert status == 200 and _count(body) == _expected(app, categories=["gas"]) > 0
    assert _count(_rows(client, app, None)[1]) == _expected(app) > _expected(app, categories=["gas"])
    keys = _cache_keys(app)
    assert any(k.startswith("list-count:") for k in keys)
    assert max(len(k) for k in keys) < 200, max(keys, key=len)[:200]


def test_repeated_huge_filters_do_not_grow_memory(app) -> None:
    client = app.server.test_client()
    _rows(client, app, ["warm-up"])
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for n in range(50):  # each a different multi-megabyte filter, as an attacker would send
            assert _rows(client, app, [f"{n}-{i}" for i in range(100_000)])[0] == 200
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 4 * 1024 * 1024, f"{grown / 1e6:.1f} MB kept after 50 huge requests"

