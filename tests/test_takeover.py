"""Issue 13, item 4: the wall's takeover. The store a wall's reply carries (components/takeover.py,
pure), its place in the wall's per-tick render and delta, and the board's way back to a kiosk
wall (pages/_takeover.py)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from components.takeover import takeover_state
from components.wall import WallRender, render_wall, wall_delta
from data_access.models import Area, HealthScore, ScenarioActivation, WallSnapshot
from pages._takeover import board_return

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 7, 1, 8, 30)  # naive UTC: 16:30 in Shanghai
SCENARIOS = pd.DataFrame([
    {"scenario_id": "rainstorm", "name": "暴雨内涝", "name_en": "Rainstorm and waterlogging", "sort_order": 10},
    {"scenario_id": "gas", "name": "燃气安全", "name_en": "Gas safety", "sort_order": 30},
])
SCENARIO_INDICATORS = pd.DataFrame([
    {"scenario_id": "rainstorm", "indicator_id": "rainfall_mm_h", "triggers": True},
    {"scenario_id": "rainstorm", "indicator_id": "waterlogging_points", "triggers": True},
    {"scenario_id": "rainstorm", "indicator_id": "tide_level_m", "triggers": False},
    {"scenario_id": "gas", "indicator_id": "gas_leak_alarms", "triggers": True},
])
INDICATORS = pd.DataFrame([
    {"indicator_id": "rainfall_mm_h", "name": "降雨强度", "name_en": "Rainfall", "unit": "mm/h", "decimals": 1},
    {"indicator_id": "waterlogging_points", "name": "积水点", "name_en": "Waterlogging points", "unit": "",
     "decimals": 0},
])
AREAS = {"310101": ("黄浦区", "Huangpu"), "310104": ("徐汇区", "Xuhui")}
RAIN = ScenarioActivation(scenario_id="rainstorm", area_code="310101", since=datetime(2026, 7, 1, 8, 12),
                          reason="indicators", values=(("rainfall_mm_h", 81.26, "alarm"),
                                                       ("waterlogging_points", 12.0, "alarm")))
GAS = ScenarioActivation(scenario_id="gas", area_code="310104", since=datetime(2026, 6, 30, 9, 0),
                         reason="incidents", values=(("gas", 6.0, None),))


def _state(active, pending, lang="zh"):
    return takeover_state(scope_code="310000", active=active, pending=pending, scenarios=SCENARIOS,
                          scenario_indicators=SCENARIO_INDICATORS, indicators=INDICATORS,
                          area_label=lambda code: AREAS[code][0 if lang == "zh" else 1],
                          board_href=lambda s, a: f"/scenario/{s}/{a}", lang=lang, tz=TZ, now=NOW,
                          categories={"gas": "燃气" if lang == "zh" else "Gas"})


def test_the_store_names_the_scenario_the_area_the_reason_with_values_and_since_when() -> None:
    state = _state([GAS, RAIN], [RAIN])
    assert state["scope"] == "310000"
    first, second = state["items"]
    assert first == {"key": "rainstorm:310101", "scenario_id": "rainstorm", "area_code": "310101",
                     "name": "暴雨内涝", "area": "黄浦区",
                     "reason": "指标触发：降雨强度 81.3 mm/h ◆告警、积水点 12 ◆告警",
                     "since": "16:12 起", "pending": True, "href": "/scenario/rainstorm/310101"}
    # acknowledged (not pending) comes after; an activation of another day gives its date
    assert second["pending"] is False and second["since"] == "06-30 17:00 起"
    assert second["reason"] == "事件触发：燃气 6起"
    assert state["board"] == "/scenario/rainstorm/310101"  # a kiosk wall opens the pending one's board
    assert state["marked"] == ["gas_leak_alarms", "rainfall_mm_h", "tide_level_m", "waterlogging_points"]
    en = _state([RAIN], [RAIN], lang="en")["items"][0]
    assert (en["name"], en["area"], en["since"]) == ("Rainstorm and waterlogging", "Huangpu", "since 16:12")
    assert en["reason"] == "Indicators: Rainfall 81.3 mm/h ◆alarm, Waterlogging points 12 ◆alarm"


def test_nothing_pending_opens_no_board_and_nothing_active_marks_nothing() -> None:
    acked = _state([RAIN], [])
    assert acked["board"] is None and acked["items"][0]["pending"] is False
    quiet = _state([], [])
    assert (quiet["items"], quiet["marked"], quiet["board"], quiet["more"]) == ([], [], None, 0)


def test_manual_and_unknown_names_never_fail() -> None:
    manual = ScenarioActivation(scenario_id="unlisted", area_code="310101", since=None, reason="manual",
                                values=(), started_by="duty-chief")
    item = _state([manual], [manual], lang="en")["items"][0]
    assert item["name"] == "unlisted" and item["reason"] == "Started manually (duty-chief)"
    assert item["since"] == "over 24 h"
    odd = ScenarioActivation(scenario_id="rainstorm", area_code="310101", since=None, reason="indicators",
                             values=(("no_such_indicator", None, None), ("a", 1.0, "warn"), ("b", 2.0, "warn"),
                                     ("c", 3.0, "warn")))
    assert _state([odd], [])["items"][0]["reason"] == "指标触发：no_such_indicator —、a 1.0 ▲预警、b 2.0 ▲预警、等1项"


def _snapshot() -> WallSnapshot:
    area = Area(area_code="310101", level="district", parent_code="310000", name="黄浦区", name_en="Huangpu",
                center_lat=None, center_lon=None)
    return WallSnapshot(area=area, vitals=pd.DataFrame(), sparks={},
                        health=HealthScore(overall=None, by_dimension={}, trend=[]), alarms=[], counts=None,
                        hotline={}, newest_reading=None, read_at=NOW, failed=frozenset({"strip"}))


def test_the_takeover_rides_the_wall_s_delta_once_and_again_when_it_changes() -> None:
    catalogue = pd.DataFrame(columns=["indicator_id", "dimension"])
    store = _state([RAIN], [RAIN])
    first = render_wall(_snapshot(), catalogue, "zh", tick=1, tz=TZ, takeover=store)
    assert wall_delta(first, None)["takeover"] == store  # a new screen gets it
    same = render_wall(_snapshot(), catalogue, "zh", tick=2, tz=TZ, takeover=_state([RAIN], [RAIN]))
    assert wall_delta(same, first.signatures)["takeover"] is None  # unchanged: not sent again
    acked = render_wall(_snapshot(), catalogue, "zh", tick=3, tz=TZ, takeover=_state([RAIN], []))
    assert wall_delta(acked, same.signatures)["takeover"]["board"] is None
    unknown = render_wall(_snapshot(), catalogue, "zh", tick=4, tz=TZ, takeover=None)  # state unreadable
    assert isinstance(unknown, WallRender) and wall_delta(unknown, acked.signatures)["takeover"] is None


def test_a_board_goes_back_only_to_this_app_s_own_pages() -> None:
    ok = board_return(scenario_id="rainstorm", area_code="310101", kiosk="1", takeover="310101",
                      back="/wall/310101?kiosk=1&rotate=10", refresh_s=1)
    store = ok.children[0]
    assert store.data == {"scenario_id": "rainstorm", "area_code": "310101", "scope_code": "310101",
                          "back": "/wall/310101?kiosk=1&rotate=10"}
    for back in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)", "/nowhere", None):
        assert board_return(scenario_id="rainstorm", area_code="310101", kiosk="1", takeover="310101",
                            back=back, refresh_s=1) is None, back
    assert board_return(scenario_id="rainstorm", area_code="310101", kiosk=None, takeover="310101",
                        back="/wall/310101", refresh_s=1) is None  # not a kiosk: a person's board stays
    assert board_return(scenario_id="rainstorm", area_code="310101", kiosk="1", takeover="<script>",
                        back="/wall/310101", refresh_s=1) is None
