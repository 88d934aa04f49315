"""The replay's pieces without a server (issue 15, items 1, 2, 5): the banner says REPLAY / 回放 and the
moment in the city's time zone, the control's slider covers the window with the moment where it is,
every bad moment or speed gets its own clear message, and a kiosk's playlist never carries ?at=."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dash import html
from plotly.utils import PlotlyJSONEncoder

from components import ids
from components.i18n import LABELS
from components.replay import (
    REPLAY_CLASS,
    SPEEDS,
    ReplayMoment,
    at_param,
    create_kiosk_drop,
    create_replay_banner,
    create_replay_error,
    local_label,
    slider_marks,
    zone_label,
)
from components.wall import live_path, parse_kiosk
from data_access.replay import REPLAY_CODES, REPLAY_SPEEDS, ReplayError, parse_at, parse_speed

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
# 03:10 in Shanghai on 4 December 2026 is 19:10 UTC the day before
AT = datetime(2026, 12, 3, 19, 10)
MOMENT = ReplayMoment(at=AT, start=datetime(2026, 12, 3, 12, 0), end=datetime(2026, 12, 4, 12, 0), speed=10)


def _text(component: object) -> str:
    """Every text a component shows, in order."""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(_text(c) for c in component)
    children = getattr(component, "children", None)
    return "" if children is None else _text(children)


def _find(component: object, wanted: object) -> object | None:
    for node in component._traverse():  # type: ignore[attr-defined]
        if getattr(node, "id", None) == wanted:
            return node
    return None


def test_the_control_offers_the_speeds_the_moment_rule_accepts() -> None:
    assert SPEEDS == REPLAY_SPEEDS
    assert set(REPLAY_CODES) == {"malformed", "future", "before_history", "speed"}
    assert {f"rpl_err_{code}" for code in REPLAY_CODES} <= set(LABELS)


@pytest.mark.parametrize(("lang", "tag"), [("zh", "回放"), ("en", "REPLAY")])
def test_banner_says_replay_and_the_moment_in_the_citys_time(lang: str, tag: str) -> None:
    banner = create_replay_banner(moment=MOMENT, lang=lang, tz=SHANGHAI, live_href="/wall/310101", control=True,
                                  scopes=[[ids.WALL_SCOPE, {"area_code": "310101"}]])
    text = _text(banner)
    assert tag in text and "2026-12-04 03:10" in text and "UTC+8" in text
    assert banner.id == ids.REPLAY_BANNER
    live = _find(banner, ids.REPLAY_LIVE)
    assert live is not None and live.href == "/wall/310101"


def test_slider_covers_the_window_with_the_moment_in_place() -> None:
    banner = create_replay_banner(moment=MOMENT, lang="en", tz=SHANGHAI, live_href="/", control=True)
    slider = _find(banner, ids.REPLAY_SLIDER)
    assert slider.min == 0 and slider.max == 24 * 60 and slider.step == 1
    assert slider.value == 7 * 60 + 10  # 19:10 UTC is 7 h 10 min after 12:00 UTC
    # marks every three hours of the city's clock: 12:00 UTC is 20:00 in Shanghai, so 21:00 is first
    assert slider.marks[60] == "21:00" and slider.marks[4 * 60] == "00:00" and len(slider.marks) == 8
    config = _find(banner, ids.REPLAY_CONFIG).data
    assert config["at_ms"] - config["start_ms"] == (7 * 60 + 10) * 60_000 and config["speed"] == 10
    assert config["tz"] == "Asia/Shanghai"
    json.dumps(banner, cls=PlotlyJSONEncoder)  # the layout serialises


def test_marks_follow_the_citys_own_clock_across_a_dst_change() -> None:
    start, end = datetime(2026, 3, 7, 12, 0), datetime(2026, 3, 8, 12, 0)  # New York springs forward on 8 March
    marks = slider_marks(start, end, NEW_YORK)
    assert all(label.endswith(":00") for label in marks.values())
    assert local_label(datetime(2026, 3, 8, 12, 0), NEW_YORK) == "2026-03-08 08:00"
    assert zone_label(datetime(2026, 3, 8, 12, 0), NEW_YORK) == "UTC-4"
    assert zone_label(datetime(2026, 3, 7, 12, 0), NEW_YORK) == "UTC-5"


def test_a_level_page_banner_has_no_control_but_leads_to_the_wall_and_to_live() -> None:
    banner = create_replay_banner(moment=MOMENT, lang="zh", tz=SHANGHAI, live_href="/district/310101",
                                  control=False, wall_href="/wall/310101?at=2026-12-04T03%3A10")
    assert _find(banner, ids.REPLAY_SLIDER) is None and _find(banner, ids.REPLAY_PLAY) is None
    hrefs = [node.href for node in banner._traverse() if isinstance(node, html.A)]
    assert hrefs == ["/wall/310101?at=2026-12-04T03%3A10", "/district/310101"]


def test_at_param_reads_back_to_the_same_minute() -> None:
    text = at_param(AT, SHANGHAI)
    assert text == "2026-12-04T03:10"
    assert parse_at(text, tz=SHANGHAI, now=datetime(2026, 12, 4, 0, 0), kept_from=None) == AT


@pytest.mark.parametrize(("code", "value", "lang", "expected"), [
    ("malformed", "yesterday", "en", "“yesterday” is not a time"),
    ("malformed", "昨天", "zh", "“昨天”不是有效的时间"),
    ("future", "2099-01-01T00:00", "en", "2099-01-01T00:00 is in the future"),
    ("future", "2099-01-01T00:00", "zh", "还没有到来"),
    ("before_history", "2020-01-01T00:00", "en", "before the history the database keeps (oldest: 2026-12-03 20:00"),
    ("speed", "7", "en", "Replay speed “7” is not offered: 1×, 10× or 60×"),
    ("speed", "7", "zh", "回放速度“7”无效"),
])
def test_every_bad_input_gets_its_own_clear_message(code: str, value: str, lang: str, expected: str) -> None:
    block = create_replay_error(code=code, value=value, lang=lang, live_href="/", oldest=datetime(2026, 12, 3, 12, 0),
                                tz=SHANGHAI, oldest_href="/?at=2026-12-03T20:00" if code == "before_history" else None)
    text = _text(block)
    assert expected in text
    links = [node.href for node in block._traverse() if isinstance(node, html.A)]
    assert links[0] == "/" and (len(links) == 2) == (code == "before_history")
    assert block.id == ids.REPLAY_ERROR and "Traceback" not in text


def test_a_long_bad_value_is_shortened_in_its_message() -> None:
    block = create_replay_error(code="malformed", value="9" * 500, lang="en", live_href="/", oldest=None, tz=SHANGHAI)
    assert "9" * 40 + "…" in _text(block) and "9" * 41 not in _text(block)


@pytest.mark.parametrize(("value", "code"), [
    ("not a time", "malformed"), ("2026-13-40T99:99", "malformed"), ("x" * 300, "malformed"),
    ("2099-01-01T00:00", "future"), ("2026-12-01T00:00", "before_history"),
])
def test_the_moment_rule_refuses_with_the_code_its_message_is_chosen_by(value: str, code: str) -> None:
    with pytest.raises(ReplayError) as caught:
        parse_at(value, tz=SHANGHAI, now=datetime(2026, 12, 4, 0, 0), kept_from=datetime(2026, 12, 3, 0, 0))
    assert caught.value.code == code


@pytest.mark.parametrize("value", ["0", "2", "100", "fast", "-1", "1.5"])
def test_speeds_outside_the_control_are_refused(value: str) -> None:
    with pytest.raises(ReplayError) as caught:
        parse_speed(value)
    assert caught.value.code == "speed"


def test_a_kiosk_playlist_never_carries_a_replay_moment() -> None:
    kiosk = parse_kiosk("1", "30", "/?at=2026-12-04T03:10,/wall/310101?lang=en&at=2026-12-04T03:10&speed=60")
    assert kiosk["playlist"] == ["/", "/wall/310101?lang=en"]
    assert live_path("/wall/310101?speed=10&lang=en") == "/wall/310101?lang=en"
    assert live_path("/wall/310101") == "/wall/310101"


def test_a_kiosk_url_with_at_gets_the_url_cleaner_only() -> None:
    parts = create_kiosk_drop()
    store = next(p for p in parts if getattr(p, "id", None) == ids.REPLAY_DROP)
    assert store.data == ["at", "speed"]
    assert REPLAY_CLASS == "cw-replay"
