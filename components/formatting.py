"""Numbers, ages and times formatted for the screen and the language."""
from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from components.i18n import t


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


def format_duration(seconds: float, lang: str) -> str:
    seconds = max(0, int(seconds))
    if seconds < 3600:
        return t("dur_min", lang, n=max(1, seconds // 60))
    if seconds < 86400:
        return t("dur_h_min", lang, h=seconds // 3600, m=(seconds % 3600) // 60)
    return t("dur_over_day", lang)


def format_change(value: float | None, previous: float | None) -> str:
    """Change against yesterday as a signed percentage, or empty when it cannot be computed."""
    if _missing(value) or _missing(previous) or previous == 0:
        return ""
    return f"{(value - previous) / abs(previous) * 100:+.1f}%"


def format_rate(rate: float | None) -> str:
    return "—" if _missing(rate) else f"{rate * 100:.1f}%"


def local_time(moment_utc: datetime, tz: ZoneInfo) -> str:
    return moment_utc.replace(tzinfo=UTC).astimezone(tz).strftime("%H:%M:%S")
