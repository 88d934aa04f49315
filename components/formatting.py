"""Numbers, rates, ages, durations and local times formatted for the screen and the language:
the one place each of them is written.

One duration rule (``format_duration``): whole minutes below DURATION_LIMITS[0] minutes, whole
hours below DURATION_LIMITS[1] hours, else whole days. The map's popups count an incident's age
in the browser (it grows while the popup is open); they get the same limits and labels through the
map's ``hideout`` (components/incident_map.py ``map_labels``: ``dur_limits``), so assets/map.js
applies this rule, not its own.
"""
from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from components.i18n import t

DURATION_LIMITS = (120, 48)  # minutes below which a duration is said in minutes; hours, in hours


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_value(value: float | None, decimals: int, lang: str = "en") -> str:
    """Wall-readable numbers: grouped digits, and compact units (万/亿, k/M) for big ones."""
    if _missing(value):
        return "—"
    magnitude = abs(value)
    if lang == "zh":
        if magnitude >= 1e8:
            return f"{value / 1e8:,.2f}亿"
        if magnitude >= 1e5:
            return f"{value / 1e4:,.1f}万"
    else:
        if magnitude >= 1e7:
            return f"{value / 1e6:,.1f}M"
        if magnitude >= 1e5:
            return f"{value / 1e3:,.1f}k"
    return f"{value:,.{max(0, int(decimals))}f}"


def format_age(age_s: float | None, lang: str, *, precise: bool = False) -> str:
    """Coarse ages (minutes, hours) so a fresh tile's text doesn't change every tick; ``precise``
    (stale tiles) counts seconds too, so a 5-second feed that stopped says so at once."""
    if _missing(age_s):
        return ""
    seconds = max(0, int(age_s))
    if seconds < 60:
        return t("ago_s", lang, n=seconds) if precise else t("just_now", lang)
    if seconds < 7200:
        return t("ago_min", lang, n=seconds // 60)
    if seconds < 172800:
        return t("ago_h", lang, n=seconds // 3600)
    return t("ago_d", lang, n=seconds // 86400)


def format_duration(seconds: float | None, lang: str) -> str:
    """How long something has lasted (an alarm, the oldest incident of a stage); "" when unknown."""
    if seconds is None or pd.isna(seconds):
        return ""
    minutes = max(0, int(seconds // 60))
    if minutes < DURATION_LIMITS[0]:
        return t("dur_min", lang, n=minutes)
    hours = minutes // 60
    return t("dur_h", lang, n=hours) if hours < DURATION_LIMITS[1] else t("dur_d", lang, n=hours // 24)


def format_change(value: float | None, previous: float | None) -> str:
    """Change against yesterday as a signed percentage, or empty when it cannot be computed."""
    if _missing(value) or _missing(previous) or previous == 0:
        return ""
    return f"{(value - previous) / abs(previous) * 100:+.1f}%"


def format_rate(rate: float | None) -> str:
    return "—" if _missing(rate) else f"{rate * 100:.1f}%"


def format_count(n: int | float | None) -> str:
    """A count with grouped digits (``1,234``); "—" when unknown."""
    return "—" if _missing(n) else f"{int(n):,}"  # type: ignore[arg-type]


def rate_state(rate: float | None) -> str:
    """The state of an on-time rate: the KPI strips' one threshold rule (≥ 90 % normal, ≥ 80 % warn)."""
    if _missing(rate):
        return "none"
    return "normal" if rate >= 0.9 else "warn" if rate >= 0.8 else "alarm"  # type: ignore[operator]


def local_time(moment_utc: datetime, tz: ZoneInfo) -> str:
    return moment_utc.replace(tzinfo=UTC).astimezone(tz).strftime("%H:%M:%S")


def local_moment(moment_utc: datetime, tz: ZoneInfo, *, now_utc: datetime) -> str:
    """A naive-UTC moment in the city's zone: its time of day when it is today there, else its date
    and minute (an imported export's newest change may be years old: "2011-03-05 14:02")."""
    local = moment_utc.replace(tzinfo=UTC).astimezone(tz)
    if local.date() == now_utc.replace(tzinfo=UTC).astimezone(tz).date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M")


def local_stamp(value: object, tz: ZoneInfo, fmt: str = "%m-%d %H:%M") -> str:
    """A naive-UTC time from a view in the city's zone ("" when missing)."""
    if value is None or pd.isna(value):
        return ""
    return pd.Timestamp(value).tz_localize("UTC").tz_convert(tz).strftime(fmt)
