"""CityWall's one settings object: every knob is a ``CITYWALL_*`` environment variable.

Nothing here reads a file or a database; ``load_settings()`` only looks at the environment,
so importing this module is free and tests can build settings from a plain dict.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACK = PROJECT_ROOT / "feeder" / "packs" / "shanghai"
LANGUAGES = ("zh", "en")


class SettingsError(ValueError):
    """A CITYWALL_* variable holds a value CityWall cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: default_database_url())
    refresh_s: float = 5.0
    timezone: str = "Asia/Shanghai"
    lang: str = "zh"
    tile_url: str = ""
    tile_attribution: str = ""
    redis_url: str = ""
    city_pack: Path = DEFAULT_PACK
    feeder: bool = True
    feeder_seed: int = 20261123
    feeder_scale: int = 1
    backfill_days: int = 7
    host: str = "127.0.0.1"
    port: int = 8050
    debug: bool = False
    naive: bool = False

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'citywall.db'}"


def _flag(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name}={raw!r}: expected 1/0, true/false, yes/no or on/off")


def _number(raw: str, name: str, kind: type, minimum: float) -> float | int:
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a {kind.__name__}") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from ``CITYWALL_*`` variables; unset ones keep their working defaults."""
    env = os.environ if environ is None else environ

    def get(key: str) -> str | None:
        return env.get(f"CITYWALL_{key}")

    values: dict[str, object] = {}
    if (raw := get("DATABASE_URL")):
        values["database_url"] = raw.strip()
    if (raw := get("REFRESH_S")):
        values["refresh_s"] = float(_number(raw, "CITYWALL_REFRESH_S", float, 0.5))
    if (raw := get("TIMEZONE")):
        try:
            ZoneInfo(raw.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"CITYWALL_TIMEZONE={raw!r}: not an IANA time zone") from None
        values["timezone"] = raw.strip()
    if (raw := get("LANG")):
        if raw.strip().lower() not in LANGUAGES:
            raise SettingsError(f"CITYWALL_LANG={raw!r}: expected one of {', '.join(LANGUAGES)}")
        values["lang"] = raw.strip().lower()
    for key in ("TILE_URL", "TILE_ATTRIBUTION", "REDIS_URL", "HOST"):
        if (raw := get(key)) is not None:
            values[key.lower()] = raw.strip()
    if (raw := get("CITY_PACK")):
        values["city_pack"] = Path(raw).expanduser()
    for key in ("FEEDER", "DEBUG", "NAIVE"):
        if (raw := get(key)) is not None:
            values[key.lower()] = _flag(raw, f"CITYWALL_{key}")
    for key, minimum in (("FEEDER_SEED", 0), ("FEEDER_SCALE", 1), ("BACKFILL_DAYS", 0), ("PORT", 1)):
        if (raw := get(key)):
            values[key.lower()] = int(_number(raw, f"CITYWALL_{key}", int, minimum))
    return Settings(**values)
