"""The replay on a page (issue 15): ``?at=`` / ``?speed=`` read into the moment a page shows (one rule:
data_access.replay.parse_at / parse_speed), the clear message for one it cannot show, and the moment a
screen's scope store carries back to the server (checked again there: a client never picks a moment
the URL could not).

Decided where the issue is silent:
- a kiosk wall never replays: a kiosk URL carrying ``?at=`` shows the live wall (the browser takes
  ``at`` and ``speed`` out of its address, so reloads and the rotation stay live); the kiosk's
  playlist loses them too (components/wall.py parse_kiosk);
- ``?speed=`` without ``?at=`` is checked (a bad one gets its message) but changes nothing: live;
- the replay window is the last 24 h up to this minute, not before the kept history
  (data_access.replay.replay_window); the control's slider covers it, a URL may name any kept moment.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dash import html

from components.replay import ReplayMoment, at_param, create_replay_error, with_query
from data_access.db import utc_now
from data_access.readers.replay import read_kept_history_start
from data_access.replay import ReplayError, parse_at, parse_speed, replay_window
from data_access.runtime import CityWallRuntime

UTC_ZONE = ZoneInfo("UTC")


def _given(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def wants_replay(at: object, speed: object) -> bool:
    """Whether the query string asks for anything replay-related (a moment or a speed)."""
    return _given(at) or _given(speed)


def replay_moment(runtime: CityWallRuntime, *, at: object, speed: object) -> ReplayMoment | None:
    """The moment ``?at=`` names (None: live) at ``?speed=``; raises data_access.replay.ReplayError
    for a malformed, future or too old moment or a speed the control does not offer."""
    speed_value = parse_speed(speed)  # a bad speed is refused even without a moment
    if not _given(at):
        return None
    now = utc_now()
    kept = read_kept_history_start(runtime=runtime)
    moment = parse_at(at, tz=runtime.settings.tz, now=now, kept_from=kept)
    if moment is None:
        return None
    start, end = replay_window(kept_from=kept, now=now)
    return ReplayMoment(at=moment, start=min(start, moment), end=end, speed=speed_value)


def replay_error_page(runtime: CityWallRuntime, error: ReplayError, *, at: object, speed: object, lang: str,
                      live_href: str) -> html.Div:
    """The message for ``error`` (raised by ``replay_moment``), with the way to the live page and,
    for a moment before the kept history, to the oldest kept moment."""
    tz = runtime.settings.tz
    oldest = read_kept_history_start(runtime=runtime) if error.code == "before_history" else None
    if oldest is not None:  # its minute: parse_at floors both the same way, so it is a valid ?at=
        oldest = oldest.replace(second=0, microsecond=0)
    oldest_href = with_query(live_href, at=at_param(oldest, tz)) if oldest is not None else None
    value = speed if error.code == "speed" else at
    return create_replay_error(code=error.code, value=value, lang=lang, live_href=live_href, oldest=oldest, tz=tz,
                               oldest_href=oldest_href)


def scope_moment(scope: object) -> datetime | None:
    """The moment a replayed screen's scope store carries (``"at"``: an ISO-8601 UTC minute written
    by the layout or assets/replay.js), checked again on the server: never in the future. None: the
    screen is live. Raises ReplayError for a moment no URL could have named."""
    value = scope.get("at") if isinstance(scope, dict) else None
    if not _given(value):
        return None
    return parse_at(value, tz=UTC_ZONE, now=utc_now(), kept_from=None)


def scope_at(moment: datetime | None) -> str | None:
    """A moment as a scope store carries it (``2026-12-04T19:10Z``); None when live."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%MZ")
