"""The scenario board's and the resource layer's builders (issue 13, items 3 and 5): field resources
read back through v_resources on SQLite and PostgreSQL, a stale position greyed with its age, a
resource without a position listed (never dropped, whatever the list's limit), the incident list's
order and SLA clocks, the status line, the checklist's buttons by role; and the board's parts, with
their digests, from a hand-made ScenarioBoard."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from components.resource_layer import create_resource_list, ordered, resource_features
from components.scenario_board import (
    board_parts,
    create_checklist,
    create_incident_list,
    create_reason,
    create_status,
    incident_order,
    sla_clock,
)
from components.static_html import to_html
from data_access import schema
from data_access.db import init_db, make_engine
from data_access.models import Area, ScenarioActivation, ScenarioBoard, ScenarioEnded
from data_access.sql import read_frame
from data_access.vitals import mark_position_staleness
from tests.conftest import BACKENDS, create_database

NOW = datetime(2026, 12, 3, 6, 0, 0)  # naive UTC (14:00 in Shanghai)
TZ = ZoneInfo("Asia/Shanghai")
NAMES = {"pump_truck": ("排水泵车", "Pump truck"), "patrol": ("巡查队", "Patrol team")}
AREA = Area(area_code="310101", level="district", parent_code="310000", name="黄浦区", name_en="Huangpu",
            center_lat=31.23, center_lon=121.48)

RESOURCES = [  # resource_id, type, status, lat, lon, updated (s before NOW), period_s
    ("r-fresh", "pump_truck", "en_route", 31.23, 121.48, 30, 60),  # 30 s < 2 x 60 s
    ("r-edge", "pump_truck", "idle", 31.22, 121.47, 120, 60),  # exactly 2 x: not yet stale
    ("r-stale", "patrol", "on_site", 31.24, 121.49, 600, 60),  # 10 min > 2 x 60 s: greyed, with its age
    ("r-nopos", "patrol", "idle", None, None, 20, 60),  # no position: listed, never drawn, never dropped
    ("r-off", "patrol", "off_duty", 31.21, 121.46, 10, 30),
]


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url, cleanup = create_database(request.param, tmp_path_factory.mktemp("resources"))
    eng = make_engine(url)
    init_db(eng)
    with eng.begin() as conn:
        conn.execute(schema.resource_types.insert(), [
            dict(resource_type="pump_truck", name="排水泵车", name_en="Pump truck", sort_order=1),
            dict(resource_type="patrol", name="巡查队", name_en="Patrol team", sort_order=2)])
        conn.execute(schema.resources.insert(), [
            dict(resource_id=rid, resource_type=kind, name=f"{rid}队", name_en=rid, status=status, lat=lat, lon=lon,
                 area_code="310101", updated_at=NOW - timedelta(seconds=age), period_s=period,
                 assigned_incident_id="i-1" if status == "en_route" else None)
            for rid, kind, status, lat, lon, age, period in RESOURCES])
    yield eng
    eng.dispose()
    cleanup()


def _resources(engine: Engine) -> pd.DataFrame:
    frame = read_frame(engine, "SELECT * FROM v_resources ORDER BY resource_id")
    frame["updated_at"] = pd.to_datetime(frame["updated_at"])
    return mark_position_staleness(frame, now=NOW)


def test_staleness_of_positions_read_through_the_view(engine: Engine) -> None:
    frame = _resources(engine).set_index("resource_id")
    assert list(frame.index) == ["r-edge", "r-fresh", "r-nopos", "r-off", "r-stale"]
    assert frame["stale"].to_dict() == {"r-edge": False, "r-fresh": False, "r-nopos": False, "r-off": False,
                                        "r-stale": True}
    assert frame["has_position"].to_dict() == {"r-edge": True, "r-fresh": True, "r-nopos": False, "r-off": True,
                                              "r-stale": True}
    assert frame.loc["r-stale", "age_s"] == 600


def test_map_layer_greys_stale_positions_and_draws_no_unplaced_resource(engine: Engine) -> None:
    features = resource_features(_resources(engine), names=NAMES, lang="en")["features"]
    by_id = {f["properties"]["rid"]: f for f in features}
    assert sorted(by_id) == ["r-edge", "r-fresh", "r-off", "r-stale"]  # r-nopos cannot be drawn
    assert by_id["r-stale"]["properties"]["stale"] is True
    assert by_id["r-stale"]["properties"]["pos"] == "position 10 min ago"
    assert by_id["r-fresh"]["properties"]["stale"] is False
    assert by_id["r-fresh"]["properties"]["pos"] == "position 30 s ago"
    assert by_id["r-fresh"]["geometry"]["coordinates"] == [121.48, 31.23]
    assert by_id["r-fresh"]["properties"]["glyph"] == "P"
    assert by_id["r-fresh"]["properties"]["inc"] == "i-1"
    zh = {f["properties"]["rid"]: f["properties"] for f in resource_features(_resources(engine), names=NAMES,
                                                                           lang="zh")["features"]}
    assert zh["r-stale"]["glyph"] == "巡" and zh["r-stale"]["pos"] == "位置过期 10分钟前"


def test_list_puts_unplaced_then_stale_first_and_never_drops_an_unplaced_one(engine: Engine) -> None:
    frame = _resources(engine)
    assert list(ordered(frame)["resource_id"]) == ["r-nopos", "r-stale", "r-fresh", "r-edge", "r-off"]
    html = to_html(create_resource_list(frame, names=NAMES, lang="zh"))
    assert _row(html, "r-nopos") == ("res-row res-row--idle res-row--nopos", "无位置")
    assert _row(html, "r-stale") == ("res-row res-row--on_site res-row--stale", "位置过期 10分钟前")
    assert _row(html, "r-fresh") == ("res-row res-row--en_route res-row--fresh", "位置 30秒前")
    # Limit 1: the one without a position still shows; the rest are counted, never silently gone.
    short = to_html(create_resource_list(frame, names=NAMES, lang="en", limit=1))
    assert short.count("res-row ") == 1 and 'data-resource="r-nopos"' in short and "+ 4 more" in short
    # Three without a position and a limit of 2: all three are listed.
    many = pd.concat([frame] + [frame[frame["resource_id"] == "r-nopos"].assign(resource_id=f"r-nopos-{i}")
                                for i in range(2)], ignore_index=True)
    listed = to_html(create_resource_list(many, names=NAMES, lang="en", limit=2))
    assert listed.count('data-position="nopos"') == 3


def _row(html: str, resource_id: str) -> tuple[str, str] | None:
    """(class, position text) of a resource's row in a list's HTML."""
    found = re.search(r'<div class="(res-row [^"]*)"[^>]*data-resource="' + resource_id +
                      r'"[^>]*>.*?<span class="res-row__pos">([^<]*)</span>', html)
    return (found.group(1), found.group(2)) if found else None


def _incidents() -> pd.DataFrame:
    rows = [  # incident_id, priority, overdue, due (minutes from NOW)
        ("i-late", 2, 1, -90), ("i-soon", 3, 0, 30), ("i-later", 1, 0, 600), ("i-none", 1, 0, None),
        ("i-late2", 1, 1, -5),
    ]
    return pd.DataFrame([dict(incident_id=i, category="waterlogging", subcategory=None, priority=p, status="reported",
                              overdue=od, due_at=None if due is None else NOW + timedelta(minutes=due),
                              reported_at=NOW - timedelta(hours=1), lat=31.23, lon=121.48, title=f"积水 {i}",
                              address="") for i, p, od, due in rows])


def test_incidents_overdue_first_with_sla_clocks() -> None:
    assert list(incident_order(_incidents())["incident_id"]) == ["i-late", "i-late2", "i-soon", "i-later", "i-none"]
    assert sla_clock(NOW - timedelta(minutes=90), 1, NOW, "en") == ("overdue 90 min", "alarm")
    assert sla_clock(NOW + timedelta(minutes=30), 0, NOW, "en") == ("due in 30 min", "warn")
    assert sla_clock(NOW + timedelta(hours=10), 0, NOW, "zh") == ("剩余 10小时", "normal")
    assert sla_clock(None, 0, NOW, "en") == ("no deadline", "none")
    html = to_html(create_incident_list(_incidents(), lang="en", now=NOW, category_names={"waterlogging": "Flood"},
                                        limit=3))
    assert html.index("i-late") < html.index("i-late2") < html.index("i-soon")
    assert "i-later" not in html and "+ 2 more" in html and "Flood" in html


def _board(*, active: bool, steps: pd.DataFrame | None = None) -> ScenarioBoard:
    activation = ScenarioActivation(scenario_id="rainstorm", area_code="310101",
                                    since=NOW - timedelta(minutes=38), reason="indicators",
                                    values=(("rainfall_mm_h", 62.3, "alarm"), ("waterlogging_points", 14.0, "warn")))
    indicators = pd.DataFrame([
        dict(indicator_id="rainfall_mm_h", name="小时降雨量", name_en="Rainfall", unit="mm/h", decimals=1,
             triggers=True, value=62.3, status="alarm", ts=NOW),
        dict(indicator_id="tide_level_m", name="潮位", name_en="Tide level", unit="m", decimals=2, triggers=False,
             value=None, status=None, ts=None)])
    history = pd.DataFrame([dict(indicator_id="rainfall_mm_h", minute=NOW - timedelta(minutes=m), value=v,
                                 status="alarm") for m, v in ((3, 40.0), (2, 55.0), (1, 62.3))])
    readiness = pd.DataFrame([dict(resource_type="pump_truck", name="排水泵车", name_en="Pump truck", idle=1, total=2),
                              dict(resource_type="patrol", name="巡查队", name_en="Patrol team", idle=0, total=3)])
    if steps is None:
        steps = pd.DataFrame([
            dict(step_id="s1", sort_order=1, text="启动防汛预案", text_en="Start the flood plan", role="leader",
                 state="done", principal="wang", at=NOW - timedelta(minutes=20), comment="已通知"),
            dict(step_id="s2", sort_order=2, text="调派泵车", text_en="Send pump trucks", role="supervisor",
                 state=None, principal=None, at=None, comment=None),
            dict(step_id="s3", sort_order=3, text="发布预警", text_en="Issue the warning", role="admin",
                 state=None, principal=None, at=None, comment=None)])
    return ScenarioBoard(
        scenario={"scenario_id": "rainstorm", "name": "暴雨内涝", "name_en": "Rainstorm and waterlogging",
                  "activation_kind": "indicators", "activation_status": "alarm", "activation_minutes": 10},
        area=AREA, activation=activation if active else None,
        last_ended=None if active else ScenarioEnded(scenario_id="rainstorm", area_code="310101",
                                                     since=NOW - timedelta(hours=5), ended=NOW - timedelta(hours=3)),
        indicators=indicators, history=history, incidents=_incidents(),
        resources=pd.DataFrame([dict(resource_id=rid, type=kind, name=rid, name_en=rid, status=status, lat=lat,
                                     lon=lon, area_code="310101", updated_at=NOW - timedelta(seconds=age),
                                     period_s=period, assigned_incident_id=None)
                                for rid, kind, status, lat, lon, age, period in RESOURCES]),
        readiness=readiness, steps=steps, read_at=NOW)


def test_status_and_reason_active_and_inactive() -> None:
    active = to_html(create_status(board=_board(active=True), lang="en", tz=TZ, now=NOW))
    assert "ACTIVE" in active and "since 13:22" in active and "for 38 min" in active and 'data-active="1"' in active
    reason = to_html(create_reason(board=_board(active=True), lang="en", tz=TZ, category_names={}))
    assert "Rainfall" in reason and "62.3 mm/h" in reason and "sb-value--alarm" in reason
    assert "waterlogging_points" in reason and "sb-value--warn" in reason  # not on the board: its id, still shown
    inactive = to_html(create_status(board=_board(active=False), lang="zh", tz=TZ, now=NOW))
    assert "未启动" in inactive and 'data-active="0"' in inactive
    last = to_html(create_reason(board=_board(active=False), lang="zh", tz=TZ, category_names={}))
    assert "上次启动：12-03 09:00 — 12-03 11:00（持续 2小时）" in last


def test_checklist_buttons_by_role_and_state() -> None:
    board = _board(active=True)
    roles = {"leader", "supervisor"}  # a supervisor: may mark leader and supervisor steps, not the admin's
    checklist = create_checklist(steps=board.steps, lang="en", tz=TZ, active=True, can_mark=roles.__contains__)
    buttons = {b.id["id"]: b.disabled for b in _walk(checklist) if getattr(b, "id", None) and isinstance(b.id, dict)
               and b.id.get("type") == "sb-step-done"}
    assert buttons == {"s1": True, "s2": False}  # s1 already done; s3 is the admin's: no button at all
    wall = create_checklist(steps=board.steps, lang="en", tz=TZ, active=True, can_mark=lambda _role: False)
    assert not [c for c in _walk(wall) if getattr(c, "id", None) == "sb-comment"]
    inactive = create_checklist(steps=board.steps, lang="en", tz=TZ, active=False, can_mark=roles.__contains__)
    assert all(b.disabled for b in _walk(inactive) if isinstance(getattr(b, "id", None), dict)
               and b.id.get("type") in ("sb-step-done", "sb-step-skip"))


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        if hasattr(child, "to_plotly_json"):
            yield from _walk(child)


def test_board_parts_counts_and_digests() -> None:
    board = _board(active=True)
    resources = mark_position_staleness(board.resources, now=NOW)
    parts = board_parts(board=board, resources=resources, lang="zh", tz=TZ, now=NOW, type_names=NAMES,
                        category_names={"waterlogging": "积水"})
    assert parts.active and parts.step_marked == {"s1": True, "s2": False, "s3": False}
    assert parts.parts["incidents_n"].to_plotly_json()["props"]["data-count"] == "5"
    assert parts.parts["incidents_n"].to_plotly_json()["props"]["data-overdue"] == "2"
    counts = parts.parts["resources_n"].to_plotly_json()["props"]
    assert (counts["data-count"], counts["data-idle"], counts["data-on-site"]) == ("5", "2", "1")
    assert len(parts.parts["points"]["features"]) == 5 and len(parts.parts["markers"]["features"]) == 4
    indicators = to_html(parts.parts["indicators"])
    assert "tile--alarm" in indicators and "tile--stale" in indicators  # no value: greyed, never a fresh number
    again = board_parts(board=board, resources=resources, lang="zh", tz=TZ, now=NOW, type_names=NAMES,
                        category_names={"waterlogging": "积水"})
    assert again.digests() == parts.digests()  # an unchanged board sends nothing again
    later = board_parts(board=board, resources=resources, lang="zh", tz=TZ, now=NOW + timedelta(minutes=5),
                        type_names=NAMES, category_names={"waterlogging": "积水"})
    changed = {k for k, v in later.digests().items() if parts.digests()[k] != v}
    assert changed == {"status", "incidents"}  # the elapsed time and the SLA clocks moved



def test_board_addresses() -> None:
    from components.links import own_path, scenario_href

    assert scenario_href("rainstorm", "310115", lang="en", kiosk="") == "/scenario/rainstorm/310115?lang=en"
    assert scenario_href("gas") == "/scenario/gas"
    assert own_path("/scenario/gas/310104?kiosk=1") == "/scenario/gas/310104?kiosk=1"  # a kiosk playlist may hold it
    assert own_path("/scenario/gas/310104/x") is None
