"""The incident map in Chromium: drill-down by clicking polygons, the breadcrumb, back and forward,
the map's counts against the views, not-found pages, no tile server. One app server, one walk."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from dash.testing.composite import DashComposite
from dash.testing.wait import until

from app import create_app
from data_access.db import init_db, make_engine
from data_access.settings import Settings
from tests.test_incident_queries import C_NJ2, CITY, HUANGPU, NANJING, seed_map_city

pytestmark = pytest.mark.browser

# A point where a real click lands on the element itself (not on a shape drawn over it).
_VISIBLE_POINT = """
const el = document.querySelector(arguments[0]);
if (!el) { return null; }
const r = el.getBoundingClientRect();
for (let n = 8; n <= 40; n += 8) {
  for (let i = 1; i < n; i++) { for (let j = 1; j < n; j++) {
    const x = r.left + r.width * i / n, y = r.top + r.height * j / n;
    if (document.elementFromPoint(x, y) === el) { return [x, y]; }
  } }
}
return null;
"""


def _mouse(dash_duo: DashComposite, selector: str, *, click: bool) -> None:
    """A real mouse move (and click) at a visible point of ``selector``, through Chrome's input events."""
    point = until(lambda: dash_duo.driver.execute_script(_VISIBLE_POINT, selector), timeout=10)
    x, y = point
    cdp = dash_duo.driver.execute_cdp_cmd
    cdp("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
    if click:
        for kind in ("mousePressed", "mouseReleased"):
            cdp("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})


def _path(dash_duo: DashComposite, path: str) -> None:
    until(lambda: dash_duo.driver.current_url.split("?")[0].endswith(path), timeout=10,
          msg=f"expected {path}, at {dash_duo.driver.current_url}")


def _crumbs(dash_duo: DashComposite) -> list[str]:
    return dash_duo.driver.execute_script(  # one atomic read: the page may be re-rendering
        "return Array.from(document.querySelectorAll('.cw-crumbs .cw-crumb')).map(e => e.textContent)")


def _view_counts(engine: sa.Engine) -> tuple[dict, dict]:
    with engine.connect() as conn:
        areas = {r.area_code: (r.open, r.overdue) for r in conn.execute(sa.text(
            "SELECT area_code, open, overdue FROM v_incident_counts"))}
        cells = {r.cell_id: (r.open, r.overdue) for r in conn.execute(sa.text(
            "SELECT cell_id, open, overdue FROM v_incident_cells"))}
    return areas, cells


def test_drill_down_breadcrumb_history_counts_and_not_found(dash_duo: DashComposite, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'map.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_map_city(engine)
    areas, cells = _view_counts(engine)
    dash_duo.start_server(create_app(Settings(database_url=url, refresh_s=2.0, feeder=False)))

    # the city: districts with their counts, no tile server at all
    dash_duo.wait_for_page(f"{dash_duo.server_url}/city")
    dash_duo.wait_for_element(f"path.cw-area-{HUANGPU}", timeout=15)
    label = f'.cw-area-label .cw-tip[data-code="{HUANGPU}"]'
    dash_duo.wait_for_text_to_equal(f"{label} .cw-n-open", str(areas[HUANGPU][0]))
    assert dash_duo.find_element(f"{label} .cw-n-overdue").text == str(areas[HUANGPU][1])
    assert len(dash_duo.find_elements("path.cw-area")) == 16
    assert dash_duo.find_elements(".leaflet-tile-pane img, .leaflet-tile") == []
    assert dash_duo.driver.execute_script(
        "return Array.from(document.images)"
        ".filter(i => /^https?:/.test(i.src) && !i.src.startsWith(location.origin)).length"
    ) == 0
    assert _crumbs(dash_duo) == ["上海市"]
    # a cell's tooltip shows the view's counts
    _mouse(dash_duo, f"path.cw-cell-id-{C_NJ2}", click=False)
    tip = f'.leaflet-tooltip .cw-tip[data-cell="{C_NJ2}"]'
    dash_duo.wait_for_text_to_equal(f"{tip} .cw-n-open", str(cells[C_NJ2][0]))
    assert dash_duo.find_element(f"{tip} .cw-n-overdue").text == str(cells[C_NJ2][1])

    # click the district's polygon: its page, with its streets and their counts
    _mouse(dash_duo, f"path.cw-area-{HUANGPU}", click=True)
    _path(dash_duo, f"/district/{HUANGPU}")
    dash_duo.wait_for_element(f"path.cw-area-{NANJING}", timeout=15)
    until(lambda: _crumbs(dash_duo) == ["上海市", "黄浦区"], timeout=10)
    street_label = f'.cw-area-label .cw-tip[data-code="{NANJING}"]'
    dash_duo.wait_for_text_to_equal(f"{street_label} .cw-n-open", str(areas[NANJING][0]))
    assert dash_duo.find_element(f"{street_label} .cw-n-overdue").text == str(areas[NANJING][1])

    # click the street: its page, its points (clustered or not) add up to its open incidents
    _mouse(dash_duo, f"path.cw-area-{NANJING}", click=True)
    _path(dash_duo, f"/street/{NANJING}")
    dash_duo.wait_for_element(f"path.cw-area-{NANJING}", timeout=15)
    until(lambda: _crumbs(dash_duo) == ["上海市", "黄浦区", "南京东路街道"], timeout=10)
    count_points = ("return document.querySelectorAll('path.cw-point').length + Array.from("
                    "document.querySelectorAll('.cw-cluster span')).reduce((n, s) => n + Number(s.textContent), 0)")
    until(lambda: dash_duo.driver.execute_script(count_points) == 4, timeout=10)
    assert dash_duo.find_element('.kpi[data-kpi="open"] .kpi__value').text == str(areas[NANJING][0])

    # back, back, forward
    dash_duo.driver.back()
    _path(dash_duo, f"/district/{HUANGPU}")
    until(lambda: _crumbs(dash_duo) == ["上海市", "黄浦区"], timeout=10)
    dash_duo.driver.back()
    _path(dash_duo, "/city")
    until(lambda: _crumbs(dash_duo) == ["上海市"], timeout=10)
    dash_duo.driver.forward()
    _path(dash_duo, f"/district/{HUANGPU}")
    until(lambda: _crumbs(dash_duo) == ["上海市", "黄浦区"], timeout=10)

    # the breadcrumb's links lead up
    dash_duo.wait_for_page(f"{dash_duo.server_url}/street/{NANJING}")
    dash_duo.wait_for_element("#cw-crumb-district", timeout=15).click()
    _path(dash_duo, f"/district/{HUANGPU}")
    until(lambda: _crumbs(dash_duo) == ["上海市", "黄浦区"], timeout=10)
    dash_duo.wait_for_element("#cw-crumb-city").click()
    _path(dash_duo, "/city")
    dash_duo.wait_for_element(f"path.cw-area-{HUANGPU}", timeout=15)

    # unknown, malformed and wrong-level codes: a friendly page with the way up
    for path, up, instead in (("/district/999999", "/city", None), ("/street/abc", "/city", None),
                              (f"/district/{NANJING}", "/city", f"/street/{NANJING}"),
                              ("/district/%27%3B--", "/city", None)):
        dash_duo.wait_for_page(f"{dash_duo.server_url}{path}")
        link = dash_duo.wait_for_element("#cw-nf-up", timeout=10)
        assert link.get_attribute("href").endswith(up), path
        assert dash_duo.find_element("#cw-nf-message").text, path
        if instead:
            assert dash_duo.find_element("#cw-nf-instead").get_attribute("href").endswith(instead)
    dash_duo.find_element("#cw-nf-up").click()
    _path(dash_duo, "/city")
    dash_duo.wait_for_element(f"path.cw-area-{HUANGPU}", timeout=15)
    assert CITY in dash_duo.find_element(".cw-map").get_attribute("data-code")

    # The bad addresses answer 404 (docs/security.md); Chromium logs those, nothing else may be logged.
    assert [e for e in dash_duo.get_logs() if "status of 404" not in e["message"]] == []
    engine.dispose()
