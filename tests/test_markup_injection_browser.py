"""Issue 12, item 9, in Chromium against the real app: area and category names never become
markup. A name with a blank line, Markdown bold, a link and an image shows as that exact text in
the display-only panels (components/static_html.py) and in the ranking (a React text child, no
Markdown), with no <strong>, no link or image to evil.example and no CSP violation."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from dash.testing.composite import DashComposite
from dash.testing.wait import until

from app import create_app
from components.static_html import static_panel
from data_access.db import init_db, make_engine
from data_access.settings import Settings
from tests.fixtures import seed_small_city
from tests.test_security_browser import REPORT_CSP

pytestmark = pytest.mark.browser
NAME = "East\n\n**bold** [phish](https://evil.example) ![x](https://evil.example/x.png)"
STREET = "Jia\n\n[click](https://evil.example/street) **loud**\r\n\r\n<b>x</b>"
CATEGORY = "Noise\n\n![x](https://evil.example/cat.png) **bold**"

FOUND = """
return {
  strong: document.querySelectorAll('strong, em').length,
  evilLinks: Array.from(document.querySelectorAll('a')).filter(a => /evil/.test(a.getAttribute('href') || '')).length,
  images: Array.from(document.querySelectorAll('img')).filter(i => /evil/.test(i.getAttribute('src') || '')).length,
  csp: window.__csp || null,
};
"""


def _texts(dash_duo: DashComposite, selector: str) -> list[str]:
    return dash_duo.driver.execute_script(
        f"return Array.from(document.querySelectorAll({json.dumps(selector)})).map(e => e.textContent);")


def test_static_panel_html_is_one_line() -> None:
    from dash import html

    panel = static_panel(html.Span(NAME, title=CATEGORY))
    assert "\n" not in panel.children and "\r" not in panel.children
    assert "&#10;&#10;**bold**" in panel.children


def test_names_never_become_markup(dash_duo: DashComposite, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'names.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_small_city(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE areas SET name_en = :n WHERE area_code = '100100'"), {"n": NAME})
        conn.execute(sa.text("UPDATE areas SET name_en = :n WHERE area_code = '100100001'"), {"n": STREET})
        conn.execute(sa.text("UPDATE incident_categories SET category_name_en = :n WHERE category = 'noise'"),
                     {"n": CATEGORY})
    engine.dispose()
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": REPORT_CSP})
    dash_duo.start_server(create_app(Settings(database_url=url, refresh_s=2.0, feeder=False)))

    # the city: the districts' ranking names the district
    dash_duo.wait_for_page(f"{dash_duo.server_url}/city?lang=en")
    until(lambda: NAME in _texts(dash_duo, ".cw-rank .ag-row [col-id='name']"), timeout=20, msg="ranking name")
    link = dash_duo.find_element(".cw-rank a.cw-rank__link")
    assert link.get_attribute("href").endswith("/district/100100?lang=en")
    found = dash_duo.driver.execute_script(FOUND)
    assert found == {"strong": 0, "evilLinks": 0, "images": 0, "csp": []}, found

    # the district (reached through the ranking's link): its categories panel and its streets' ranking
    link.click()
    until(lambda: CATEGORY in _texts(dash_duo, ".cw-barrow__label"), timeout=20, msg="category label")
    until(lambda: STREET in _texts(dash_duo, ".cw-rank .ag-row [col-id='name']"), timeout=20, msg="street name")
    label = dash_duo.find_element(".cw-barrow__label")
    assert CATEGORY in [e.get_attribute("title") for e in dash_duo.find_elements(".cw-barrow__label")], label
    assert dash_duo.driver.execute_script("return document.querySelectorAll('.cw-html__root').length") >= 3
    found = dash_duo.driver.execute_script(FOUND)
    assert found == {"strong": 0, "evilLinks": 0, "images": 0, "csp": []}, found
    assert dash_duo.get_logs() == []
