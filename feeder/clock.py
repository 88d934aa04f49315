"""The simulator's time: naive-UTC datetimes <-> epoch seconds, period boundaries, the city's local day.

Every simulated quantity is a function of epoch seconds (UTC); only the daily rhythms and the
incident day boundaries look at the city's local time.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

EPOCH = datetime(1970, 1, 1)
UTC = ZoneInfo("UTC")


def epoch(moment: datetime) -> int:
    return int((moment.replace(tzinfo=None, microsecond=0) - EPOCH).total_seconds())


def dt(epoch_s: int | float | np.integer) -> datetime:
    return EPOCH + timedelta(seconds=int(epoch_s))


def floor_to(t: int, period: int) -> int:
    return t - t % period


def ceil_to(t: int, period: int) -> int:
    return -((-t) // period) * period


class LocalClock:
    """The city's wall clock: local hours of epoch seconds (cached), local dates and midnights."""

    def __init__(self, timezone: str) -> None:
        self.tz = ZoneInfo(timezone)
        self._hours_cache: dict[tuple[int, int, int], np.ndarray] = {}

    def hours(self, t: np.ndarray) -> np.ndarray:
        """Local hour of day (0..24, fractional) at each epoch second of ``t``."""
        key = (int(t[0]), int(t[-1]), len(t))
        cached = self._hours_cache.get(key)
        if cached is not None:
            return cached
        first, last = (self.tz.utcoffset(dt(x)) for x in (t[0], t[-1]))
        if first == last and first is not None:  # no DST change inside: one offset for all
            hours = ((t + int(first.total_seconds())) % 86400) / 3600.0
        else:
            local = pd.to_datetime(t, unit="s", utc=True).tz_convert(self.tz)
            hours = np.asarray(local.hour + local.minute / 60.0 + local.second / 3600.0, dtype=float)
        if len(self._hours_cache) > 256:
            self._hours_cache.clear()
        self._hours_cache[key] = hours
        return hours

    def midnight(self, day: date) -> int:
        """Epoch seconds of the local midnight that starts ``day``."""
        return epoch(datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC))

    def day_of(self, epoch_s: int) -> date:
        """The local date at epoch seconds ``epoch_s``."""
        return datetime.fromtimestamp(epoch_s, tz=self.tz).date()

    def utc_at(self, day: date, local: time) -> datetime:
        """Naive UTC of the local time ``local`` on ``day``."""
        return datetime.combine(day, local, tzinfo=self.tz).astimezone(UTC).replace(tzinfo=None)
