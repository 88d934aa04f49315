"""The tick cache: one database read per panel per refresh window, whatever the number of screens.

Keys carry the tick number (``floor(now / refresh_s)``), so every screen asking within the same
window shares one result. In-process (cachelib SimpleCache) by default; Redis, shared by every
worker and host, when CITYWALL_REDIS_URL is set (values are pickled: snapshots are plain
dataclasses and DataFrames). Every key is built in data_access/readers/keys.py; the readers
(data_access/readers/) are the only users.

The API: ``read`` (this tick's value, computed at most once; ``warm``: recomputed at each window's
start while asked for), ``latest`` (this tick's or the previous tick's, for a panel that may lag a
tick; without ``compute`` it never computes), ``remember``/``recall``/``has`` (a value kept for a
few ticks, not per tick), ``budget`` (background work per tick) and the clock (``tick``,
``ready_ms``). ``NeverCache`` has the same API and caches nothing: the benchmarks' naive baseline,
chosen once at start-up (``build_cache``). Both carry ``rows``, the shared row store (the wall
fleet, issue 15 item 4): not per tick, see ``MemoryRowStore``/``RedisRowStore`` at the end.

The tick computer (``computer=True``, CITYWALL_TICK_COMPUTER; on by default with SQLite, issue 16
item 2): the warmer thread is then the only one that reads the database for a warm key
(``read(warm=True)``, ``latest``). A request takes this tick's value, else the previous tick's,
and never computes; a key nobody computed yet (a new scope's first screen) is handed to the
computer's cold threads at once and the request waits for it (``lock_ms`` at most, then computes
itself as without the computer). So no request waits on a SQLite read in steady state, and each tick's
reads run once, off the request path, whatever the number of screens.

Stampede protection: the first request of a window computes, the others do not read the
database too. In one process a lock per key does it; across workers and hosts
(Redis) a short ``SET NX PX`` lock does it: the holder computes and stores. Meanwhile the others
are answered with the previous window's value when there is one (stale by one tick at most, so
a slow read never queues hundreds of screens behind it), or else wait for the holder's result,
polling every few milliseconds, and compute themselves only when the holder has not stored
anything in time (it died, or the database is slow beyond the lock's expiry).
"""
from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from cachelib import BaseCache, RedisCache, SimpleCache

from data_access import heap
from data_access.errors import first_line
from data_access.settings import Settings

T = TypeVar("T")
log = logging.getLogger(__name__)

LOCK_POLL_S = 0.01
LOCK_STRIPES = 256
MEMO_ENTRIES = 256
WARM_DELAY_S = 0.02  # just after the window starts (clocks of workers and hosts differ a little)
WARM_LATE_S = 1.2  # into the window, the "last" keys: after the wall's data and the polls that fetch it
# What the tick warmer recomputes at a window's start (issue 12, item 13): only what screens keep
# asking for, within a budget, so one request per area never buys a minute of background reads.
WARM_WINDOW = 4  # ticks looked back on
WARM_MIN_TICKS = 2  # a key is warmed when asked for in this many of them, or in the tick just ended ...
WARM_IDLE_TICKS = 2  # ... and not after nobody asked for it in this many ticks (it is forgotten)
WARM_PER_TICK = 64  # warm computations per tick and process at most (the most asked-for first)
WARM_KEYS = 4096  # keys followed at most per process (a newer one is then read on demand only)
COLD_THREADS = 2  # the tick computer's threads for keys no tick computed yet (a new scope's first screen)
COLD_IDLE_S = 30  # such a thread ends after this long without one
# With the tick computer behind (its read longer than a tick), a request takes its last value up to this
# many ticks old rather than wait (the screens' OFFLINE comes after 3 ticks without a good reply).
STALE_TICKS = 2
# The tick computer's threads for a tick's pass. 3 (the warmer and two helpers) was tried: in a
# soak at load 10 the screens' p95 rose from 1.5-1.9 s to 7-10 s (the helpers take the GIL from
# the request threads of the same worker), so one: the warmer alone, as before.
PASS_THREADS = 1
TRIM_EVERY_TICKS = 12  # the warmer hands the heap's free memory back to the system this often (~1 min)


class _LocalCache(SimpleCache):
    """The in-process cache, its expired values dropped by the warmer once a tick (issue 16 item 4):
    SimpleCache itself drops them only past its threshold (2,000 values, most of them expired
    renders a few ticks old: a worker's memory grew until then)."""

    def remove_expired(self) -> None:
        with self._lock:
            self._remove_expired(time.time())


@dataclass
class _WarmJob:
    compute: Callable[[], Any]
    immutable: bool
    stale_ok: Callable[[Any], bool] | None
    last: bool  # run after the others, late in the window (WARM_LATE_S)
    asked: dict[int, int]  # tick → requests that asked for it then (the last WARM_WINDOW ticks)

    def ask(self, tick: int) -> None:
        self.asked[tick] = self.asked.get(tick, 0) + 1
        for old in [t for t in self.asked if t <= tick - WARM_WINDOW]:
            del self.asked[old]

    def wanted(self, tick: int) -> tuple[int, int] | None:
        """At the start of ``tick``: its rank (ticks of the last WARM_WINDOW it was asked for in,
        requests of the tick just ended) when screens ask for it (in that tick, or in
        WARM_MIN_TICKS of the window), else None (asked once, a while ago: not warmed)."""
        recent = [t for t in self.asked if tick - WARM_WINDOW <= t < tick]
        if len(recent) < WARM_MIN_TICKS and tick - 1 not in self.asked:
            return None
        return len(recent), self.asked.get(tick - 1, 0)


def _usable(previous: Any, stale_ok: Callable[[Any], bool] | None) -> bool:
    """Whether the previous tick's value may stand in while this tick's is computed."""
    return previous is not None and (stale_ok is None or stale_ok(previous))


class _Clock:
    """Tick windows of ``refresh_s`` seconds (shared by both caches)."""

    refresh_s: float

    def ready_ms(self, now: float | None = None) -> int:
        """Milliseconds since the current window started (when a value computed now is ready)."""
        now = time.time() if now is None else now
        return int((now - self.tick(now) * self.refresh_s) * 1000)

    def tick(self, now: float | None = None) -> int:
        return int((time.time() if now is None else now) // self.refresh_s)


class NeverCache(_Clock):
    """The naive baseline (CITYWALL_NAIVE=1, benchmarks only): the tick cache's API, caching nothing,
    so every request reads the database and every screen is sent everything."""

    def __init__(self, settings: Settings) -> None:
        self.refresh_s = settings.refresh_s
        self.rows: MemoryRowStore | RedisRowStore = MemoryRowStore()  # the fleet is kept in naive mode too

    def read(self, key: str, compute: Callable[[], T], *, immutable: bool = False,
             stale_ok: Callable[[Any], bool] | None = None, warm: bool = False) -> T:
        return compute()

    def latest(self, key: str, compute: Callable[[], T] | None = None, *, immutable: bool = False) -> T | None:
        return None if compute is None else compute()

    def remember(self, key: str, value: object, *, ticks: int = 12) -> None:
        return None

    def recall(self, key: str) -> Any:
        return None

    def has(self, key: str) -> bool:
        return False

    def keep_warm(self, key: str, compute: Callable[[], Any], **_options: Any) -> None:
        return None

    def budget(self, name: str, per_tick: int) -> bool:
        return True


class TickCache(_Clock):
    def __init__(self, settings: Settings, *, version: str = "", computer: bool = False) -> None:
        self.refresh_s = settings.refresh_s
        # The tick computer (see the module's doc): requests never compute a warm key.
        self.computer = computer
        self._local = threading.local()  # .computing: this thread is the warmer (nested reads compute)
        self._urgent: dict[str, threading.Event] = {}  # cold keys being computed, requests wait for them
        self._cold: queue.Queue = queue.Queue()
        self._cold_threads: list[threading.Thread] = []
        timeout = max(2, math.ceil(settings.refresh_s * 3))
        # A holder that has not stored its value after this long is presumed gone.
        self.lock_ms = int(max(2.0, settings.refresh_s) * 1000)
        self._redis: Any = None
        self._cache: BaseCache
        if settings.redis_url:
            self._redis = redis.Redis.from_url(settings.redis_url)
            # The app's version in every key: during a rolling deploy old and new hosts never share
            # values (a reply carries its version; walls reload on a new one).
            self._cache = RedisCache(host=self._redis, default_timeout=timeout,
                                     key_prefix=f"citywall:{version}:" if version else "citywall:")
        else:
            self._cache = _LocalCache(threshold=2000, default_timeout=timeout)
        # Keys recomputed at each window start while screens ask for them.
        self._warm: dict[str, _WarmJob] = {}
        self._warm_guard = threading.Lock()
        # With the tick computer the warmer reads whatever screens asked in the tick just ended (the
        # requests would have read it otherwise); without it, within the budget.
        self.warm_per_tick = WARM_KEYS if computer else WARM_PER_TICK
        self._budgets: dict[str, tuple[int, int]] = {}  # background work done per tick (budget)
        self._warmer: threading.Thread | None = None
        # Values of the current ticks this process already holds (``immutable`` keys only).
        self._memo: OrderedDict[str, Any] = OrderedDict()
        self._memo_guard = threading.Lock()
        # The last value this process computed per key (any tick), for requests that waited for it.
        self._finished: OrderedDict[str, tuple[int, Any, int]] = OrderedDict()  # (count, value, its tick)
        self._finish_count = 0
        # One computation per key at a time in this process: screens arriving while the first one
        # reads the database do not all read it too. Striped (a fixed number, hashed by key): keys
        # that carry ticks never grow the table.
        self._locks = [threading.RLock() for _ in range(LOCK_STRIPES)]  # re-entrant: computes nest
        self._prefix = getattr(self._cache, "key_prefix", "")
        # The shared row store (the wall fleet): one for every worker and host on Redis, and not
        # versioned (the fleet page shows screens of every version during a rolling deploy).
        self.rows: MemoryRowStore | RedisRowStore = (RedisRowStore(self._redis) if self._redis is not None
                                                     else MemoryRowStore())

    def remember(self, key: str, value: object, *, ticks: int = 12) -> None:
        """Keep ``value`` for a few ticks (what a screen was last sent, keyed by tick)."""
        self._cache.set(key, value, timeout=max(2, math.ceil(self.refresh_s * ticks)))

    def recall(self, key: str) -> Any:
        """What ``remember`` kept, or None (expired, another worker without Redis, naive mode)."""
        return self._cache.get(key)

    def budget(self, name: str, per_tick: int) -> bool:
        """Whether this process may do one more unit of ``name``'s background work this tick (at
        most ``per_tick``): read-ahead must never crowd out the screens' own work."""
        tick = self.tick()
        with self._warm_guard:
            seen, used = self._budgets.get(name, (tick, 0))
            used = used if seen == tick else 0
            if used >= per_tick:
                return False
            self._budgets[name] = (tick, used + 1)
            return True

    def has(self, key: str) -> bool:
        """Whether ``remember`` keeps a value for ``key`` (without fetching it)."""
        return bool(self._cache.has(key))

    def keep_warm(self, key: str, compute: Callable[[], Any], *, immutable: bool = False,
                   stale_ok: Callable[[Any], bool] | None = None, last: bool = False) -> None:
        """Compute ``key`` at the start of every tick window while screens keep asking for it (one
        background thread per process, gone when nothing is asked for). Screens polling just after
        a window starts (assets/citywall.js) then find this window's value ready, so a new reading
        reaches them one window after its insert at most, plus the read itself.
        Alone (not through ``read``): a background job of the readers (e.g. the map's read-ahead).

        Only what screens keep asking for, within a budget: a key is warmed at a window's start
        when it was asked for in the tick just ended or in WARM_MIN_TICKS of the last WARM_WINDOW
        ticks, never after nobody asked for it in the last WARM_IDLE_TICKS ticks, and at most
        ``warm_per_tick`` keys a tick (WARM_PER_TICK; the most asked-for first: keys asked in
        more ticks, then by more requests), so one request per area costs one warm-up of it at
        most, within the budget, and never crowds out the walls that poll every tick. The others
        are computed by the request that asks, as without a warmer."""
        tick = self.tick()
        with self._warm_guard:
            job = self._warm.get(key)
            if job is None:
                if len(self._warm) >= WARM_KEYS:
                    return
                job = _WarmJob(compute=compute, immutable=immutable, stale_ok=stale_ok, last=last, asked={})
                self._warm[key] = job
            else:  # the newest request's computation (its closure holds this request's objects)
                job.compute, job.immutable, job.stale_ok, job.last = compute, immutable, stale_ok, last
            job.ask(tick)
            self._ensure_warmer()

    def _ensure_warmer(self) -> None:
        """Start the warmer thread when none runs (called with ``_warm_guard`` held)."""
        if self._warmer is None or not self._warmer.is_alive():
            self._warmer = threading.Thread(target=self._warm_loop, name="citywall-tick-warmer", daemon=True)
            self._warmer.start()

    def _hand_over(self, key: str) -> threading.Event:
        """Have the tick computer's cold threads compute ``key`` now (a key no tick computed yet);
        set once it is done. One computation per key however many requests wait for it."""
        with self._warm_guard:
            event = self._urgent.get(key)
            if event is None:
                event = self._urgent[key] = threading.Event()
                self._cold.put((key, self._warm.get(key), event))
                self._cold_threads = [t for t in self._cold_threads if t.is_alive()]
                if len(self._cold_threads) < COLD_THREADS:
                    thread = threading.Thread(target=self._cold_loop, name="citywall-tick-computer", daemon=True)
                    self._cold_threads.append(thread)
                    thread.start()
        return event

    def _cold_loop(self) -> None:
        """A tick computer thread for cold keys (a new scope's first screen waits for it)."""
        self._local.computing = True
        while True:
            try:
                key, job, event = self._cold.get(timeout=COLD_IDLE_S)
            except queue.Empty:  # nothing cold for a while: end (the next cold key starts one)
                with self._warm_guard:
                    if self._cold.empty():
                        self._cold_threads = [t for t in self._cold_threads if t is not threading.current_thread()]
                        return
                continue
            except SystemExit:  # a test server's thread killer (dash.testing)
                return
            try:
                if job is not None:
                    self._read(key, job.compute, immutable=job.immutable, stale_ok=job.stale_ok)
            except Exception as exc:  # noqa: BLE001 - the waiting request computes it itself
                log.warning("tick computer: %s failed: %s", key, first_line(exc))
            finally:
                with self._warm_guard:
                    self._urgent.pop(key, None)
                event.set()

    def _warm_loop(self) -> None:
        self._local.computing = True
        try:
            while True:
                now = time.time()
                time.sleep((self.tick(now) + 1) * self.refresh_s - now + WARM_DELAY_S)
                tick = self.tick()
                self._tidy(tick)
                with self._warm_guard:
                    for key in [k for k, job in self._warm.items() if max(job.asked) < tick - WARM_IDLE_TICKS]:
                        del self._warm[key]
                    if not self._warm:
                        return
                    wanted = [(rank, key, job) for key, job in self._warm.items()
                              if (rank := job.wanted(tick)) is not None]
                    # The most asked-for within the budget; of those the ``last`` ones (slow reads
                    # whose screens take the previous tick meanwhile) after the rest.
                    wanted.sort(key=lambda item: item[0], reverse=True)
                    jobs = sorted(((key, job) for _rank, key, job in wanted[:self.warm_per_tick]),
                                  key=lambda item: item[1].last)
                self._warm_all([item for item in jobs if not item[1].last])
                late = [item for item in jobs if item[1].last]
                if late:  # after the walls' burst of polls (they take the previous tick meanwhile)
                    late_at = tick * self.refresh_s + min(WARM_LATE_S, self.refresh_s / 2)
                    time.sleep(max(0.0, late_at - time.time()))
                    self._warm_all(late)
        except SystemExit:  # a test server's thread killer (dash.testing) ends it: end quietly
            return
        finally:
            with self._warm_guard:
                self._warmer = None

    def _warm_all(self, jobs: list[tuple[str, _WarmJob]]) -> None:
        """Compute ``jobs`` for this tick: one after the other, or with the tick computer on
        PASS_THREADS threads (see there why it is one)."""
        work: queue.SimpleQueue = queue.SimpleQueue()
        for item in jobs:
            work.put(item)

        def drain() -> None:
            self._local.computing = True
            while True:
                try:
                    key, job = work.get_nowait()
                except queue.Empty:
                    return
                try:  # another worker holding the key's lock computes it: this one moves on
                    self._read(key, job.compute, immutable=job.immutable, stale_ok=job.stale_ok)
                except Exception as exc:  # noqa: BLE001 - a failed warm-up is retried by the next request
                    log.warning("tick warm-up of %s failed: %s", key, first_line(exc))

        helpers = [threading.Thread(target=drain, name="citywall-tick-warmer", daemon=True)
                   for _ in range(min(PASS_THREADS, len(jobs)) - 1)] if self.computer else []
        for helper in helpers:
            helper.start()
        drain()
        for helper in helpers:
            helper.join()

    def _tidy(self, tick: int) -> None:
        """Once a tick (the warmer): drop what no request can use any more (issue 16, item 4) —
        expired values of the in-process cache, kept objects of ticks before the previous one,
        last values older than STALE_TICKS — and now and then hand the freed heap back."""
        if isinstance(self._cache, _LocalCache):
            self._cache.remove_expired()
        with self._memo_guard:
            for full_key in [k for k in self._memo if int(k.rpartition("@")[2] or 0) < tick - 1]:
                del self._memo[full_key]
            for key in [k for k, (_n, _v, t) in self._finished.items() if t < tick - STALE_TICKS]:
                del self._finished[key]
        if tick % TRIM_EVERY_TICKS == 0:
            heap.trim()

    def _requested(self) -> bool:
        """Whether the tick computer serves this call: on, and called by a request (not by the warmer)."""
        return self.computer and not getattr(self._local, "computing", False)

    def _computed(self, key: str, compute: Callable[[], T], *, immutable: bool,
                  stale_ok: Callable[[Any], bool] | None) -> T:
        """A request's value of a warm key with the tick computer on: this tick's, else the previous
        tick's (when usable), never computed here; a key the warmer has not computed yet is handed
        to it and waited for (``lock_ms`` at most; then computed here, as without the computer)."""
        tick = self.tick()
        full_key, previous_key = f"{key}@{tick}", f"{key}@{tick - 1}"
        if immutable:
            with self._memo_guard:
                hit = self._memo.get(full_key)
                previous = self._memo.get(previous_key)
            if hit is not None:
                return hit
        hit = self._cache.get(full_key)
        if hit is not None:
            if immutable:
                self._keep_local(full_key, hit)
            return hit
        if not immutable or previous is None:
            previous = self._cache.get(previous_key)
        if _usable(previous, stale_ok):
            return previous
        with self._memo_guard:  # the computer is behind (a slow read, an overloaded machine): its last value
            _count, last, last_tick = self._finished.get(key, (0, None, 0))
        if last is not None and last_tick >= tick - STALE_TICKS and _usable(last, stale_ok):
            return last
        if self._hand_over(key).wait(self.lock_ms / 1000):  # cold: computed now, off the request
            hit, current = self._recent(key, self.tick())
            if hit is not None and (current or _usable(hit, stale_ok)):
                return hit
        # The computer did not deliver in time: this request computes, as without it, and so do the
        # reads nested in its computation (they must not wait for the computer one by one again).
        self._local.computing = True
        try:
            return self._read(key, compute, immutable=immutable, stale_ok=stale_ok)
        finally:
            self._local.computing = False

    def _recent(self, key: str, tick: int) -> tuple[Any, bool]:
        """(``tick``'s value of ``key``, True), else (the tick before's, False), else (None, False)."""
        for candidate, current in ((f"{key}@{tick}", True), (f"{key}@{tick - 1}", False)):
            hit = self._cache.get(candidate)
            if hit is not None:
                return hit, current
        return None, False

    def latest(self, key: str, compute: Callable[[], T] | None = None, *, immutable: bool = False) -> T | None:
        """This tick's value of ``key`` when there is one, else the previous tick's while the tick
        warmer computes this one (late in the window), else computed now (the first time): for a
        panel that may lag one tick so that its read never delays the wall's. Without ``compute``:
        this tick's or the previous tick's value of a ``read`` key, or None (never computes)."""
        tick = self.tick()
        if compute is None:
            return self._recent(key, tick)[0]
        self.keep_warm(key, compute, immutable=immutable, last=True)
        if self._requested():
            return self._computed(key, compute, immutable=immutable, stale_ok=None)
        if immutable:
            with self._memo_guard:
                for candidate in (f"{key}@{tick}", f"{key}@{tick - 1}"):
                    hit = self._memo.get(candidate)
                    if hit is not None:
                        return hit
        hit, current = self._recent(key, tick)
        if hit is None:
            return self._read(key, compute, immutable=immutable)
        if immutable and current:
            self._keep_local(f"{key}@{tick}", hit)
        return hit

    def _keep_local(self, full_key: str, value: Any) -> None:
        """Keep this tick's value of an immutable key as an object in this process."""
        with self._memo_guard:
            self._memo[full_key] = value
            while len(self._memo) > MEMO_ENTRIES:
                self._memo.popitem(last=False)

    def read(self, key: str, compute: Callable[[], T], *, immutable: bool = False,
             stale_ok: Callable[[Any], bool] | None = None, warm: bool = False) -> T:
        """The value cached for ``key`` in the current tick window, computing it at most once.

        ``immutable``: the caller never changes the value, so this process may keep the object
        itself for the tick instead of unpickling it from the cache on every request.
        ``stale_ok``: whether the previous tick's value may stand in while this one is computed
        (e.g. not when it records a failure: then wait for the new read).
        ``warm``: also compute it at the start of every window while screens keep asking for it."""
        if warm:
            self.keep_warm(key, compute, immutable=immutable, stale_ok=stale_ok)
            if self._requested():
                return self._computed(key, compute, immutable=immutable, stale_ok=stale_ok)
        return self._read(key, compute, immutable=immutable, stale_ok=stale_ok)

    def _read(self, key: str, compute: Callable[[], T], *, immutable: bool = False,
              stale_ok: Callable[[Any], bool] | None = None) -> T:
        tick = self.tick()
        full_key = f"{key}@{tick}"
        if not immutable:
            return self._lookup(key, full_key, tick, compute, stale_ok)[0]
        with self._memo_guard:
            hit = self._memo.get(full_key)
        if hit is not None:
            return hit
        value, current = self._lookup(key, full_key, tick, compute, stale_ok)
        if current:  # never keep the previous tick's value (served while another computes) as this tick's
            self._keep_local(full_key, value)
        return value

    def _lookup(self, key: str, full_key: str, tick: int, compute: Callable[[], T],
                stale_ok: Callable[[Any], bool] | None) -> tuple[T, bool]:
        """(value, whether it is this tick's) from the cache, the previous tick, or ``compute``."""
        hit = self._cache.get(full_key)
        if hit is not None:
            return hit, True
        previous_key = f"{key}@{tick - 1}"
        lock = self._locks[hash(key) % LOCK_STRIPES]
        waited_for = None
        if not lock.acquire(blocking=False):  # another thread of this process is computing it
            previous = self._cache.get(previous_key)
            if _usable(previous, stale_ok):
                return previous, False
            with self._memo_guard:
                waited_for = self._finished.get(key, (0, None, 0))[0]
            lock.acquire()
        try:
            hit = self._cache.get(full_key)
            if hit is not None:
                return hit, True
            if waited_for is not None:  # the holder finished meanwhile (an older tick, perhaps a failure):
                with self._memo_guard:  # the newest there is; don't read the database a second time
                    finished = self._finished.get(key)
                if finished is not None and finished[0] > waited_for:
                    return finished[1], False
            if self._redis is not None:
                value, current = self._shared_compute(full_key, compute, previous_key=previous_key, stale_ok=stale_ok)
                if current:
                    self._note_finished(key, value, tick)
                return value, current
            value = compute()
            self._cache.set(full_key, value)
            self._note_finished(key, value, tick)
            return value, True
        finally:
            lock.release()

    def _note_finished(self, key: str, value: Any, tick: int) -> None:
        with self._memo_guard:
            self._finish_count += 1
            self._finished[key] = (self._finish_count, value, tick)
            self._finished.move_to_end(key)
            while len(self._finished) > MEMO_ENTRIES:
                self._finished.popitem(last=False)

    def _shared_compute(self, full_key: str, compute: Callable[[], T], *, previous_key: str,
                        stale_ok: Callable[[Any], bool] | None) -> tuple[T, bool]:
        """Across processes: one holder of a short Redis lock computes; the others get the previous
        tick's value, or wait for the holder."""
        lock_key = f"{self._prefix}lock:{full_key}"
        token = uuid.uuid4().hex
        try:
            acquired = bool(self._redis.set(lock_key, token, nx=True, px=self.lock_ms))
        except Exception as exc:  # Redis trouble must not take the wall down: compute locally
            log.warning("tick cache lock unavailable: %s", exc)
            acquired = True
        if not acquired:
            previous = self._cache.get(previous_key)
            if _usable(previous, stale_ok):
                return previous, False
            deadline = time.monotonic() + self.lock_ms / 1000
            while time.monotonic() < deadline:
                time.sleep(LOCK_POLL_S)
                hit = self._cache.get(full_key)
                if hit is not None:
                    return hit, True
        try:
            value = compute()
            self._cache.set(full_key, value)
            return value, True
        finally:
            if acquired:
                try:  # release only our own lock (it may have expired and been taken by another)
                    if self._redis.get(lock_key) == token.encode():
                        self._redis.delete(lock_key)
                except Exception:  # noqa: BLE001 - the lock expires by itself
                    pass


def build_cache(settings: Settings, *, version: str = "") -> TickCache | NeverCache:
    """The app's cache, chosen once at start-up: the naive baseline (``settings.naive``) caches nothing;
    the tick computer runs when ``settings.tick_computer_on`` (SQLite by default)."""
    if settings.naive:
        return NeverCache(settings)
    return TickCache(settings, version=version, computer=settings.tick_computer_on)


# --- the shared row store (issue 15, item 4: the wall fleet) -----------------------------------------
# Rows kept by key (one per screen), each with the time it was last written, and a log of events
# by time; both forgotten ``keep_s`` after their time. Not per tick and never the city's database:
# the screens' heartbeats write here, the fleet page and the shift log read. Values are plain
# JSON-able dicts. In-process by default (right for one process only), Redis when
# CITYWALL_REDIS_URL is set (right across every worker and host: a hash of rows and a sorted set
# of their times per table, a sorted set of events per table).

ROW_LIMIT = 5000  # rows per table at most: a new key beyond it is not kept (a flood of made-up screens)
# Events per table at most, the oldest dropped beyond it (issue 16, item 4): ``keep_s`` alone bounds
# them by time, not by count, and screens that go OFFLINE and back every few ticks (an overloaded
# server, a flapping network) add two each time for 26 hours. A day of 1,000 screens with 10 outages each.
EVENT_LIMIT = 20_000


class MemoryRowStore:
    def __init__(self, *, event_limit: int = EVENT_LIMIT) -> None:
        self.event_limit = event_limit
        self._rows: dict[str, dict[str, tuple[float, dict]]] = {}
        self._events: dict[str, list[tuple[float, dict]]] = {}
        self._guard = threading.Lock()

    def get(self, table: str, key: str) -> dict | None:
        with self._guard:
            found = self._rows.get(table, {}).get(key)
        return None if found is None else dict(found[1])

    def put(self, table: str, key: str, row: dict, *, at: float, new: bool = True) -> bool:
        """Keep ``row`` under ``key`` as written at ``at``; False when the table is full (a new key).
        ``new`` False: the caller just read the row (a write of a known key: the limit is not checked)."""
        with self._guard:
            rows = self._rows.setdefault(table, {})
            if new and key not in rows and len(rows) >= ROW_LIMIT:
                return False
            rows[key] = (at, dict(row))
        return True

    def rows(self, table: str, *, keep_s: float, now: float | None = None) -> list[dict]:
        """Every row written within the last ``keep_s`` seconds (the older ones are forgotten)."""
        horizon = (time.time() if now is None else now) - keep_s
        with self._guard:
            rows = self._rows.get(table, {})
            for key in [k for k, (at, _row) in rows.items() if at < horizon]:
                del rows[key]
            return [dict(row) for _at, row in rows.values()]

    def add_event(self, table: str, event: dict, *, at: float, keep_s: float) -> None:
        with self._guard:
            events = self._events.setdefault(table, [])
            events.append((at, dict(event)))
            horizon = at - keep_s
            if events[0][0] < horizon:
                events[:] = [e for e in events if e[0] >= horizon]
            if len(events) > self.event_limit:  # (nearly in time order already: the sort is cheap)
                events.sort(key=lambda e: e[0])
                del events[:len(events) - self.event_limit]

    def events(self, table: str, *, since: float, until: float) -> list[dict]:
        """The events with ``since <= at < until``, oldest first, each with its ``at``."""
        with self._guard:
            found = [e for e in self._events.get(table, []) if since <= e[0] < until]
        return [{"at": at, **event} for at, event in sorted(found, key=lambda e: e[0])]


class RedisRowStore:
    """The same API on Redis: ``<prefix>rows:<table>`` (hash key → JSON), ``…:at`` (sorted set key →
    time written), ``<prefix>events:<table>`` (sorted set of JSON events scored by their time)."""

    def __init__(self, client: Any, *, prefix: str = "citywall:", event_limit: int = EVENT_LIMIT) -> None:
        self._redis = client
        self._prefix = prefix
        self.event_limit = event_limit

    def _keys(self, table: str) -> tuple[str, str]:
        return f"{self._prefix}rows:{table}", f"{self._prefix}rows:{table}:at"

    def get(self, table: str, key: str) -> dict | None:
        raw = self._redis.hget(self._keys(table)[0], key)
        return None if raw is None else json.loads(raw)

    def put(self, table: str, key: str, row: dict, *, at: float, new: bool = True) -> bool:
        rows, times = self._keys(table)
        if new and not self._redis.hexists(rows, key) and self._redis.hlen(rows) >= ROW_LIMIT:
            return False
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(rows, key, json.dumps(row, separators=(",", ":")))
        pipe.zadd(times, {key: at})
        pipe.execute()
        return True

    def rows(self, table: str, *, keep_s: float, now: float | None = None) -> list[dict]:
        rows, times = self._keys(table)
        horizon = (time.time() if now is None else now) - keep_s
        old = self._redis.zrangebyscore(times, "-inf", f"({horizon}")
        if old:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hdel(rows, *old)
            pipe.zrem(times, *old)
            pipe.execute()
        return [json.loads(raw) for raw in self._redis.hvals(rows)]

    def add_event(self, table: str, event: dict, *, at: float, keep_s: float) -> None:
        key = f"{self._prefix}events:{table}"
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(key, {json.dumps({"at": at, **event}, separators=(",", ":"), sort_keys=True): at})
        pipe.zremrangebyscore(key, "-inf", f"({at - keep_s}")
        pipe.zremrangebyrank(key, 0, -self.event_limit - 1)  # the oldest beyond the limit
        pipe.execute()

    def events(self, table: str, *, since: float, until: float) -> list[dict]:
        found = self._redis.zrangebyscore(f"{self._prefix}events:{table}", since, f"({until}")
        return [json.loads(raw) for raw in found]
