"""CityWall's one settings object: every knob is a ``CITYWALL_*`` environment variable.

Nothing here reads a file or a database; ``load_settings()`` only looks at the environment,
so importing this module is free and tests can build settings from a plain dict.
"""
from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from data_access.models import LANGUAGES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACK = PROJECT_ROOT / "feeder" / "packs" / "shanghai"
AUTH_MODES = ("off", "basic", "header")
TRANSPORTS = ("push", "poll")  # how a wall gets each tick (pages/_push.py, docs/performance.md "Push")
TICK_COMPUTER_MODES = ("auto", "on", "off")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_FRAME_ANCESTORS = re.compile(r"^[A-Za-z0-9'*:/._ -]{1,500}$")


class SettingsError(ValueError):
    """A CITYWALL_* variable holds a value CityWall cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: default_database_url())
    # Where operator actions are written (actions/, docs/security.md): empty means database_url.
    # A read-only deployment points it at the narrow role of `citywall db create-action-role`.
    actions_database_url: str = ""
    refresh_s: float = 5.0
    # Walls poll just after each tick's data is ready, spread over this many seconds (freshness
    # vs. the burst of requests: 0.8 s keeps a new reading on screen within ~6 s of its insert).
    poll_spread_s: float = 0.8
    timezone: str = "Asia/Shanghai"
    # CITYWALL_TIMEZONE was given. When not, the zone `citywall new-city` recorded in the database
    # replaces ``timezone`` at start-up (data_access.db.city_settings), never at import time.
    timezone_set: bool = False
    city_timezone: str = ""  # the zone recorded in the database, once city_settings has read it
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
    # The tick computer (issue 16, item 2): the tick's reads run once per tick in a background
    # thread of each process, never inside a request; requests read what it computed. auto: on
    # when the database is SQLite (its reads otherwise run inside the web workers' requests).
    tick_computer: str = "auto"  # auto | on | off
    # The citizens' hotline shown on the wall's incident strip: its source channel and display name.
    hotline_source: str = "hotline_12345"
    hotline_name: str = "12345"
    # Security and reliability (docs/security.md, docs/reliability.md).
    auth: str = "off"  # off | basic | header
    users_file: Path = field(default_factory=lambda: PROJECT_ROOT / "var" / "users.json")
    secret_key: str = ""
    auth_header: str = "X-Forwarded-User"
    # Header mode's proof that a request came through the proxy: a secret header it adds, and/or
    # the addresses it connects from (docs/security.md, "Header mode").
    proxy_secret: str = ""
    cookie_secure: bool = False  # mark the session cookie Secure even when TLS ends at a proxy
    trusted_proxies: tuple[str, ...] = ()
    statement_timeout_s: float = 15.0  # 0: no limit
    frame_ancestors: str = "'self'"
    # Push (issue 16): each tick's wall delta sent once per scope and language to every screen over
    # server-sent events ("push"), or every screen polls the wall callback ("poll"). A screen whose
    # push stream cannot connect polls by itself. push_streams: open streams one server process holds
    # at most (each holds one server thread: gunicorn's --threads must exceed it); more screens poll.
    transport: str = "push"
    push_streams: int = 100
    # A push stream ends after this long and the browser reconnects (authenticated and scope-checked
    # again); a bench shortens it to compress a day's reconnections into an hour (bench/long_tab.py).
    push_stream_max_s: float = 300.0

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def tick_computer_on(self) -> bool:
        """Whether the tick computer runs (CITYWALL_TICK_COMPUTER; auto: on SQLite)."""
        if self.tick_computer == "auto":
            return self.database_url.startswith("sqlite")
        return self.tick_computer == "on"

    @property
    def actions_url(self) -> str:
        """The database URL operator actions are written to (CITYWALL_ACTIONS_DATABASE_URL, else database_url)."""
        return self.actions_database_url or self.database_url


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


def _networks(raw: str, name: str) -> tuple[str, ...]:
    """Comma-separated addresses or networks (192.0.2.10, 10.0.0.0/8, ::1)."""
    found = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            found.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise SettingsError(f"{name}: {part!r} is not an IP address or network") from None
    return tuple(found)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from ``CITYWALL_*`` variables; unset ones keep their working defaults."""
    env = os.environ if environ is None else environ

    def get(key: str) -> str | None:
        return env.get(f"CITYWALL_{key}")

    values: dict[str, object] = {}
    if (raw := get("DATABASE_URL")):
        values["database_url"] = raw.strip()
    if (raw := get("ACTIONS_DATABASE_URL")):
        values["actions_database_url"] = raw.strip()
    if (raw := get("REFRESH_S")):
        values["refresh_s"] = float(_number(raw, "CITYWALL_REFRESH_S", float, 0.5))
    if (raw := get("POLL_SPREAD_S")):
        values["poll_spread_s"] = float(_number(raw, "CITYWALL_POLL_SPREAD_S", float, 0))
    if (raw := get("TIMEZONE")):
        try:
            ZoneInfo(raw.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"CITYWALL_TIMEZONE={raw!r}: not an IANA time zone") from None
        values["timezone"] = raw.strip()
        values["timezone_set"] = True
    if (raw := get("LANG")):
        if raw.strip().lower() not in LANGUAGES:
            raise SettingsError(f"CITYWALL_LANG={raw!r}: expected one of {', '.join(LANGUAGES)}")
        values["lang"] = raw.strip().lower()
    for key in ("HOTLINE_SOURCE", "HOTLINE_NAME"):
        if (raw := get(key)):
            if len(raw.strip()) > 64:
                raise SettingsError(f"CITYWALL_{key}={raw[:20]!r}…: at most 64 characters")
            values[key.lower()] = raw.strip()
    for key in ("TILE_URL", "TILE_ATTRIBUTION", "REDIS_URL", "HOST"):
        if (raw := get(key)) is not None:
            values[key.lower()] = raw.strip()
    if (raw := get("CITY_PACK")):
        values["city_pack"] = Path(raw).expanduser()
    for key in ("FEEDER", "DEBUG", "NAIVE", "COOKIE_SECURE"):
        if (raw := get(key)) is not None:
            values[key.lower()] = _flag(raw, f"CITYWALL_{key}")
    for key, minimum in (("FEEDER_SEED", 0), ("FEEDER_SCALE", 1), ("BACKFILL_DAYS", 0), ("PORT", 1)):
        if (raw := get(key)):
            values[key.lower()] = int(_number(raw, f"CITYWALL_{key}", int, minimum))
    if (raw := get("AUTH")):
        if raw.strip().lower() not in AUTH_MODES:
            raise SettingsError(f"CITYWALL_AUTH={raw!r}: expected one of {', '.join(AUTH_MODES)}")
        values["auth"] = raw.strip().lower()
    if (raw := get("TICK_COMPUTER")):
        if raw.strip().lower() not in TICK_COMPUTER_MODES:
            raise SettingsError(f"CITYWALL_TICK_COMPUTER={raw!r}: expected one of {', '.join(TICK_COMPUTER_MODES)}")
        values["tick_computer"] = raw.strip().lower()
    if (raw := get("USERS_FILE")):
        values["users_file"] = Path(raw.strip()).expanduser()
    if (raw := get("SECRET_KEY")) is not None:
        values["secret_key"] = raw.strip()
    if (raw := get("AUTH_HEADER")):
        if not _HEADER_NAME.match(raw.strip()):
            raise SettingsError(f"CITYWALL_AUTH_HEADER={raw!r}: not an HTTP header name")
        values["auth_header"] = raw.strip()
    if (raw := get("PROXY_SECRET")) is not None:
        values["proxy_secret"] = raw.strip()
    if (raw := get("TRUSTED_PROXIES")):
        values["trusted_proxies"] = _networks(raw, "CITYWALL_TRUSTED_PROXIES")
    if (raw := get("STATEMENT_TIMEOUT_S")):
        values["statement_timeout_s"] = float(_number(raw, "CITYWALL_STATEMENT_TIMEOUT_S", float, 0))
    if (raw := get("FRAME_ANCESTORS")):
        if not _FRAME_ANCESTORS.match(raw.strip()):
            raise SettingsError(f"CITYWALL_FRAME_ANCESTORS={raw!r}: expected CSP sources such as "
                                "'self', 'none' or https://controller.example.org, separated by spaces")
        values["frame_ancestors"] = raw.strip()
    if (raw := get("TRANSPORT")):
        if raw.strip().lower() not in TRANSPORTS:
            raise SettingsError(f"CITYWALL_TRANSPORT={raw!r}: expected one of {', '.join(TRANSPORTS)}")
        values["transport"] = raw.strip().lower()
    if (raw := get("PUSH_STREAMS")):
        values["push_streams"] = int(_number(raw, "CITYWALL_PUSH_STREAMS", int, 0))
    if (raw := get("PUSH_STREAM_MAX_S")):
        values["push_stream_max_s"] = float(_number(raw, "CITYWALL_PUSH_STREAM_MAX_S", float, 1))
    settings = Settings(**values)
    if settings.poll_spread_s > settings.refresh_s:
        raise SettingsError(f"CITYWALL_POLL_SPREAD_S={settings.poll_spread_s:g}: at most CITYWALL_REFRESH_S "
                            f"({settings.refresh_s:g})")
    return settings
