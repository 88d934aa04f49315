"""Vital-sign readings: the indicator catalogue as series, and their values at any moment.

A reading's value is a pure function of (seed, indicator, area, ts) and the episodes active at
ts: the indicator's base value, times its daily rhythm, disturbed by episodes, times hash-seeded
noise (feeder/noise.py). District-level indicators have one series per district and a city
series that follows them (their sum or mean).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from feeder.city import City
from feeder.clock import LocalClock, dt
from feeder.episodes import EPISODE_KINDS, Episode
from feeder.noise import hash_uniform, rhythm, series_noise, stable_key

SCALE_SEP = "__"
# Reporting periods of the catalogue's scaled copies (--scale): a city platform's realistic mix,
# not the pack's 78 periods repeated (SCADA-style 5-10 s feeds are few; most sensors report every
# minute or five; air and water quality hourly). Shares, summing to 1.
COPY_PERIOD_MIX: tuple[tuple[int, float], ...] = (
    (5, 0.05), (10, 0.05), (30, 0.10), (60, 0.30), (300, 0.30), (900, 0.10), (3600, 0.10),
)
MIN_SCALED_BOUND = 20.0  # below this a district's share of a city bound is too small a number to judge by


# --- the catalogue, scaled -----------------------------------------------------------------------------

def copy_period(indicator_id: str, copy: int) -> int:
    """The reporting period of copy ``copy`` of an indicator: drawn from COPY_PERIOD_MIX by a
    stable hash of (id, copy), so every run gets the same catalogue."""
    u = (stable_key(indicator_id, copy, "period") >> 11) / float(1 << 53)
    edge = 0.0
    for period, share in COPY_PERIOD_MIX:
        edge += share
        if u < edge:
            return period
    return COPY_PERIOD_MIX[-1][0]


def scale_catalogue(catalogue: pd.DataFrame, *, scale: int) -> pd.DataFrame:
    """The catalogue repeated ``scale`` times: copies get ids ``<id>__2``.., names `` #2``.., on_wall 0,
    and their own reporting period from COPY_PERIOD_MIX (5 s .. 1 h), not the original's.

    A benchmark uses this to run ~1,700 indicators from the ~70 of the demo pack.
    """
    if scale <= 1:
        return catalogue.reset_index(drop=True)
    copies = [catalogue]
    for k in range(2, scale + 1):
        copy = catalogue.copy()
        copy["indicator_id"] = copy["indicator_id"] + f"{SCALE_SEP}{k}"
        copy["name"] = copy["name"] + f" #{k}"
        copy["name_en"] = copy["name_en"].where(copy["name_en"] == "", copy["name_en"] + f" #{k}")
        copy["on_wall"] = False
        copy["sort_order"] = copy["sort_order"] + 1000 * k
        copy["period_s"] = [copy_period(i, k) for i in catalogue["indicator_id"]]
        copies.append(copy)
    return pd.concat(copies, ignore_index=True)


def scaled_copies(catalogue: pd.DataFrame) -> pd.DataFrame:
    """The rows of a scaled catalogue that are copies (the pack loader wrote the originals)."""
    return catalogue[catalogue["indicator_id"].str.contains(SCALE_SEP, regex=False)]


# --- the model -------------------------------------------------------------------------------------

@dataclass
class IndicatorModel:
    indicator_id: str
    level: str
    period_s: int
    rhythm: str
    night_ratio: float
    noise: float
    decimals: int
    kind: str
    base: float
    aggregate: str  # sum | mean: how the city series follows the districts'
    alarm_high: float | None
    factors: dict[str, float]  # episode kind -> multiplier at full intensity
    area_codes: list[str]  # district series first, the city series last
    keys: np.ndarray  # (n_own_series, 1) uint64: districts (district-level) or the city (city-level)
    scale: np.ndarray  # (n_own_series, 1): each own series' share (sum) or factor (mean) of base


def model_indicator(row: Any, city: City, seed: int) -> IndicatorModel:
    """One catalogue row (a namedtuple) as series over the city's districts or the city alone."""
    factors = {name: float(getattr(row, kind.factor_column)) for name, kind in EPISODE_KINDS.items()}
    if row.level == "district" and city.district_codes:
        own = city.district_codes
        aggregate = row.aggregate if row.aggregate in ("sum", "mean") else "mean"
        jitter = np.array([hash_uniform(np.array([stable_key(seed, row.indicator_id, d, "scale")]),
                                        np.array([0]), 9)[0] for d in own])
        if aggregate == "sum":
            # Bigger districts (more streets) carry more of the city's total.
            share = np.array([max(1, city.street_counts.get(d, 1)) for d in own], float) * (0.7 + 0.6 * jitter)
            scale = share / share.sum()
        else:
            factor = 0.85 + 0.3 * jitter
            scale = factor / factor.mean()
        area_codes = [*own, city.city_code]
    else:
        own, aggregate, scale, area_codes = [city.city_code], "", np.ones(1), [city.city_code]
    keys = np.array([stable_key(seed, row.indicator_id, a) for a in own], dtype=np.uint64)[:, None]
    return IndicatorModel(
        indicator_id=row.indicator_id, level=row.level, period_s=int(row.period_s),
        rhythm=row.sim_rhythm, night_ratio=float(row.sim_night_ratio), noise=float(row.sim_noise),
        decimals=int(row.sim_decimals),
        kind=row.sim_kind, base=float(row.sim_base), aggregate=aggregate,
        alarm_high=None if pd.isna(row.alarm_high) else float(row.alarm_high), factors=factors,
        area_codes=area_codes, keys=keys, scale=np.asarray(scale, float)[:, None],
    )


class Vitals:
    """Every indicator of the catalogue as series over the city, and their values."""

    def __init__(self, catalogue: pd.DataFrame, city: City, *, seed: int, clock: LocalClock) -> None:
        self.catalogue = catalogue
        self.city = city
        self.clock = clock
        self.indicators = [model_indicator(row, city, seed) for row in catalogue.itertuples(index=False)]

    def district_thresholds(self) -> list[dict[str, Any]]:
        """Bounds for the district series of ``sum`` indicators: the city's bounds times the
        district's share, so a district's power load warns at its own scale. Small counts
        (waterlogging points: a share of 5) keep the city's bounds, where a share would be noise."""
        rows: list[dict[str, Any]] = []
        bounds = self.catalogue.set_index("indicator_id")
        for ind in self.indicators:
            if ind.level != "district" or ind.aggregate != "sum" or ind.indicator_id not in bounds.index:
                continue
            row = bounds.loc[ind.indicator_id]
            limits = {k: None if pd.isna(row[k]) else float(row[k])
                      for k in ("warn_low", "warn_high", "alarm_low", "alarm_high")}
            for code, share in zip(ind.area_codes[:-1], ind.scale[:, 0], strict=True):
                scaled = {k: None if v is None else round(v * float(share), 3) for k, v in limits.items()}
                if scaled["warn_high"] is not None and scaled["warn_high"] < MIN_SCALED_BOUND:
                    continue
                rows.append({"indicator_id": ind.indicator_id, "area_code": code, **scaled})
        return rows

    def values(self, ind: IndicatorModel, t: np.ndarray, episodes: Sequence[Episode]) -> np.ndarray:
        """Values (len(ind.area_codes), len(t)) at epoch seconds ``t``; pure in (seed, ids, t, episodes)."""
        r = rhythm(self.clock.hours(t), ind.rhythm, ind.night_ratio)
        clean = ind.base * ind.scale * r[None, :]
        baseline = clean.copy()  # episodes act on the undisturbed value: overlapping ones don't compound
        noise_sd = np.full(clean.shape, ind.noise)
        for ep in episodes:
            self._disturb(ind, ep, t, baseline, clean, noise_sd)
        value = clean * np.maximum(0.0, 1.0 + noise_sd * series_noise(ind.keys, t))
        if ind.base >= 0:
            value = np.maximum(value, 0.0)
        if ind.kind == "count":
            # Stochastic rounding keeps small counts honest (a mean of 0.3 shows 0 and sometimes 1).
            value = np.floor(value + hash_uniform(ind.keys, t, 77))
        else:
            value = np.round(value, ind.decimals)
        if len(ind.area_codes) > 1:
            city = value.sum(axis=0) if ind.aggregate == "sum" else value.mean(axis=0)
            value = np.vstack([value, np.round(city, ind.decimals)[None, :]])
        return value

    def _disturb(self, ind: IndicatorModel, ep: Episode, t: np.ndarray, baseline: np.ndarray, clean: np.ndarray,
                 noise_sd: np.ndarray) -> None:
        """Apply one episode to ``clean`` (and quieten ``noise_sd``) in place."""
        factor = ind.factors.get(ep.kind, 1.0)
        if factor == 1.0:
            return
        intensity = ep.intensity(t)
        if not intensity.any():
            return
        kind = EPISODE_KINDS[ep.kind]
        if ind.level == "district" and len(ind.area_codes) > 1:
            everywhere = ep.area_code == self.city.city_code
            rows = [i for i, code in enumerate(ind.area_codes[:-1]) if everywhere or code == ep.area_code]
            weight = intensity
        else:
            rows, weight = [0], intensity * kind.city_effect
        if not rows:
            return
        part = baseline[rows]
        peak = part * factor
        if ind.level == "district" and ind.alarm_high is not None and factor >= kind.alarm_min_factor:
            # Rain-driven indicators pass their alarm line at full intensity, whatever the base.
            peak = np.maximum(peak, ind.alarm_high * kind.alarm_overshoot)
            noise_sd[rows] = noise_sd[rows] * (1.0 - 0.8 * weight)
        effect = part + (peak - part) * weight
        # The strongest episode wins (a factor below 1, e.g. speeds in a storm, the lowest value).
        clean[rows] = np.maximum(clean[rows], effect) if factor > 1 else np.minimum(clean[rows], effect)

    def reading_rows(self, ind: IndicatorModel, t: np.ndarray, episodes: Sequence[Episode],
                     stamps: dict[int, datetime]) -> list[dict[str, Any]]:
        """``readings`` rows of every series of ``ind`` at ``t`` (``stamps`` caches the datetimes)."""
        values = self.values(ind, t, episodes).tolist()
        times = []
        for x in t.tolist():
            stamp = stamps.get(x)
            if stamp is None:
                stamp = stamps[x] = dt(x)
            times.append(stamp)
        iid = ind.indicator_id
        return [{"indicator_id": iid, "area_code": code, "ts": ts, "value": v}
                for code, row in zip(ind.area_codes, values, strict=True)
                for ts, v in zip(times, row, strict=True)]
