"""The replay's moment: ``?at=`` and ``?speed=`` parsed into what the as-of reads take, and the
oldest moment the database keeps history for. No Dash: pages turn a ``ReplayError`` into a message
by its ``code``.

``parse_at`` is the one rule for a replay moment: the city's time zone unless the value carries an
offset, naive UTC floored to the minute (the as-of reads and their cache keys are per minute),
never in the future, never before the kept history."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

REPLAY_SPEEDS = (1, 10, 60)  # replay seconds per wall-clock second the wall's replay control offers
MAX_AT_CHARS = 40  # the longest ISO-8601 moment anyone writes ("2026-12-04T03:10:00.000000+08:00" is 32)
REPLAY_CODES = ("malformed", "future", "before_history", "speed")

# A '+' of an offset in a query string arrives as a space ("03:10 08:00"): put it back.
_SPACE_OFFSET = re.compile(r"^(.*\d[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


class ReplayError(ValueError):
    """A replay moment or speed the page cannot show; ``code`` is one of ``REPLAY_CODES``."""

    def __init__(self, code: str, message: str) -> None:
        if code not in REPLAY_CODES:
            raise ValueError(f"unknown replay error code {code!r}")
        super().__init__(message)
        self.code = code


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def _floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def parse_at(value: object, *, tz: ZoneInfo, now: datetime, kept_from: datetime | None) -> datetime | None:
    """``?at=`` as naive UTC floored to the minute; None for live (None or blank).

    Naive values are the city's time zone ``tz``; a value with an offset (or ``Z``) keeps it.
    ``now`` and ``kept_from`` are naive UTC (aware values are converted). Raises ``ReplayError``:
    'malformed' (not ISO-8601, not text, absurdly long), 'future' (after ``now``),
    'before_history' (before ``kept_from``, the oldest moment the database keeps)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if len(text) > MAX_AT_CHARS:
            raise ReplayError("malformed", f"the replay moment is {len(text)} characters long; "
                                           "expected an ISO-8601 time such as 2026-12-04T03:10")
        spaced = _SPACE_OFFSET.match(text)
        if spaced:
            text = f"{spaced.group(1)}+{spaced.group(2)}"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ReplayError("malformed", f"{value!r} is not an ISO-8601 time such as 2026-12-04T03:10") from None
    else:
        raise ReplayError("malformed", f"a replay moment is text, not {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    try:
        at = _floor_minute(_naive_utc(moment))
    except (OverflowError, ValueError):  # e.g. 0001-01-01T00:00+08:00 falls before year 1 in UTC
        raise ReplayError("malformed", f"{value!r} is outside the calendar") from None
    if at > _naive_utc(now):
        raise ReplayError("future", f"{value!r} is in the future")
    if kept_from is not None and at < _floor_minute(_naive_utc(kept_from)):
        raise ReplayError("before_history", f"{value!r} is before the oldest kept history "
                                            f"({_naive_utc(kept_from):%Y-%m-%d %H:%M} UTC)")
    return at


def parse_speed(value: object) -> int:
    """``?speed=`` as one of ``REPLAY_SPEEDS`` (1 when absent or blank; "10x" is 10); else
    ``ReplayError('speed')``."""
    if value is None:
        return 1
    if isinstance(value, bool):
        raise ReplayError("speed", f"replay speed {value!r} is not one of {REPLAY_SPEEDS}")
    if isinstance(value, int):
        speed = value
    elif isinstance(value, str):
        if not value.strip():
            return 1
        text = value.strip().lower().rstrip("x×").strip()
        if len(text) > 4 or not (text.isascii() and text.isdigit()):  # "²" is a digit to str.isdigit, not to int()
            raise ReplayError("speed", f"replay speed {value[:20]!r} is not one of {REPLAY_SPEEDS}")
        speed = int(text)
    else:
        raise ReplayError("speed", f"replay speed {value!r} is not one of {REPLAY_SPEEDS}")
    if speed not in REPLAY_SPEEDS:
        raise ReplayError("speed", f"replay speed {speed} is not one of {REPLAY_SPEEDS}")
    return speed


def _oldest(engine: Engine, sql: str) -> datetime | None:
    try:
        with engine.connect() as conn:
            value = conn.execute(sa.text(sql)).scalar()
    except (sa.exc.ProgrammingError, sa.exc.OperationalError) as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            return None  # a city's own database without that (optional) view
        raise
    if value is None or (not isinstance(value, datetime) and pd.isna(value)):
        return None
    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=None)


def kept_history_start(*, engine: Engine) -> datetime | None:
    """The oldest moment the database keeps history for (naive UTC): the oldest hour of
    v_vitals_hourly, else (no hours kept) the oldest minute of v_vitals_recent; without any
    vital-sign history, the oldest incident report of v_incident_history; None when there is nothing."""
    # The hours first: they cover the minutes' 24 h and more (8 days), so v_vitals_recent (a few
    # seconds to order on SQLite at demo scale: it computes every minute's status) is asked only
    # when a city keeps no hours. ORDER BY ... LIMIT 1: the roll-up branch stops at its first row.
    hours = _oldest(engine, "SELECT hour FROM v_vitals_hourly ORDER BY hour LIMIT 1")
    if hours is not None:
        return hours
    minutes = _oldest(engine, "SELECT minute FROM v_vitals_recent ORDER BY minute LIMIT 1")
    if minutes is not None:
        return minutes
    return _oldest(engine, "SELECT reported_at FROM v_incident_history ORDER BY reported_at LIMIT 1")


def replay_window(*, kept_from: datetime | None, now: datetime, hours: int = 24) -> tuple[datetime, datetime]:
    """The replay control's range: the last ``hours`` hours up to this minute, not before the kept
    history (naive UTC minutes)."""
    end = _floor_minute(_naive_utc(now))
    start = end - timedelta(hours=hours)
    if kept_from is not None:
        start = max(start, _floor_minute(_naive_utc(kept_from)))
    return min(start, end), end
