"""Numbers, ages and times formatted for the screen and the language."""
from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from components.i18n import t


def format_value(value: float | None, decimals: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{max(0, int(decimals))}f}"


def format_age(age_s: float | None, lang: str) -> str:
    if age_s is None or math.isnan(age_s):
        return ""
    seconds = max(0, int(age_s))
    if seconds < 120:
        return t("ago_s", lang, n=seconds)
    if seconds < 7200:
        return t("ago_min", lang, n=seconds // 60)
    return t("ago_h", lang, n=seconds // 3600)


def format_change(value: float | None, previous: float | None) -> str:
    """Change against yesterday as a signed percentage, or empty when it cannot be computed."""
    if value is None or previous is None or any(math.isnan(v) for v in (value, previous)) or previous == 0:
        return ""
    return f"{(value - previous) / abs(previous) * 100:+.1f}%"


def local_time(moment_utc: datetime, tz: ZoneInfo) -> str:
    return moment_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).strftime("%H:%M:%S")
