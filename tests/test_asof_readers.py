"""The replay's cached readers (data_access/readers/replay.py) over tests/asof_city.py: the same values as
the uncached as-of reads, one read per replayed minute for every screen (and across app instances
sharing Redis), a settled minute kept beyond its tick, and the live readers' scope checks."""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pandas as pd
import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import asof
from data_access.areas import Lineage, OutsideScope, area_by_code
from data_access.cache import build_cache
from data_access.db import make_engine
from data_access.models import IncidentFilter
from data_access.readers import replay as readers
from data_access.runtime import CityWallRuntime
from data_access.settings import Settings
from tests.asof_city import CITY, D1, D2, S1, TZ, T

REDIS_URL = os.environ.get("CITYWALL_TEST_REDIS_URL", "").strip()
CACHES = ["memory", pytest.param("redis", marks=pytest.mark.skipif(
    not REDIS_URL, reason="CITYWALL_TEST_REDIS_URL is not set"))]


class HistoryReads:
    """Counts the statements an engine runs against v_incident_history (a real listener, no mock)."""

    def __init__(self, engine: Engine) -> None:
        self.n = 0
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001
        if "v_incident_history" in statement:
            self.n += 1


def runtime_on(engine: Engine, *, cache: str, version: str, refresh_s: float = 60) -> CityWallRuntime:
    redis_url = REDIS_URL if cache == "redis" else ""
    if redis_url:
        redis.Redis.from_url(redis_url).ping()  # set but unreachable: this fails the test
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, feeder=False, refresh_s=refresh_s, redis_url=redis_url,
                        timezone=TZ.key)
    own = make_engine(url)
    return CityWallRuntime(settings=settings, engine=own, cache=build_cache(settings, version=version),
                           version=version, lineage=Lineage(own))


@pytest.fixture
def runtimes() -> Iterator[list[CityWallRuntime]]:
    made: list[CityWallRuntime] = []
    yield made
    for runtime in made:
        runtime.engine.dispose()


@pytest.mark.parametrize("cache", CACHES)
def test_readers_equal_the_reads_once_per_minute_for_every_screen(asof_city: Engine, runtimes: list,
                                                                   cache: str) -> None:
    version = uuid.uuid4().hex[:12]  # its own key space in a shared Redis
    first, second = (runtime_on(asof_city, cache=cache, version=version) for _ in range(2))
    runtimes += [first, second]
    reads = [HistoryReads(first.engine), HistoryReads(second.engine)]
    wall = readers.read_wall_as_of(runtime=first, scope=None, code=D1, at=T.replace(second=42))
    expected = asof.load_wall_as_of(engine=asof_city, area=area_by_code(engine=asof_city, area_code=D1), at=T,
                                    hotline_source=first.settings.hotline_source, tz=TZ)
    assert wall.read_at == T and wall.counts == expected.counts and wall.hotline == expected.hotline
    assert wall.vitals[["indicator_id", "value", "status"]].equals(expected.vitals[["indicator_id", "value", "status"]])
    assert reads[0].n > 0
    done = reads[0].n
    again = readers.read_wall_as_of(runtime=first, scope=None, code=D1, at=T)  # another screen, same minute
    assert again.counts == wall.counts and reads[0].n == done
    if cache == "redis":  # another app instance sharing Redis: no read of its own
        assert readers.read_wall_as_of(runtime=second, scope=None, code=D1, at=T).counts == wall.counts
        assert reads[1].n == 0
    counts = readers.read_map_counts_as_of(runtime=first, at=T)
    assert counts == asof.load_map_counts_as_of(engine=asof_city, at=T)
    assert counts.own[CITY] == (CITY, 4, 1)
    state = readers.read_scenario_state_as_of(runtime=first, at=T)
    assert state.computed_at == T and state.active == ()
    panels = readers.read_panels_as_of(runtime=first, scope=D1, area=area_by_code(engine=asof_city, area_code=S1),
                                       at=T)
    assert list(panels.children["open"]) == [1, 1]
    points = readers.read_points_as_of(runtime=first, scope=None, street_code=S1, at=T)
    assert list(points["incident_id"]) == ["a", "b"]
    everything = IncidentFilter()
    assert readers.read_incident_count_as_of(runtime=first, scope=None, filt=everything, at=T) == 4
    rows = readers.read_incident_rows_as_of(runtime=first, scope=None, filt=everything, sort=(), start=0, end=2, at=T)
    assert list(rows["incident_id"]) == ["a", "e"]
    export = pd.concat(list(readers.read_incident_export_as_of(runtime=first, scope=None, filt=everything, sort=(),
                                                               at=T)))
    assert list(export["incident_id"]) == ["a", "e", "b", "h"]
    assert readers.read_kept_history_start(runtime=first) is not None


def test_a_settled_minute_is_kept_beyond_its_tick(asof_city: Engine, runtimes: list) -> None:
    runtime = runtime_on(asof_city, cache="memory", version="kept", refresh_s=1)
    runtimes.append(runtime)
    reads = HistoryReads(runtime.engine)
    first = readers.read_map_counts_as_of(runtime=runtime, at=T)
    done = reads.n
    time.sleep(1.1)  # the next tick: a live read would be read again
    assert readers.read_map_counts_as_of(runtime=runtime, at=T) == first and reads.n == done


def test_readers_check_the_scope_first(asof_city: Engine, runtimes: list) -> None:
    runtime = runtime_on(asof_city, cache="memory", version="scope")
    runtimes.append(runtime)
    reads = HistoryReads(runtime.engine)
    west = area_by_code(engine=asof_city, area_code=D2)
    with pytest.raises(OutsideScope):
        readers.read_wall_as_of(runtime=runtime, scope=D2, code=D1, at=T)
    with pytest.raises(OutsideScope):
        readers.read_panels_as_of(runtime=runtime, scope=D1, area=west, at=T)
    with pytest.raises(OutsideScope):
        readers.read_points_as_of(runtime=runtime, scope=D2, street_code=S1, at=T)
    with pytest.raises(OutsideScope):
        readers.read_open_cell_shapes_as_of(runtime=runtime, scope=D1, area=west, at=T)
    with pytest.raises(OutsideScope):
        readers.read_incident_count_as_of(runtime=runtime, scope=D2, filt=IncidentFilter(), at=T)
    with pytest.raises(LookupError):
        readers.read_wall_as_of(runtime=runtime, scope=None, code="999999", at=T)
    assert reads.n == 0  # refused before any read of the history
    # a scoped user replaying inside the scope
    assert readers.read_wall_as_of(runtime=runtime, scope=D2, code=D2, at=T).counts.open == 2
