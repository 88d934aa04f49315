"""The replay's pieces (issue 15, items 1, 2 and 5): the banner every replayed page shows, the wall's
replay control (a slider over the kept last 24 h, play at 1x/10x/60x, back to live), and the clear
message for a moment or speed the page cannot show. Pure builders: data in, components out.

A replayed page is never mistaken for a live one: its root carries ``REPLAY_CLASS`` (the frame, in
the replay colour of components/theme.py), its banner says REPLAY / 回放 and the moment in the
city's time zone, and its status badge says REPLAY instead of LIVE (assets/citywall.js statusBar,
``replay`` in the connection store). The control runs in the browser (assets/replay.js): it moves
the moment, keeps it in the URL (history.replaceState: the address can be shared) and asks the
server for that minute through the wall's own refresh (pages/wall.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from dash import dcc, html

from components import ids
from components.i18n import t

REPLAY_CLASS = "cw-replay"  # on a replayed page's root: the frame (assets/replay.css)
SPEEDS = (1, 10, 60)  # data_access.replay.REPLAY_SPEEDS (a test checks they agree)
MARK_EVERY_H = 3  # the slider's time marks
PLAY_TICK_MS = 1000  # the play clock: the moment moves speed seconds a second
MAX_SHOWN_VALUE = 40  # of a bad ?at= or ?speed= echoed in its message


@dataclass(frozen=True)
class ReplayMoment:
    """What a replayed page shows: the moment ``at`` and the control's window ``start``..``end``
    (naive UTC minutes; ``end`` is this minute), and the play speed."""

    at: datetime
    start: datetime
    end: datetime
    speed: int = 1


def _ms(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def local_label(moment: datetime, tz: ZoneInfo) -> str:
    """A naive-UTC moment as the city writes it: ``2026-12-04 03:10``."""
    return moment.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def at_param(moment: datetime, tz: ZoneInfo) -> str:
    """The ``?at=`` of a moment: the city's own time, to the minute (``2026-12-04T03:10``), which
    data_access.replay.parse_at reads back in the city's zone."""
    return moment.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def zone_label(moment: datetime, tz: ZoneInfo) -> str:
    """The city's offset at ``moment``: ``UTC+8``."""
    offset = moment.replace(tzinfo=UTC).astimezone(tz).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def with_query(href: str, **query: object) -> str:
    """``href`` with ``query`` added (None or "" values left out)."""
    params = {k: v for k, v in query.items() if v not in (None, "")}
    if not params:
        return href
    return href + ("&" if "?" in href else "?") + urlencode(params)


def slider_marks(start: datetime, end: datetime, tz: ZoneInfo) -> dict[int, str]:
    """The slider's marks: every MARK_EVERY_H hours of the city's clock, as minutes since ``start``."""
    marks: dict[int, str] = {}
    total = int((end - start).total_seconds() // 60)
    local_start = start.replace(tzinfo=UTC).astimezone(tz)
    first = (MARK_EVERY_H - local_start.hour % MARK_EVERY_H) * 60 - local_start.minute
    first = first % (MARK_EVERY_H * 60)
    for minute in range(first, total + 1, MARK_EVERY_H * 60):
        local = local_start.timestamp() + minute * 60
        marks[minute] = datetime.fromtimestamp(local, tz).strftime("%H:%M")
    return marks


def _speed_buttons(speed: int) -> html.Div:
    return html.Div(id=ids.REPLAY_SPEEDS, className="replay__speeds", children=[
        html.Button(f"{s}×", id={"type": ids.REPLAY_SPEED, "id": s}, n_clicks=0,
                    className="replay__speed" + (" replay__speed--on" if s == speed else ""))
        for s in SPEEDS
    ])


def create_replay_banner(*, moment: ReplayMoment, lang: str, tz: ZoneInfo, live_href: str,
                         control: bool, refresh_s: float = 5.0, wall_href: str | None = None,
                         scopes: list[list[Any]] | None = None, ticks: list[Any] | None = None) -> html.Div:
    """The banner of a replayed page: REPLAY / 回放, the moment (city time) and the way back to live;
    ``control`` (the wall): the slider over the window, play/pause, the speeds; ``scopes``: the
    [id, data] of every scope store the moment is written into (the wall's, its map's), ``ticks``
    the intervals to fire when it changes; ``wall_href`` (a level page): the wall replaying the
    same moment. The control rewrites only ``at`` and ``speed`` of the page's URL."""
    zone = zone_label(moment.at, tz)
    parts: list = [
        html.Span(t("rpl_tag", lang), className="replay__tag"),
        html.Div(className="replay__when", children=[
            html.Span(local_label(moment.at, tz), id=ids.REPLAY_MOMENT, className="replay__moment"),
            html.Span(zone, className="replay__zone"),
        ]),
        html.Span(t("rpl_hint", lang), className="replay__hint"),
    ]
    if control:
        total = max(1, int((moment.end - moment.start).total_seconds() // 60))
        value = max(0, min(total, int((moment.at - moment.start).total_seconds() // 60)))
        parts += [
            html.Button(t("rpl_play", lang), id=ids.REPLAY_PLAY, n_clicks=0, className="replay__play"),
            _speed_buttons(moment.speed),
            html.Div(dcc.Slider(id=ids.REPLAY_SLIDER, min=0, max=total, step=1, value=value,
                                marks=slider_marks(moment.start, moment.end, tz), allow_direct_input=False,
                                updatemode="mouseup", included=True, className="replay__slider"),
                     className="replay__track"),
            dcc.Store(id=ids.REPLAY_CONFIG, data={
                "start_ms": _ms(moment.start), "end_ms": _ms(moment.end), "at_ms": _ms(moment.at),
                "speed": moment.speed, "tz": tz.key, "lang": lang, "refresh_s": refresh_s,
                "tick_ms": PLAY_TICK_MS, "scopes": scopes or [], "ticks": ticks or [],
                "labels": {"play": t("rpl_play", lang), "pause": t("rpl_pause", lang)}}),
            dcc.Interval(id=ids.REPLAY_TIMER, interval=PLAY_TICK_MS, disabled=True),
            html.Div(id=ids.REPLAY_TARGET, hidden=True),
        ]
    elif wall_href:
        parts.append(html.A(t("rpl_wall_replay", lang), href=wall_href, className="replay__link"))
    parts.append(html.A(t("rpl_live", lang), href=live_href, id=ids.REPLAY_LIVE, className="replay__live"))
    return html.Div(parts, id=ids.REPLAY_BANNER, className="replay" + (" replay--control" if control else ""),
                    role="status", **{"aria-live": "polite"})


def shown_value(value: object) -> str:
    """A bad ``?at=`` / ``?speed=`` as its message echoes it (shortened; text only, never markup)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_SHOWN_VALUE else text[:MAX_SHOWN_VALUE] + "…"


def create_replay_error(*, code: str, value: object, lang: str, live_href: str, oldest: datetime | None,
                        tz: ZoneInfo, oldest_href: str | None = None) -> html.Div:
    """The clear page for a moment or speed the page cannot show (``code``: a
    data_access.replay.ReplayError's), with the way to the live page (and, for a moment before the
    kept history, to its oldest moment). Never a traceback, never a live page presented as a replay."""
    oldest_text = local_label(oldest, tz) + " " + zone_label(oldest, tz) if oldest is not None else "—"
    message = t(f"rpl_err_{code}", lang, value=shown_value(value), oldest=oldest_text)
    links = [html.A(t("rpl_err_open_live", lang), href=live_href, className="replay-error__live")]
    if oldest_href:
        links.append(html.A(t("rpl_err_open_oldest", lang), href=oldest_href, className="replay-error__oldest"))
    return html.Div(id=ids.REPLAY_ERROR, className="not-found replay-error", **{"data-code": code}, children=[
        html.H1(t("rpl_err_title", lang)),
        html.P(message, className="replay-error__message"),
        html.Div(links, className="replay-error__links"),
    ])


def create_kiosk_drop() -> list:
    """A kiosk URL carrying ``?at=``: the wall stays live (a kiosk never enters replay by itself);
    assets/replay.js takes ``at`` and ``speed`` out of the address so a reload stays live too."""
    return [dcc.Store(id=ids.REPLAY_DROP, data=["at", "speed"]), html.Div(id=ids.REPLAY_DROP_TARGET, hidden=True)]
