"""The shift log in Chromium over the simulated day (tests/conftest.py ``log_day``, SQLite): every
entry on the page, the CSV download equal to the table, the kind filter through the URL, a bad
from/to said on the page, and the handover page with its totals."""
from __future__ import annotations

import csv
import io
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dash.testing.composite import DashComposite
from dash.testing.wait import until

from app import create_app
from data_access.settings import Settings
from tests.test_shift_log import ACTIONS, ALARMS, OVERDUE, SCENARIOS

pytestmark = pytest.mark.browser
ZONE = ZoneInfo("Asia/Shanghai")


def _table(dash_duo: DashComposite) -> list[list[str]]:
    return dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#log-table tr'))"
        ".map(tr => Array.from(tr.children).map(c => c.textContent))")


def _local(moment) -> str:
    return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("log_day", ["sqlite"], indirect=True)
def test_shift_log_page_export_filters_and_handover(dash_duo: DashComposite, log_day) -> None:
    _engine, url, minute = log_day
    dash_duo.start_server(create_app(Settings(database_url=url, refresh_s=2.0, feeder=False)))
    start, end = _local(minute - timedelta(minutes=1439)), _local(minute)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/log?lang=en&from={start}&to={end}")
    n = len(ALARMS) + len(SCENARIOS) + len(ACTIONS) + len(OVERDUE)
    until(lambda: len(_table(dash_duo)) == n + 1, timeout=15, msg="every entry of the day")
    table = _table(dash_duo)
    assert table[0] == ["Time", "Kind", "Event", "Area", "Subject", "Status", "Value", "Who", "Detail"]
    assert [r[0] for r in table[1:]] == sorted(r[0] for r in table[1:])  # time order
    dash_duo.wait_for_text_to_equal(".log-summary__count", f"{n} entries")

    # the export is the table: the same header and cells (a formula neutralised with a quote)
    dash_duo.find_element("#log-export").click()
    folder = Path(dash_duo.download_path)
    until(lambda: any(p.stat().st_size > 0 for p in folder.glob("citywall-log-*.csv")), timeout=10, msg="the CSV")
    time.sleep(0.3)
    target = next(folder.glob("citywall-log-*.csv"))
    exported = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"), newline="")))
    assert exported == [table[0], *[[("'" + c if c.startswith(("=", "+", "-", "@")) else c) for c in row]
                                    for row in table[1:]]]

    # kinds: only alarms, through the Show button and the address
    for kind in ("scenario", "action", "overdue", "wall"):
        dash_duo.driver.execute_script(
            "document.querySelector(`#log-kinds input[value='${arguments[0]}']`).click()", kind)
    dash_duo.find_element("#log-apply").click()
    until(lambda: "kind=alarm" in dash_duo.driver.current_url, timeout=10, msg="the filter in the URL")
    until(lambda: len(_table(dash_duo)) == len(ALARMS) + 1, timeout=15, msg="only the alarms")
    assert {r[1] for r in _table(dash_duo)[1:]} == {"Alarm"}

    # a bad from: said on the page, the app keeps serving
    box = dash_duo.find_element("#log-from")
    box.clear()
    box.send_keys("tuesday")
    dash_duo.find_element("#log-apply").click()
    dash_duo.wait_for_contains_text("#log-message", "Not a time", timeout=10)
    assert dash_duo.find_elements("#log-table") == []

    # the handover page of the default shift (the last 8 hours): totals and entries
    dash_duo.wait_for_page(f"{dash_duo.server_url}/log/handover?lang=en")
    dash_duo.wait_for_element("#log-totals", timeout=15)
    eight_hours = sum(1 for m, *_x in ALARMS + SCENARIOS + ACTIONS + OVERDUE if m < 480)
    until(lambda: len(_table(dash_duo)) == eight_hours + 1, timeout=10, msg="the shift's entries")
    totals = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('.log-total')).map(b => b.querySelector('.log-total__n')"
        ".textContent)")
    assert sum(int(x) for x in totals) == eight_hours
    assert dash_duo.find_element("#log-print").text == "Print"
    assert dash_duo.get_logs() == []
