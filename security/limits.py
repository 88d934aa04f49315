"""Events per key in a sliding window, per process: the one counter behind the sign-in throttle
and the export limits."""
from __future__ import annotations

import collections
import math
import threading
import time


class SlidingWindow:
    def __init__(self, window_s: float, *, max_keys: int = 50_000) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self._events: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> collections.deque[float]:
        if key not in self._events and len(self._events) >= self.max_keys:  # a flood of made-up keys
            live = {k: d for k, d in self._events.items() if d and d[-1] > now - self.window_s}
            if len(live) >= self.max_keys:  # still full: forget the oldest half
                live = dict(list(live.items())[len(live) // 2:])
            self._events = live
        times = self._events.setdefault(key, collections.deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def _wait(self, times: collections.deque[float], limit: int, now: float) -> int:
        return max(1, math.ceil(times[-limit] + self.window_s - now)) if len(times) >= limit else 0

    def wait(self, key: str, limit: int) -> int:
        """Seconds until ``key`` has fewer than ``limit`` events in the window (0: now)."""
        now = time.monotonic()
        with self._lock:
            return self._wait(self._recent(key, now), limit, now)

    def add(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(key, now).append(now)

    def take(self, key: str, limit: int) -> int:
        """Count an event for ``key`` if it stays within ``limit`` (0), else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(key, now)
            wait = self._wait(times, limit, now)
            if not wait:
                times.append(now)
            return wait

    def refund(self, key: str) -> None:
        """Uncount ``key``'s last event."""
        with self._lock:
            if times := self._events.get(key):
                times.pop()
