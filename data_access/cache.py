"""The tick cache: one database read per panel per refresh window, whatever the number of screens.

Keys carry the tick number (``floor(now / refresh_s)``), so every screen asking within the same
window shares one result. In-process (flask-caching SimpleCache) by default; Redis, shared by
every worker and host, when CITYWALL_REDIS_URL is set.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from flask import Flask
from flask_caching import Cache

from data_access.settings import Settings

T = TypeVar("T")


class TickCache:
    def __init__(self, server: Flask, settings: Settings) -> None:
        self.refresh_s = settings.refresh_s
        self.enabled = not settings.naive
        timeout = max(2, math.ceil(settings.refresh_s * 3))
        if settings.redis_url:
            config = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": settings.redis_url,
                      "CACHE_KEY_PREFIX": "citywall:", "CACHE_DEFAULT_TIMEOUT": timeout}
        else:
            config = {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 2000, "CACHE_DEFAULT_TIMEOUT": timeout}
        self._cache = Cache(server, config=config)
        # One computation per key at a time in this process: screens arriving while the first
        # one reads the database wait for its result instead of all reading it too.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def tick(self, now: float | None = None) -> int:
        return int((time.time() if now is None else now) // self.refresh_s)

    def get_or_compute(self, key: str, compute: Callable[[], T]) -> T:
        """The value cached for ``key`` in the current tick window, computing it at most once."""
        if not self.enabled:
            return compute()
        full_key = f"{key}@{self.tick()}"
        hit = self._cache.get(full_key)
        if hit is not None:
            return hit
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._cache.get(full_key)
            if hit is not None:
                return hit
            value = compute()
            self._cache.set(full_key, value)
            return value
