"""The process's C heap (issue 16, item 4): a served process's resident memory must stay flat.

A soak of 200 screens (bench/soak.py --tracemalloc) showed the workers' Python objects growing
~26 MB in 11 minutes while their resident set grew ~110 MB each: the rest is glibc's malloc
keeping freed memory in one arena per thread (up to 8 per core) and never handing it back. Two
remedies, both no-ops where glibc is not the allocator: at most ``ARENAS`` arenas per process
(``mallopt(M_ARENA_MAX)``, before the request threads start), and ``trim`` (``malloc_trim``,
the freed top of every arena back to the system), called by the tick warmer once a minute.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

ARENAS = 2  # malloc arenas per process (glibc's default: 8 per core, one per busy thread)
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def limit_arenas(*, arenas: int = ARENAS) -> bool:
    """At most ``arenas`` malloc arenas in this process (True when glibc took it)."""
    if _LIBC is None:
        return False
    return bool(_LIBC.mallopt(_M_ARENA_MAX, arenas))


def trim() -> bool:
    """Hand the heap's free memory back to the system (True when some was released)."""
    if _LIBC is None:
        return False
    try:
        return bool(_LIBC.malloc_trim(0))
    except OSError as exc:  # never fatal: memory hygiene only
        log.debug("malloc_trim failed: %s", exc)
        return False
