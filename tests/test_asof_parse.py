"""The replay moment and speed (data_access/replay.py): ?at= in the city's time zone unless it carries
an offset, naive UTC floored to the minute, never in the future or before the kept history; ?speed=
one of 1, 10, 60. Pure functions: no database."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from data_access.replay import REPLAY_SPEEDS, ReplayError, parse_at, parse_speed, replay_window

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 4, 12, 0, 30)  # naive UTC
KEPT = datetime(2026, 12, 3, 12, 0, 0)


def at(value: object, *, tz: ZoneInfo = SHANGHAI, now: datetime = NOW, kept_from: datetime | None = KEPT):
    return parse_at(value, tz=tz, now=now, kept_from=kept_from)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_absent_moment_is_live(value: object) -> None:
    assert at(value) is None


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-12-04T03:10", datetime(2026, 12, 3, 19, 10)),  # naive: Shanghai, UTC+8
    ("2026-12-04 03:10:59", datetime(2026, 12, 3, 19, 10)),  # floored to the minute
    ("2026-12-04T03:10:00+08:00", datetime(2026, 12, 3, 19, 10)),
    ("2026-12-04T03:10:00 08:00", datetime(2026, 12, 3, 19, 10)),  # '+' decoded to ' ' by a query string
    ("2026-12-04T03:10:00Z", datetime(2026, 12, 4, 3, 10)),  # an offset wins over the city's zone
    ("2026-12-04T03:10:00-05:00", datetime(2026, 12, 4, 8, 10)),
    ("2026-12-04T11:59:45.123456Z", datetime(2026, 12, 4, 11, 59)),
    ("2026-12-04T12:00:59Z", datetime(2026, 12, 4, 12, 0)),  # the running minute is not the future
])
def test_moment_in_the_city_zone_unless_it_has_an_offset(value: str, expected: datetime) -> None:
    assert at(value) == expected


def test_naive_moment_uses_the_given_zone() -> None:
    assert at("2026-12-04T03:10", tz=NEW_YORK) == datetime(2026, 12, 4, 8, 10)


def test_datetime_values_and_aware_now() -> None:
    assert at(datetime(2026, 12, 4, 3, 10, 42), now=NOW.replace(tzinfo=UTC)) == datetime(2026, 12, 3, 19, 10)
    assert at(datetime(2026, 12, 4, 3, 10, tzinfo=UTC)) == datetime(2026, 12, 4, 3, 10)


@pytest.mark.parametrize("value", ["2026-12-04T12:01Z", "2027-01-01", "2026-12-04T20:01:00"])
def test_future_is_refused(value: str) -> None:
    with pytest.raises(ReplayError) as caught:
        at(value)
    assert caught.value.code == "future"


@pytest.mark.parametrize("value", ["2026-12-03T11:59Z", "2026-12-03T19:59", "2020-01-01T00:00Z"])
def test_before_kept_history_is_refused(value: str) -> None:
    with pytest.raises(ReplayError) as caught:
        at(value)
    assert caught.value.code == "before_history"


def test_oldest_kept_minute_is_allowed_and_no_history_bound_without_kept_from() -> None:
    assert at("2026-12-03T12:00Z") == KEPT
    assert at("2026-12-03T12:00:30Z", kept_from=KEPT.replace(second=40)) == KEPT
    assert at("2020-01-01T00:00Z", kept_from=None) == datetime(2020, 1, 1)


@pytest.mark.parametrize("value", [
    "yesterday", "03:10", "2026-13-01T00:00", "2026-12-04T25:00", "2026-12-04T03:10+99:00",
    "'; DROP TABLE incidents; --", "2026-12-04T03:10" + "0" * 500, "x" * 10_000, "0001-01-01T00:00+08:00",
    12345, 3.5, ["2026-12-04T03:10"], b"2026-12-04",
])
def test_malformed_moment_is_refused(value: object) -> None:
    with pytest.raises(ReplayError) as caught:
        at(value)
    assert caught.value.code == "malformed"
    assert isinstance(caught.value, ValueError)
    assert len(str(caught.value)) < 200  # a clear line, never the whole input echoed


@pytest.mark.parametrize(("value", "expected"), [
    (None, 1), ("", 1), (" ", 1), ("1", 1), ("10", 10), ("60", 60), (" 60 ", 60), ("10x", 10), ("60×", 60), (10, 10),
])
def test_speed(value: object, expected: int) -> None:
    assert parse_speed(value) == expected


@pytest.mark.parametrize("value", ["0", "2", "100", "-10", "10.0", "fast", "1e1", "9" * 50, 5, True, 10.0, ["10"],
                                   "\U00011052", "１０"])  # digits int() refuses, and full-width ones
def test_speed_out_of_range_is_refused(value: object) -> None:
    with pytest.raises(ReplayError) as caught:
        parse_speed(value)
    assert caught.value.code == "speed"
    assert len(str(caught.value)) < 200


def test_speeds_and_codes() -> None:
    assert REPLAY_SPEEDS == (1, 10, 60)
    with pytest.raises(ValueError):
        ReplayError("nonsense", "x")


def test_replay_window_is_the_last_day_within_history() -> None:
    assert replay_window(kept_from=None, now=NOW) == (datetime(2026, 12, 3, 12, 0), datetime(2026, 12, 4, 12, 0))
    assert replay_window(kept_from=datetime(2026, 12, 4, 6, 30, 5), now=NOW) == (
        datetime(2026, 12, 4, 6, 30), datetime(2026, 12, 4, 12, 0))
