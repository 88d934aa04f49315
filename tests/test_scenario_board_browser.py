"""The scenario board in Chromium against a real database and a real app process (issue 13, items
3 and 5): its counts equal the views (v_open_incidents, v_resources), a stale position is greyed on
the map and in the list, a resource without a position is listed, at 1080p and 4K with no
scrollbars, zh and en; unknown scenarios and areas get a refusal; the street page carries the
same resource layer; the browser logs nothing."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema
from data_access.db import init_db, make_engine, utc_now
from tests.conftest import AppProcess, page_overflow
from tests.fixtures import seed_small_city

pytestmark = pytest.mark.browser
REFRESH_S = 1.0
DISTRICT, STREET = "100100", "100100001"
CATEGORIES = ("gas", "noise")


def seed_scenario(engine: Engine) -> None:
    """A manual scenario started 25 minutes ago in the district 100100 (its state needs no history),
    its categories, resource types, five resources (a stale one, one without a position, one of
    another type that the board leaves out) and three steps, one of them done."""
    now = utc_now()
    with engine.begin() as conn:
        conn.execute(schema.scenarios.insert().values(
            scenario_id="drill", name="综合演练", name_en="Drill", description="", description_en="",
            area_level="district", activation_kind="manual", sort_order=1))
        conn.execute(schema.scenario_indicators.insert(), [
            dict(scenario_id="drill", indicator_id="power_load", triggers=False, sort_order=1)])
        conn.execute(schema.scenario_categories.insert(), [
            dict(scenario_id="drill", category=c, subcategory=None) for c in CATEGORIES])
        conn.execute(schema.resource_types.insert(), [
            dict(resource_type="patrol", name="巡查队", name_en="Patrol team", sort_order=1),
            dict(resource_type="pump_truck", name="排水泵车", name_en="Pump truck", sort_order=2),
            dict(resource_type="ambulance", name="救护车", name_en="Ambulance", sort_order=3)])
        conn.execute(schema.scenario_resource_types.insert(), [
            dict(scenario_id="drill", resource_type="patrol"), dict(scenario_id="drill", resource_type="pump_truck")])
        conn.execute(schema.resources.insert(), [
            dict(resource_id=rid, resource_type=kind, name=f"{rid}号", name_en=f"Unit {rid}", status=status,
                 lat=lat, lon=lon, area_code=area, updated_at=now - timedelta(seconds=age), period_s=period)
            for rid, kind, status, lat, lon, area, age, period in [
                # far apart (tens of km): no cluster merges them at the test city's zoom
                ("r-fresh", "patrol", "en_route", 31.0, 121.2, STREET, 0, 3600),
                ("r-stale", "patrol", "on_site", 31.5, 121.7, STREET, 1800, 60),
                ("r-nopos", "pump_truck", "idle", None, None, DISTRICT, 0, 3600),
                ("r-idle", "pump_truck", "idle", 31.3, 121.95, DISTRICT, 0, 3600),
                ("r-other", "ambulance", "idle", 30.85, 121.8, DISTRICT, 0, 3600),
            ]])
        conn.execute(schema.scenario_steps.insert(), [
            dict(scenario_id="drill", step_id=f"s{i}", sort_order=i, text=text, text_en=text_en, role=role)
            for i, text, text_en, role in [(1, "通知值班领导", "Call the duty leader", "supervisor"),
                                           (2, "调派巡查队", "Send patrol teams", "supervisor"),
                                           (3, "发布提示", "Issue a notice", "leader")]])
        conn.execute(schema.operator_actions.insert(), [
            dict(at=now - timedelta(minutes=25), principal="zhang", role="supervisor", screen="/scenario/drill",
                 kind="manual_start", scenario_id="drill", area_code=DISTRICT, step_id=None, step_state=None,
                 comment=None, activation_since=None, request_id="r" * 32),  # the same keys in every row
            dict(at=now - timedelta(minutes=20), principal="zhang", role="supervisor", screen="/scenario/drill",
                 kind="step", scenario_id="drill", area_code=DISTRICT, step_id="s1", step_state="done",
                 comment="已通知", activation_since=now - timedelta(minutes=25), request_id="s" * 32)])


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("scenario") / "scenario.db"
    eng = make_engine(f"sqlite:///{path}")
    init_db(eng)
    seed_small_city(eng)
    seed_scenario(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def app_process(engine: Engine) -> Iterator[AppProcess]:
    proc = AppProcess({"CITYWALL_DATABASE_URL": str(engine.url), "CITYWALL_REFRESH_S": str(REFRESH_S),
                       "CITYWALL_FEEDER": "0", "CITYWALL_LANG": "zh"})
    proc.start()
    yield proc
    proc.stop()


def _view_counts(engine: Engine) -> dict[str, int]:
    """What the board must show, straight from the views."""
    marks = ", ".join(f"'{c}'" for c in CATEGORIES)
    with engine.connect() as conn:
        def one(sql: str) -> int:
            return int(conn.execute(sa.text(sql)).scalar_one())
        areas = f"('{DISTRICT}', '{STREET}', '100100002')"
        return {
            "incidents": one(f"SELECT COUNT(*) FROM v_open_incidents WHERE district_code = '{DISTRICT}' "
                             f"AND category IN ({marks})"),
            "overdue": one(f"SELECT COUNT(*) FROM v_open_incidents WHERE district_code = '{DISTRICT}' "
                           f"AND category IN ({marks}) AND overdue = 1"),
            "resources": one(f"SELECT COUNT(*) FROM v_resources WHERE area_code IN {areas} "
                             "AND type IN ('patrol', 'pump_truck')"),
            "idle": one(f"SELECT COUNT(*) FROM v_resources WHERE area_code IN {areas} "
                        "AND type IN ('patrol', 'pump_truck') AND status = 'idle'"),
        }


def _attr(browser, selector: str, name: str) -> str | None:
    return browser.driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
        selector, name)


@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160)])
def test_board_counts_equal_the_views_stale_greyed_unplaced_listed(browser, open_at_size, app_process: AppProcess,
                                                                  engine: Engine, size: tuple[int, int]) -> None:
    expected = _view_counts(engine)
    assert expected == {"incidents": 3, "overdue": 2, "resources": 4, "idle": 2}  # the fixture, as written
    open_at_size(f"{app_process.url}/scenario/drill/{DISTRICT}", size)
    browser.wait_for_element(".sb-status--active", timeout=15)
    assert browser.find_element(".status-bar h1").text == "综合演练 · 东区"
    assert _attr(browser, "#sb-incidents-n .sb-count", "data-count") == str(expected["incidents"])
    assert _attr(browser, "#sb-incidents-n .sb-count", "data-overdue") == str(expected["overdue"])
    assert _attr(browser, "#sb-resources-n .sb-count", "data-count") == str(expected["resources"])
    assert _attr(browser, "#sb-resources-n .sb-count", "data-idle") == str(expected["idle"])
    assert len(browser.find_elements("#sb-incidents .sb-inc")) == expected["incidents"]
    first = browser.find_elements("#sb-incidents .sb-inc")[0]
    assert first.get_attribute("data-incident") == "i3" and "sb-inc--alarm" in first.get_attribute("class")
    # The stale position: a greyed marker on the map, a greyed row with its age in the list.
    browser.wait_for_element(".res-marker--stale.res-marker-id-r-stale", timeout=10)
    assert browser.find_elements(".res-marker-id-r-fresh") and not browser.find_elements(".res-marker-id-r-nopos")
    row = browser.find_element('#sb-resources [data-resource="r-stale"]')
    assert "res-row--stale" in row.get_attribute("class") and "30分钟前" in row.text
    # The resource without a position: listed, first, saying so.
    rows = browser.find_elements("#sb-resources .res-row")
    assert rows[0].get_attribute("data-resource") == "r-nopos" and "无位置" in rows[0].text
    assert not browser.find_elements('#sb-resources [data-resource="r-other"]')  # not one of its types
    # The checklist: the done step with who and when, the others open with their buttons.
    info = browser.find_element('[data-step="s1"] .sb-step__info')
    assert info.get_attribute("data-state") == "done" and "zhang" in info.text
    assert _attr(browser, '[data-step="s2"] .sb-button--done', "disabled") is None
    assert _attr(browser, '[data-step="s1"] .sb-button--done', "disabled") is not None
    assert _attr(browser, "#sb-checklist-n .sb-count", "data-done") == "1"
    # Refreshed each tick: the badge says LIVE.
    browser.wait_for_text_to_equal("#connection-badge", "在线", timeout=3 * REFRESH_S + 5)
    assert page_overflow(browser) == [0, 0]
    assert browser.get_logs() == []


def test_board_in_english_and_inactive_board_shows_readiness(browser, app_process: AppProcess) -> None:
    browser.driver.get(f"{app_process.url}/scenario/drill/100200?lang=en&kiosk=1&rotate=60")  # stray params too
    browser.wait_for_element(".sb-status--inactive", timeout=15)
    assert "NOT ACTIVE" in browser.find_element(".sb-status").text
    assert "Not activated in the kept window" in browser.find_element("#sb-reason").text
    ready = browser.find_elements("#sb-readiness .sb-ready")
    assert [r.get_attribute("data-type") for r in ready] == ["patrol", "pump_truck"]
    assert all(r.get_attribute("data-total") == "0" for r in ready)  # none of them in the west district
    assert page_overflow(browser) == [0, 0]
    assert browser.get_logs() == []


@pytest.mark.parametrize("path, text", [
    ("/scenario/nosuch/100100", "没有编号为 nosuch 的应用场景"),
    ("/scenario/drill/999999", "999999"),
    ("/scenario/%27%3B--/100100", "应用场景"),
])
def test_unknown_scenario_or_area_gets_a_refusal(browser, app_process: AppProcess, path: str, text: str) -> None:
    browser.driver.get(app_process.url + path)
    browser.wait_for_element(".cw-refused", timeout=15)
    assert text in browser.find_element(".cw-refused").text
    assert not browser.find_elements(".sb")
    assert [e for e in browser.get_logs() if "status of 404" not in e["message"]] == []


def test_street_page_carries_the_resource_layer(browser, app_process: AppProcess) -> None:
    browser.driver.get(f"{app_process.url}/street/{STREET}")
    browser.wait_for_element(".res-marker--stale.res-marker-id-r-stale", timeout=15)
    assert browser.find_element(".res-marker-id-r-fresh").text == "巡"  # its type's glyph (v_resource_types)
    assert not browser.find_elements(".res-marker-id-r-idle")  # the district's own: not on the street's map
    assert browser.get_logs() == []


def test_marking_a_step_goes_through_the_action_module_and_shows_who(browser, app_process: AppProcess,
                                                                      engine: Engine) -> None:
    browser.driver.get(f"{app_process.url}/scenario/drill/{DISTRICT}?lang=en")
    browser.wait_for_element('[data-step="s2"] .sb-button--done', timeout=15)
    browser.find_element("#sb-comment").send_keys("two teams sent")
    browser.find_element('[data-step="s2"] .sb-button--done').click()
    browser.wait_for_contains_text("#sb-mark-result", "done", timeout=10)
    # The next ticks show it: state, who (auth off: the local admin), the comment; its buttons go off.
    browser.wait_for_element('[data-step="s2"] .sb-step__info[data-state="done"]', timeout=3 * REFRESH_S + 5)
    assert "two teams sent" in browser.find_element('[data-step="s2"] .sb-step__info').text
    until_disabled = browser.driver.execute_script(
        "return document.querySelector('[data-step=\"s2\"] .sb-button--done').disabled")
    assert until_disabled is True
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT principal, kind, step_id, step_state, comment, screen"
                                   " FROM v_operator_actions"
                                   " WHERE step_id = 's2'")).one()
    assert (row.kind, row.step_state, row.comment) == ("step", "done", "two teams sent")
    assert row.screen.startswith(f"/scenario/drill/{DISTRICT}")
    assert browser.get_logs() == []
