"""Deterministic noise and the city's daily rhythms.

A value drawn here is a pure function of its key (a stable 64-bit hash of names), its time in
epoch seconds and a salt: no generator state is carried between steps, so any moment of any
series can be recomputed, whatever the step cadence and across restarts.
"""
from __future__ import annotations

import hashlib

import numpy as np

# --- deterministic noise -----------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


def stable_key(*parts: object) -> int:
    """A 64-bit key from text, stable across processes and Python versions (unlike hash())."""
    digest = hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _mix(x: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser; uint64 arithmetic wraps, which is the point.
    with np.errstate(over="ignore"):
        x = (x ^ (x >> _S30)) * _C1
        x = (x ^ (x >> _S27)) * _C2
        return x ^ (x >> _S31)


def hash_uniform(keys: np.ndarray, t: np.ndarray, salt: int) -> np.ndarray:
    """Uniform [0, 1) for every (key, t) pair, broadcasting ``keys`` (n, 1) against ``t`` (m,)."""
    with np.errstate(over="ignore"):
        k = _mix(np.asarray(keys, dtype=np.uint64) ^ np.uint64(salt))
        h = _mix(k ^ (np.asarray(t).astype(np.uint64) * _GOLDEN))
    return (h >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)


def hash_normal(keys: np.ndarray, t: np.ndarray, salt: int) -> np.ndarray:
    u1 = hash_uniform(keys, t, salt)
    u2 = hash_uniform(keys, t, salt + 0x5151)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def _smooth_normal(keys: np.ndarray, t: np.ndarray, period: int, salt: int) -> np.ndarray:
    """Unit-variance value noise: normals at knots every ``period`` s, smoothly interpolated."""
    k = t // period
    f = (t % period) / period
    s = f * f * (3.0 - 2.0 * f)
    a = hash_normal(keys, k, salt)
    b = hash_normal(keys, k + 1, salt)
    return (a * (1.0 - s) + b * s) / np.sqrt((1.0 - s) ** 2 + s**2)


def series_noise(keys: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Standard-normal-ish noise: white + 10-minute wander + 6-hour drift (so charts look alive)."""
    z = (0.5 * hash_normal(keys, t, 1) + 0.6 * _smooth_normal(keys, t, 600, 2)
         + 0.6 * _smooth_normal(keys, t, 21600, 3))
    return np.clip(z, -3.0, 3.0)


# --- daily rhythms (local time) -----------------------------------------------------------------------

def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _bump(h: np.ndarray, center: float, width: float) -> np.ndarray:
    d = (h - center + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (d / width) ** 2)


def _mask(h: np.ndarray, rise: float, fall: float, soft: float = 2.5) -> np.ndarray:
    hh = np.where(h < 4.0, h + 24.0, h)  # the small hours belong to the previous evening
    return _smoothstep((hh - rise) / soft) * (1.0 - _smoothstep((hh - fall) / soft))


def rhythm(h: np.ndarray, kind: str, night_ratio: float) -> np.ndarray:
    """Multiplier of the typical daytime value at local hour ``h`` (0..24, fractional)."""
    nr = night_ratio
    if kind == "commute":
        shape = 0.85 * _mask(h, 5.5, 21.0) + 0.5 * _bump(h, 8.25, 1.0) + 0.45 * _bump(h, 18.0, 1.2)
    elif kind == "day":
        shape = _mask(h, 5.5, 21.0) * (1.0 + 0.12 * _bump(h, 14.5, 2.5))
    elif kind == "evening":
        shape = 0.8 * _mask(h, 8.5, 22.5) + 0.45 * _bump(h, 20.0, 1.6)
    else:  # flat, night (night_ratio > 1: higher at night), anything unknown
        shape = _mask(h, 5.5, 21.0)
    return nr + (1.0 - nr) * shape


# Incident arrivals over the local day: quiet at night, busiest late morning and afternoon.
_HOURS = np.arange(24) + 0.5
INCIDENT_PROFILE = 0.2 + 0.8 * _mask(_HOURS, 5.0, 21.5) + 0.25 * _bump(_HOURS, 10.0, 2.0) \
    + 0.2 * _bump(_HOURS, 15.5, 2.0)
INCIDENT_PROFILE = INCIDENT_PROFILE / INCIDENT_PROFILE.mean()
