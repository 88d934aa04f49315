"""The shift log (issue 15, item 3) over a simulated day (tests/conftest.py ``log_day``: the scenario
city of issue 13 plus tests/fixtures.py seed_log_day) on SQLite and PostgreSQL: every alarm
transition, scenario change and operator action the day holds is in the log once, in time order,
as written out here; the area and kind filters; the window's rules for from/to; the CSV export is
the page's table, cell for cell."""
from __future__ import annotations

import base64
import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from data_access import schema
from data_access.models import ShiftWindow
from data_access.scenarios import scenario_history
from data_access.shift_log import ShiftLogError, load_shift_log, parse_kinds, parse_window

ZONE = ZoneInfo("Asia/Shanghai")

# (minutes ago, area, indicator, from status, to status, value before, value after, event)
ALARMS = [
    (1200, "100100", "noise_db", "normal", "warn", 50, 70, "raised"),
    (1140, "100100", "noise_db", "warn", "alarm", 70, 90, "raised"),
    (1110, "100100", "noise_db", "alarm", "warn", 90, 70, "cleared"),
    (1080, "100100", "noise_db", "warn", "normal", 70, 50, "cleared"),
    (690, "100200001", "noise_db", "normal", "alarm", 50, 90, "raised"),
    (680, "100200001", "noise_db", "alarm", "normal", 90, 50, "cleared"),
    (45, "100100", "rain_mm_h", "normal", "warn", 10, 40, "raised"),
    (40, "100200", "rain_mm_h", "normal", "alarm", 10, 60, "raised"),
    (38, "100200", "rain_mm_h", "alarm", "normal", 60, 10, "cleared"),
    (34, "100100", "rain_mm_h", "warn", "normal", 40, 10, "cleared"),
    (20, "100100", "rain_mm_h", "normal", "alarm", 10, 60, "raised"),
    (14, "100100", "rain_mm_h", "alarm", "normal", 60, 10, "cleared"),
    (10, "100300", "rain_mm_h", "normal", "alarm", 10, 70, "raised"),
    (4, "100200", "rain_mm_h", "normal", "alarm", 10, 60, "raised"),
]
# (minutes ago, scenario, area, start|end, why, who)
SCENARIOS = [
    (1200, "gas", "100300", "start", "manual", "ops.zhao"),
    (1150, "gas", "100300", "end", "manual", "ops.zhao"),
    (40, "gas", "100100", "start", "manual", "ops.li"),
    (30, "gas", "100100", "end", "manual", "ops.li"),
    (24, "crowd", "100100001", "start", "incidents", None),
    (18, "storm", "100100", "start", "indicators", None),
    (17, "crowd", "100100001", "end", "rule", None),
    (15, "gas", "100200", "start", "manual", "ops.wang"),
    (10, "storm", "100100", "end", "rule", None),
    (8, "storm", "100300", "start", "indicators", None),
    (5, "crowd", "100100001", "start", "incidents", None),
    (3, "storm", "100300", "end", "manual", "ops.li"),
    (2, "storm", "100200", "start", "indicators", None),
]
# (minutes ago, kind, scenario, area, who, step, its state, comment)
ACTIONS = [
    (1200, "manual_start", "gas", "100300", "ops.zhao", None, None, None),
    (1150, "manual_end", "gas", "100300", "ops.zhao", None, None, None),
    (600, "step", "storm", "100100", "ops.li", "notify", "done", "=HYPERLINK(1)"),
    (40, "manual_start", "gas", "100100", "ops.li", None, None, None),
    (30, "manual_end", "gas", "100100", "ops.li", None, None, None),
    (30, "step", "storm", "100200", "ops.li", "notify", "done", None),
    (20, "ack_takeover", "crowd", "100100001", "ops.li", None, None, None),
    (15, "manual_start", "gas", "100200", "ops.wang", None, None, None),
    (3, "manual_end", "storm", "100300", "ops.li", None, None, None),
    (1.5, "step", "storm", "100200", "ops.li", "notify", "skipped", "later"),
    (1, "ack_takeover", "storm", "100200", "ops.li", None, None, None),
    (0.5, "step", "storm", "100200", "ops.wang", "notify", "done", None),
]
# (minutes ago, incident, area): due while still open, now (o1; w4 of the scenario city) or then (o3,
# closed 50 minutes after its deadline); o2 was closed in time
OVERDUE = [(300, "o1", "100100001"), (250, "o3", "100200001"), (5, "w4", "100200001")]


def _day(minute: datetime) -> ShiftWindow:
    return ShiftWindow(since=minute - timedelta(minutes=1439), until=minute)


def _ago(minute: datetime, minutes: float) -> pd.Timestamp:
    return pd.Timestamp(minute - timedelta(minutes=minutes))


def _none(value: object) -> object:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def _of(entries: pd.DataFrame, kind: str, columns: list[str]) -> list[tuple]:
    rows = entries[entries["kind"] == kind]
    return [tuple(_none(v) for v in r) for r in rows[columns].itertuples(index=False)]


def test_every_entry_of_the_day_once_in_time_order(log_day) -> None:
    engine, _url, minute = log_day
    log = load_shift_log(engine=engine, window=_day(minute))
    entries = log.entries
    assert list(entries["at"]) == sorted(entries["at"])  # time order across kinds
    assert _of(entries, "alarm", ["at", "area_code", "subject", "status_from", "status_to", "value_from", "value",
                                  "event"]) == [
        (_ago(minute, m), area, ind, a, b, float(va), float(vb), ev) for m, area, ind, a, b, va, vb, ev in ALARMS]
    assert _of(entries, "scenario", ["at", "subject", "area_code", "event", "detail", "principal"]) == [
        (_ago(minute, m), sid, area, ev, why, who) for m, sid, area, ev, why, who in SCENARIOS]
    assert _of(entries, "action", ["at", "event", "subject", "area_code", "principal", "step_id", "status_to",
                                   "detail"]) == [(_ago(minute, m), *rest) for m, *rest in ACTIONS]
    assert _of(entries, "overdue", ["at", "subject", "area_code"]) == [
        (_ago(minute, m), iid, area) for m, iid, area in OVERDUE]
    assert _of(entries, "wall", ["at"]) == []
    assert log.total == len(entries) == len(ALARMS) + len(SCENARIOS) + len(ACTIONS) + len(OVERDUE)
    assert log.totals["alarm"] == {"raised": 8, "cleared": 6}
    assert log.totals["scenario"] == {"start": 8, "end": 5}
    assert log.totals["action"] == {"manual_start": 3, "manual_end": 3, "step": 4, "ack_takeover": 2}
    assert log.totals["overdue"] == {"overdue": 3} and log.totals["wall"] == {}
    assert not log.walls_known and not log.truncated
    # display names for the page: the indicator's, the scenario's, the area's
    noise = entries[(entries["kind"] == "alarm") & (entries["subject"] == "noise_db")].iloc[0]
    assert (noise["subject_name_en"], noise["area_name_en"], noise["unit"]) == ("Noise", "East", "dB")


def test_a_shorter_window_and_the_scan_it_reuses(log_day) -> None:
    engine, _url, minute = log_day
    window = ShiftWindow(since=minute - timedelta(minutes=18), until=minute - timedelta(minutes=3))
    log = load_shift_log(engine=engine, window=window)
    assert [(_ago(minute, m), e) for m, *_x, e in ALARMS if 3 <= m <= 18] == \
        [(r.at, r.event) for r in log.entries[log.entries["kind"] == "alarm"].itertuples()]
    assert [c for c in log.entries[log.entries["kind"] == "scenario"]["at"]] == \
        [_ago(minute, m) for m, *_x in SCENARIOS if 3 <= m <= 18]
    # the log's scenario changes are the scenario state's own (one forward scan, data_access.scenarios)
    changes = scenario_history(engine=engine, since=window.since, until=window.until)
    assert [(c.at, c.scenario_id, c.area_code, c.kind) for c in changes] == \
        [(_ago(minute, m).to_pydatetime(), s, a, k) for m, s, a, k, *_x in SCENARIOS if 3 <= m <= 18]


def test_area_and_kind_filters(log_day) -> None:
    engine, _url, minute = log_day
    east = load_shift_log(engine=engine, window=_day(minute), area_code="100100")
    below_east = {"100100", "100100001", "100100002"}
    assert set(east.entries["area_code"]) <= below_east
    assert _of(east.entries, "alarm", ["at"]) == [(_ago(minute, m),) for m, area, *_x in ALARMS if area == "100100"]
    assert _of(east.entries, "scenario", ["at"]) == [(_ago(minute, m),) for m, _s, area, *_x in SCENARIOS
                                                     if area in below_east]
    assert _of(east.entries, "action", ["at"]) == [(_ago(minute, m),) for m, _k, _s, area, *_x in ACTIONS
                                                   if area in below_east]
    assert _of(east.entries, "overdue", ["subject"]) == [("o1",)]
    street = load_shift_log(engine=engine, window=_day(minute), area_code="100200001")
    assert _of(street.entries, "alarm", ["at"]) == [(_ago(minute, 690),), (_ago(minute, 680),)]
    assert _of(street.entries, "overdue", ["subject"]) == [("o3",), ("w4",)]
    city = load_shift_log(engine=engine, window=_day(minute), area_code="100000")
    assert city.total == load_shift_log(engine=engine, window=_day(minute)).total  # the city: everything
    only = load_shift_log(engine=engine, window=_day(minute), kinds=("action", "overdue"))
    assert set(only.entries["kind"]) == {"action", "overdue"} and only.kinds == ("action", "overdue")
    assert set(only.totals) == {"action", "overdue"}
    nowhere = load_shift_log(engine=engine, window=_day(minute), area_code="999999")
    assert nowhere.total == 0


def test_walls_offline_and_back_from_the_fleet(log_day) -> None:
    """Wall events come from the fleet's store (data_access/fleet.py, the shared tick cache): a lobby
    screen of East silent for 10 minutes an hour and a half ago, through the cached, scope-checked reader."""
    from data_access.fleet import new_seed, note_heartbeat
    from data_access.readers.shift_log import read_shift_log
    from data_access.runtime import build_runtime
    from data_access.settings import Settings

    engine, url, minute = log_day
    runtime = build_runtime(Settings(database_url=url, refresh_s=1.0, feeder=False, redis_url=""))
    try:
        seed = new_seed(page="/wall/100100", scope_code="100100", name="lobby", kiosk=True, version="test")
        epoch = (minute - timedelta(minutes=100)).replace(tzinfo=ZoneInfo("UTC")).timestamp()
        beat = dict(runtime=runtime, seed=seed, principal="token:lobby", token_name="lobby", scope_code="100100",
                    tick=None, ok=True)
        note_heartbeat(**beat, now=epoch)
        note_heartbeat(**beat, now=epoch + 600)  # back after 10 silent minutes: OFFLINE 4 s after the last good
        window = _day(minute)
        log = read_shift_log(runtime=runtime, scope=None, window=window, area_code=None)
        walls = log.entries[log.entries["kind"] == "wall"]
        # ... and silent since then, without a goodbye: OFFLINE again (an outage still going on)
        assert [tuple(r) for r in walls[["event", "subject", "area_code", "detail"]].itertuples(index=False)] == \
            [(e, "lobby", "100100", "/wall/100100") for e in ("offline", "back", "offline")]
        offline = pd.Timedelta(seconds=3 * 1.0 + 1.0)  # 3 ticks and the slack (data_access/fleet.py)
        assert list(walls["at"]) == [pd.Timestamp(minute - timedelta(minutes=100)) + offline,
                                     pd.Timestamp(minute - timedelta(minutes=90)),
                                     pd.Timestamp(minute - timedelta(minutes=90)) + offline]
        assert log.totals["wall"] == {"offline": 2, "back": 1} and log.walls_known
        west = read_shift_log(runtime=runtime, scope="100200", window=window, area_code="100200")
        assert "wall" not in set(west.entries["kind"])  # East's screen is not West's
        # a settled window (ended over 10 minutes ago) is read once and kept: a handover, its print, its CSV
        past = ShiftWindow(since=minute - timedelta(hours=8), until=minute - timedelta(minutes=11))
        first = read_shift_log(runtime=runtime, scope=None, window=past, area_code=None)
        with engine.begin() as conn:
            conn.execute(schema.operator_actions.insert(), [dict(
                at=minute - timedelta(minutes=60), principal="late.writer", role="supervisor", screen="/x",
                kind="ack_takeover", scenario_id="storm", area_code="100100", request_id="late-1")])
        again = read_shift_log(runtime=runtime, scope=None, window=past, area_code=None)
        assert again.total == first.total and "late.writer" not in set(again.entries["principal"].dropna())
        uncached = load_shift_log(engine=engine, window=past, kinds=("alarm", "scenario", "action", "overdue"))
        assert uncached.total == first.total - sum(first.totals["wall"].values()) + 1  # the database has it
    finally:
        runtime.engine.dispose()


def test_from_and_to() -> None:
    now = datetime(2026, 12, 4, 12, 30, 40)  # UTC: 20:30 in Shanghai
    default = parse_window(None, "", tz=ZONE, now=now)
    assert default == ShiftWindow(since=datetime(2026, 12, 4, 4, 30), until=datetime(2026, 12, 4, 12, 30),
                                  default=True)
    # naive values are the city's time; an offset is kept; the minute is floored
    assert parse_window("2026-12-04 08:00", "2026-12-04T16:00:59", tz=ZONE, now=now) == \
        ShiftWindow(since=datetime(2026, 12, 4, 0, 0), until=datetime(2026, 12, 4, 8, 0))
    assert parse_window("2026-12-04T00:00Z", "2026-12-04T09:00+08:00", tz=ZONE, now=now) == \
        ShiftWindow(since=datetime(2026, 12, 4, 0, 0), until=datetime(2026, 12, 4, 1, 0))
    # only a from: one shift from it (not beyond now); only a to: the shift before it
    assert parse_window("2026-12-04 16:00", None, tz=ZONE, now=now) == \
        ShiftWindow(since=datetime(2026, 12, 4, 8, 0), until=datetime(2026, 12, 4, 12, 30))
    assert parse_window(None, "2026-12-04 16:00", tz=ZONE, now=now) == \
        ShiftWindow(since=datetime(2026, 12, 4, 0, 0), until=datetime(2026, 12, 4, 8, 0))
    bad = {"yesterday": "malformed", "2026-13-01 00:00": "malformed", "x" * 5000: "malformed",
           "2026-12-04 21:00": "future"}
    for value, code in bad.items():
        with pytest.raises(ShiftLogError) as caught:
            parse_window(value, None, tz=ZONE, now=now)
        assert caught.value.code == code, value
    for start, end, code in [("2026-12-04 16:00", "2026-12-04 15:00", "order"),
                             ("2026-12-04 16:00", "2026-12-04 16:00", "order"),
                             ("2026-12-03 16:00", "2026-12-04 16:01", "span"),
                             ("2026-12-03 19:00", "2026-12-03 21:00", "before_history")]:
        with pytest.raises(ShiftLogError) as caught:
            parse_window(start, end, tz=ZONE, now=now)
        assert caught.value.code == code, (start, end)
    with pytest.raises(ShiftLogError):
        parse_window(["2026-12-04 16:00"], None, tz=ZONE, now=now)  # a repeated key is no time
    assert parse_kinds(None) == ("alarm", "scenario", "action", "overdue", "wall")
    assert parse_kinds("action,alarm,bogus") == ("alarm", "action")
    assert parse_kinds(["overdue", "wall"]) == ("overdue", "wall")
    assert parse_kinds("bogus") == ("alarm", "scenario", "action", "overdue", "wall")


# --- the page and its CSV (the real app, its guard and its callbacks) -----------------------------------

def _cells(component: object) -> tuple[list[str], list[list[str]]]:
    """The header and the body cells of the page's log table (ids.LOG_TABLE)."""
    from components import ids

    found: list = []

    def walk(node: object) -> None:
        if getattr(node, "id", None) == ids.LOG_TABLE:
            found.append(node)
            return
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list | tuple) else [children]:
            if child is not None and not isinstance(child, str | int | float):
                walk(child)

    walk(component)
    assert len(found) == 1, "one log table on the page"
    head, body = found[0].children
    header = [th.children for th in head.children.children]
    rows = [[td.children for td in tr.children] for tr in body.children]
    return header, rows


def _text_of(component: object) -> str:
    out: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, str):
            out.append(node)
            return
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list | tuple) else [children]:
            if child is not None:
                walk(child if not isinstance(child, int | float) else str(child))

    walk(component)
    return " ".join(out)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_csv_is_the_page(log_day, tmp_path, lang: str) -> None:
    import dash

    from app import create_app
    from data_access.settings import Settings
    from security import add_user

    _engine, url, minute = log_day
    users = tmp_path / "users.json"
    add_user(users, name="chief", password="chief-pass", role="supervisor", scope=None)
    add_user(users, name="east", password="east-pass", role="supervisor", scope="100100")
    add_user(users, name="leader", password="leader-pass", role="leader", scope=None)
    app = create_app(Settings(database_url=url, feeder=False, refresh_s=1, auth="basic", users_file=users,
                              secret_key="5e1c0b7a9d3f4e2a8c6b1d0f7e3a9c42"))
    server = app.server
    from pages import log as log_page  # registered by the app

    layout = dash.page_registry["pages.log"]["layout"]

    def as_user(name: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}

    tz = ZONE
    start = (minute - timedelta(minutes=1439)).replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    end = minute.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    query = {"from": start, "to": end, "lang": lang}
    with server.test_request_context("/log", headers=as_user("chief", "chief-pass")):
        assert server.preprocess_request() is None
        page = layout(**query)
        header, rows = _cells(page)
        state = next(c for c in page.children.children if getattr(c, "id", None) == log_page.ids.LOG_STATE).data
        sent, note = log_page.export_log(1, state)
    assert note == ""
    exported = list(csv.reader(io.StringIO(sent["content"], newline="")))
    # the formula in a checklist comment is neutralised in the file, shown as written on the page
    page_rows = [[("'" + c if c.startswith(("=", "+", "-", "@")) else c) for c in row] for row in rows]
    assert exported == [header, *page_rows]
    assert len(rows) == len(ALARMS) + len(SCENARIOS) + len(ACTIONS) + len(OVERDUE)
    assert any("=HYPERLINK(1)" in c for row in rows for c in row)
    assert sent["filename"].startswith("citywall-log-")
    if lang == "en":
        assert header == ["Time", "Kind", "Event", "Area", "Subject", "Status", "Value", "Who", "Detail"]
        assert rows[0] == [_local(minute, 1200, tz), "Alarm", "raised", "East", "Noise", "normal → warning",
                           "50 → 70 dB", "", ""]
    # filters in the address; a scoped supervisor's log is their area's; bad from/to say so
    with server.test_request_context("/log", headers=as_user("east", "east-pass")):
        assert server.preprocess_request() is None
        _header, east_rows = _cells(layout(**query, area="100100", kind="alarm"))
        assert len(east_rows) == sum(1 for _m, area, *_x in ALARMS if area == "100100")
        _header, own = _cells(layout(**{**query, "area": "100100"}))
        assert len(own) > 0
        refused = _text_of(layout(**query, area="100200"))
        assert "100200" in refused and ("Not allowed" in refused or "无权查看" in refused)
    with server.test_request_context("/log", headers=as_user("chief", "chief-pass")):
        assert server.preprocess_request() is None
        for bad, words in [({"from": "tuesday"}, ("Not a time", "无法识别")),
                           ({"from": "2099-01-01 00:00"}, ("future", "晚于")),
                           ({"from": end, "to": start}, ("before To", "早于")),
                           ({"from": "2020-01-01 00:00", "to": "2020-01-01 08:00"}, ("24 hours", "24小时")),
                           ({"area": "no-such-area"}, ("Unknown area", "未知区域"))]:
            text = _text_of(layout(**{"lang": lang, **bad}))
            assert any(w in text for w in words), (bad, text[:300])
    client = server.test_client()
    assert client.get("/log", headers=as_user("leader", "leader-pass")).status_code == 403
    assert client.get("/log/handover", headers=as_user("leader", "leader-pass")).status_code == 403
    assert client.get("/log?from=tuesday", headers=as_user("chief", "chief-pass")).status_code == 200


def _local(minute: datetime, ago: int, tz: ZoneInfo) -> str:
    return (minute - timedelta(minutes=ago)).replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).strftime("%Y-%m-%d %H:%M")


ODD = ["", " ", "tuesday", "2026-02-30 10:00", "9" * 500, "../../etc/passwd", "%00", "' OR 1=1 --",
       "<script>x</script>", "１００１００", "2026-12-04T03:10+25:00", "0001-01-01T00:00+08:00", "999999", "100100",
       "alarm,,wall", "None", "null", "zh", "en"]


@pytest.mark.parametrize("log_day", ["sqlite"], indirect=True)  # the input's handling, not the database's
def test_odd_addresses_get_a_page_never_a_failure(log_day, caplog) -> None:
    """Any from/to/area/kind/lang (and repeated keys) on /log and /log/handover: the routing callback
    answers with a page (a message where the input is bad), never the last-resort error handler."""
    import logging
    from urllib.parse import urlencode

    from app import create_app
    from data_access.settings import Settings
    from tests.test_security_auth import route_payload

    _engine, url, _minute = log_day
    app = create_app(Settings(database_url=url, feeder=False, refresh_s=1))
    client = app.server.test_client()
    searches = [urlencode({key: value}) for key in ("from", "to", "area", "kind", "lang") for value in ODD]
    searches += ["from=a&from=b", "kind=alarm&kind=wall", "area=100100&area=100200", "to=" + "%ff" * 20]
    with caplog.at_level(logging.ERROR, logger="security"):
        for page in ("/log", "/log/handover"):
            for search in searches:
                assert client.get(f"{page}?{search}").status_code < 500, search
                reply = client.post("/_dash-update-component", json=route_payload(app, page, "?" + search))
                body = reply.get_data(as_text=True)
                assert reply.status_code == 200 and "Traceback" not in body, (page, search, body[:300])
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
