"""The tick cache: one computation per key and tick for any number of threads and workers, the
previous tick's value while one request computes, and never a stale value kept as the current one.

In-process (SimpleCache) always; across "workers" (two caches on one Redis) when
CITYWALL_TEST_REDIS_URL is set (CI sets it): then an unreachable Redis fails, never skips."""
from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
import redis

from data_access.cache import NeverCache, TickCache, build_cache
from data_access.settings import Settings

REDIS_URL = os.environ.get("CITYWALL_TEST_REDIS_URL", "").strip()
REFRESH_S = 1.0
BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.skipif(
    not REDIS_URL, reason="CITYWALL_TEST_REDIS_URL is not set"))]


def new_cache(backend: str, **settings: object) -> TickCache | NeverCache:
    redis_url = REDIS_URL if backend == "redis" else ""
    if redis_url:
        redis.Redis.from_url(redis_url).ping()  # set but unreachable: this fails the test
    return build_cache(Settings(refresh_s=REFRESH_S, redis_url=redis_url, **settings))


def start_of_tick(cache: TickCache, margin: float = 0.05) -> int:
    """Sleep until just after a tick boundary, so a test's steps fall in one window."""
    now = time.time()
    time.sleep(REFRESH_S - (now % REFRESH_S) + margin)
    return cache.tick()


class Counted:
    def __init__(self, seconds: float = 0.0) -> None:
        self.calls = 0
        self.seconds = seconds
        self._lock = threading.Lock()

    def __call__(self) -> dict:
        with self._lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.seconds)
        return {"n": n}


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_threads_one_computation(backend: str) -> None:
    caches = [new_cache(backend)] + ([new_cache(backend)] if backend == "redis" else [])  # 2 "workers"
    key = f"k-{uuid.uuid4().hex}"
    compute = Counted(seconds=0.2)
    start_of_tick(caches[0])
    results: list[dict] = []
    threads = [threading.Thread(target=lambda c=c: results.append(c.read(key, compute)))
               for c in caches for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert compute.calls == 1
    assert results == [{"n": 1}] * len(threads)


@pytest.mark.parametrize("backend", BACKENDS)
def test_previous_tick_is_served_while_one_request_computes(backend: str) -> None:
    cache = new_cache(backend)
    other = new_cache(backend) if backend == "redis" else cache
    key = f"k-{uuid.uuid4().hex}"
    compute = Counted(seconds=0.5)
    start_of_tick(cache)
    assert cache.read(key, compute, immutable=True) == {"n": 1}
    start_of_tick(cache)  # the next window: nothing cached for it yet
    slow = threading.Thread(target=lambda: cache.read(key, compute, immutable=True))
    slow.start()
    time.sleep(0.1)
    began = time.monotonic()
    meanwhile = other.read(key, compute, immutable=True)
    waited = time.monotonic() - began
    assert meanwhile == {"n": 1}  # the previous tick's value ...
    assert waited < 0.3  # ... at once, not after the 0.5-s computation
    slow.join()
    # The stale answer was not kept as this tick's value, in this process or another.
    assert other.read(key, compute, immutable=True) == {"n": 2}
    assert cache.read(key, compute, immutable=True) == {"n": 2}
    assert compute.calls == 2


def test_without_a_previous_value_requests_wait_for_the_computation() -> None:
    cache = new_cache("memory")
    key = f"k-{uuid.uuid4().hex}"
    compute = Counted(seconds=0.3)
    start_of_tick(cache)
    first = threading.Thread(target=lambda: cache.read(key, compute))
    first.start()
    time.sleep(0.05)
    assert cache.read(key, compute) == {"n": 1}  # waited for it: nothing older to show
    first.join()
    assert compute.calls == 1


def test_naive_mode_computes_every_time() -> None:
    cache = new_cache("memory", naive=True)
    compute = Counted()
    for _ in range(3):
        cache.read("k", compute, immutable=True)
    assert compute.calls == 3
    cache.remember("sent", {"a": 1})
    assert cache.recall("sent") is None


def test_nested_computations_of_keys_sharing_a_lock_do_not_deadlock() -> None:
    cache = new_cache("memory")
    outer_key = "outer"
    inner_key = next(k for k in (f"inner{i}" for i in range(10_000))  # a key hashing to the same lock stripe
                     if hash(k) % 256 == hash(outer_key) % 256)
    done = threading.Event()

    def run() -> None:
        cache.read(outer_key, lambda: cache.read(inner_key, lambda: 1) + 1)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(5)


def test_the_warmer_warms_only_what_screens_keep_asking_for_within_its_budget() -> None:
    """Issue 12, item 13: one request per area buys the budget's worth of background reads at most;
    keys asked for every tick are warmed, at most ``warm_per_tick`` of them a tick (the most
    asked-for first), and a key nobody asks for any more stops being warmed."""
    cache = new_cache("memory")
    assert isinstance(cache, TickCache)
    cache.warm_per_tick = 3
    run = uuid.uuid4().hex
    once = {f"once-{i}-{run}": Counted() for i in range(40)}  # a city-wide token asking every area once
    steady_key, steady = f"steady-{run}", Counted()  # a wall on two screens
    busy = {f"busy-{i}-{run}": Counted() for i in range(8)}  # eight walls on one screen each
    start_of_tick(cache)
    for key, compute in once.items():
        cache.read(key, compute, warm=True)
    assert sum(c.calls for c in once.values()) == len(once)

    def total() -> int:
        return steady.calls + sum(c.calls for c in busy.values())

    hits, warmed = [], []
    after_reads = total()
    for _ in range(6):
        warmed.append(total() - after_reads)  # what the warmer computed at this window's start
        for _screen in range(2):
            before = steady.calls
            cache.read(steady_key, steady, warm=True)
            hits.append(steady.calls == before)
        for key, compute in busy.items():
            cache.read(key, compute, warm=True)
        after_reads = total()
        start_of_tick(cache, margin=0.3)  # past the warmer's run at the next window's start
    # warmed once at most, in the tick after (ranked below the screens' keys), within the budget
    assert sum(c.calls for c in once.values()) - len(once) <= cache.warm_per_tick - 1
    assert all(n <= cache.warm_per_tick for n in warmed), warmed  # within the budget
    assert warmed[2:] == [cache.warm_per_tick] * 4, warmed  # the keys asked for every tick fill it
    assert hits[2:] == [True] * 10, hits  # the most asked-for key is always among them: its reads are hits
    # nobody asks any more: warmed in the next two windows (WARM_IDLE_TICKS), then never again
    start_of_tick(cache, margin=0.3)
    start_of_tick(cache, margin=0.3)
    quiet = total()
    for _ in range(3):
        start_of_tick(cache, margin=0.3)
    assert total() == quiet


# --- the tick computer (issue 16, item 2): requests never compute a warm key --------------------

class Where(Counted):
    """Counted, noting the thread each computation ran in."""

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__(seconds)
        self.threads: list[str] = []

    def __call__(self) -> dict:
        self.threads.append(threading.current_thread().name)
        return super().__call__()


COMPUTER = {"citywall-tick-warmer", "citywall-tick-computer"}  # the warmer, the cold keys' threads


@pytest.mark.parametrize("backend", BACKENDS)
def test_with_the_tick_computer_every_read_of_a_warm_key_runs_in_the_warmer(backend: str) -> None:
    caches = [new_cache(backend, tick_computer="on")] + (
        [new_cache(backend, tick_computer="on")] if backend == "redis" else [])  # 2 "workers"
    assert all(isinstance(c, TickCache) and c.computer for c in caches)
    key, compute = f"k-{uuid.uuid4().hex}", Where(seconds=0.05)
    start_of_tick(caches[0])
    seen = [c.read(key, compute, immutable=True, warm=True) for c in caches]  # cold: handed to the warmer
    assert seen[0] == {"n": 1}
    for _ in range(3):
        start_of_tick(caches[0], margin=0.3)  # past the warmer's run at the window's start
        seen += [c.read(key, compute, immutable=True, warm=True) for c in caches for _screen in range(5)]
    assert compute.threads and set(compute.threads) <= COMPUTER  # never in a request's thread
    assert compute.threads[0] == "citywall-tick-computer"  # the cold key: at once, not at the next tick
    assert compute.calls <= 4 * len(caches)  # once per tick (and per "worker" at most)
    assert seen[-1]["n"] >= 3  # this tick's value, not the first one kept


def test_with_the_tick_computer_a_request_takes_the_previous_tick_while_the_warmer_reads() -> None:
    cache = new_cache("memory", tick_computer="on")
    key, compute = f"k-{uuid.uuid4().hex}", Where(seconds=0.6)
    start_of_tick(cache)
    assert cache.read(key, compute, warm=True) == {"n": 1}
    start_of_tick(cache, margin=0.15)  # the warmer is reading the new tick (0.6 s)
    began = time.monotonic()
    assert cache.read(key, compute, warm=True) == {"n": 1}  # the previous tick's, at once
    assert time.monotonic() - began < 0.2
    time.sleep(0.6)
    assert cache.read(key, compute, warm=True) == {"n": 2}  # the warmer's, once it is read
    assert set(compute.threads) <= COMPUTER


def test_without_the_tick_computer_the_first_request_of_a_tick_computes() -> None:
    """The path before the tick computer (CITYWALL_TICK_COMPUTER=off; PostgreSQL's default): the
    request that finds no value computes in its own thread."""
    cache = new_cache("memory", tick_computer="off")
    assert isinstance(cache, TickCache) and not cache.computer
    key, compute = f"k-{uuid.uuid4().hex}", Where()
    start_of_tick(cache)
    cache.read(key, compute, warm=True)
    assert compute.threads == [threading.current_thread().name]


def test_the_tick_computer_setting() -> None:
    from data_access.settings import SettingsError, load_settings

    assert load_settings({"CITYWALL_DATABASE_URL": "sqlite:////tmp/x.db"}).tick_computer_on
    assert not load_settings({"CITYWALL_DATABASE_URL": "postgresql+psycopg://u@h/db"}).tick_computer_on
    assert load_settings({"CITYWALL_DATABASE_URL": "postgresql+psycopg://u@h/db",
                          "CITYWALL_TICK_COMPUTER": "ON"}).tick_computer_on
    assert not load_settings({"CITYWALL_TICK_COMPUTER": "off"}).tick_computer_on
    with pytest.raises(SettingsError, match="CITYWALL_TICK_COMPUTER"):
        load_settings({"CITYWALL_TICK_COMPUTER": "sometimes"})


# --- memory (issue 16, item 4): what no request can use any more is dropped every tick ----------

def test_the_warmer_drops_expired_values_and_old_ticks_kept_objects() -> None:
    cache = new_cache("memory", tick_computer="off")
    assert isinstance(cache, TickCache)
    start_of_tick(cache)
    for i in range(50):
        cache.read(f"old-{i}", Counted(), immutable=True)
    tick = cache.tick()
    assert len(cache._memo) == 50 and len(cache._cache._cache) == 50
    time.sleep(cache._cache.default_timeout + 1.1)  # every value expired, none read since
    cache._tidy(cache.tick())
    assert cache._cache._cache == {}  # SimpleCache alone would keep them until 2,000 values
    assert not [k for k in cache._memo if int(k.rpartition("@")[2]) < cache.tick() - 1]
    assert cache.tick() - tick > 2 and not cache._finished  # last values older than STALE_TICKS


def test_the_heap_is_limited_to_a_few_arenas_and_trimmed_on_glibc() -> None:
    import platform

    from data_access import heap

    if platform.libc_ver()[0] != "glibc":  # elsewhere both are no-ops that say so
        assert heap.limit_arenas() is False and heap.trim() is False
        return
    assert heap.limit_arenas() is True
    assert heap.trim() in (True, False)  # True when something was handed back; never an error
