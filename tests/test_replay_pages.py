"""Replayed pages against the real app (Dash's real callback endpoint, Flask's test client) on SQLite and
PostgreSQL (issue 15, items 1 and 5): tests/asof_city.py's city, whose state at the past minute T is
written out there. A wall or level page with ``?at=T`` says REPLAY and shows what the as-of reads
(data_access/asof.py) return for T — the wall's tiles and strip, the map's counts, the panels — never
the live values; a kiosk URL with ``?at=`` stays live; every bad moment or speed gets its message."""
from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.replay import at_param
from components.wall import render_wall, wall_delta
from data_access import asof
from data_access.areas import area_by_code
from data_access.models import IncidentFilter
from data_access.replay import kept_history_start
from data_access.vitals import indicator_catalogue
from tests.asof_city import CITY, D1, MIN, NOW, S1, TZ, T
from tests.test_security_auth import callback_payload, route_payload

AT = at_param(T, TZ)  # the city's own time, as a shared URL carries it
AT_UTC = T.strftime("%Y-%m-%dT%H:%MZ")  # as a replayed screen's scope store carries it


def _post(app, payload: dict) -> dict:
    reply = app.server.test_client().post("/_dash-update-component", json=payload)
    assert reply.status_code == 200, reply.get_data(as_text=True)[:500]
    body = reply.get_data(as_text=True)
    assert "Traceback" not in body
    return json.loads(body)["response"]


def _page(app, path: str, **query: str) -> str:
    """The page the router lays out for ``path?query`` (its JSON, for searching)."""
    return json.dumps(_post(app, route_payload(app, path, "?" + urlencode(query) if query else "")),
                      ensure_ascii=False)


def _wall_reply(app, code: str, at: str | None, applied: dict | None = None) -> dict:
    scope = {"area_code": code, "level": "district", "lang": "zh", **({"at": at} if at else {})}
    return _post(app, callback_payload(app, "wall-delta.data", {"wall-poll": 1, "wall-scope": scope,
                                                                "wall-applied": applied or {}}))


def test_a_replayed_wall_says_replay_and_carries_its_moment(replay_app) -> None:
    app, _engine = replay_app
    page = _page(app, f"/wall/{D1}", at=AT)
    assert "回放" in page and "cw-replay" in page and '"replay-banner"' in page and '"replay-slider"' in page
    assert AT.replace("T", " ") in page  # the banner's moment, in the city's time
    assert f'"at": "{AT_UTC}"' in page  # the scope stores carry it to the wall's and the map's refresh
    live = _page(app, f"/wall/{D1}")
    assert "cw-replay" not in live and '"replay-banner"' not in live and '"at":' not in live


def test_the_replayed_walls_values_equal_the_as_of_read(replay_app) -> None:
    app, engine = replay_app
    reply = _wall_reply(app, D1, AT_UTC)
    delta, status = reply["wall-delta"]["data"], reply["status-store"]["data"]
    area = area_by_code(engine=engine, area_code=D1)
    catalogue = indicator_catalogue(engine=engine)
    expected = wall_delta(render_wall(
        asof.load_wall_as_of(engine=engine, area=area, at=T, hotline_source="hotline_12345", tz=TZ),
        catalogue[catalogue["on_wall"].astype(bool)].reset_index(drop=True), "zh", tick=0, tz=TZ), None)["delta"]
    assert delta["tiles"] == expected["tiles"] and delta["kpis"] == expected["kpis"]
    assert delta["tiles"]["power_load"][3] == "130" and "tile--alarm" in delta["tiles"]["power_load"][0]
    assert delta["tiles"]["aqi"][3] == "150" and "tile--warn" in delta["tiles"]["aqi"][0]
    assert delta["kpis"]["open"][0] == "2" and delta["kpis"]["overdue"][0] == "1"  # D1 at T
    assert status["ok"] is True and status["replay"] is True and status["at"] == AT_UTC
    # live, the same district shows what came after T (power load back to normal at 50)
    live = _wall_reply(app, D1, None)["wall-delta"]["data"]
    assert live["tiles"]["power_load"][3] == "50" and "replay" not in _wall_reply(app, D1, None)["status-store"]["data"]


def test_a_screen_showing_the_minute_gets_only_its_status(replay_app) -> None:
    app, _engine = replay_app
    first = _wall_reply(app, D1, AT_UTC)
    again = _wall_reply(app, D1, AT_UTC, applied=first["wall-applied"]["data"])
    assert "wall-delta" not in again and again["status-store"]["data"]["replay"] is True


def test_a_forged_moment_in_the_future_shows_nothing_as_of_it(replay_app) -> None:
    app, _engine = replay_app
    reply = _wall_reply(app, D1, (NOW + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%MZ"))
    assert "wall-delta" not in reply and reply["status-store"]["data"]["ok"] is False
    assert "wall-delta" not in _wall_reply(app, D1, "<script>")


def test_the_replayed_map_and_panels_equal_the_as_of_reads(replay_app) -> None:
    app, engine = replay_app
    scope = {"level": "city", "area_code": CITY, "lang": "zh", "lang_param": None, "at": AT_UTC}

    def hideouts(map_scope: dict) -> tuple[dict, dict]:
        reply = _post(app, callback_payload(app, "cw-map-areas", {"cw-tick": 5, "cw-map-scope": map_scope,
                                                                  "cw-map-sig": None}, key="city"))
        key = json.dumps({"id": "city", "type": "cw-map-areas"}, separators=(",", ":"))
        cells = json.dumps({"id": "city", "type": "cw-map-cells"}, separators=(",", ":"))
        return reply[key]["hideout"], reply[cells]["hideout"]

    areas, cells = hideouts(scope)
    counts = asof.load_map_counts_as_of(engine=engine, at=T)
    assert areas["counts"] == {code: [n_open, n_overdue] for code, n_open, n_overdue in counts.children[CITY]}
    assert areas["counts"] == {D1: [2, 1], "100200": [2, 0]}  # as tests/asof_city.py wrote T
    assert cells["counts"] == {cell: [n_open, n_overdue, prio] for cell, n_open, n_overdue, prio in counts.cells}
    live_areas, _live_cells = hideouts({k: v for k, v in scope.items() if k != "at"})
    assert live_areas["counts"] != areas["counts"]  # after T: b closed, d reported
    panels = _post(app, callback_payload(app, "cw-lvl-funnel", {"cw-tick": 1, "cw-map-scope": scope}, key="city"))
    shown = json.dumps(panels, ensure_ascii=False)
    expected = asof.incident_counts_as_of(engine=engine, area_code=CITY, at=T, tz=TZ)
    live = json.dumps(_post(app, callback_payload(app, "cw-lvl-funnel", {
        "cw-tick": 1, "cw-map-scope": {k: v for k, v in scope.items() if k != "at"}}, key="city")),
        ensure_ascii=False)
    assert expected.open == 4 and shown != live
    assert "rpl_failed" not in shown and "回放数据读取失败" not in shown


def test_a_replayed_district_page_says_replay_and_leads_to_the_wall_at_the_same_moment(replay_app) -> None:
    app, _engine = replay_app
    page = _page(app, f"/district/{D1}", at=AT)
    assert "回放" in page and "cw-replay" in page and f'"at": "{AT_UTC}"' in page
    assert f"/wall/{D1}?at=" in page  # the wall replaying the same moment
    street = _page(app, f"/street/{S1}", at=AT, lang="en")
    assert "REPLAY" in street and "cw-replay" in street


@pytest.mark.parametrize(("path", "query", "code", "words"), [
    ("/", {"at": "yesterday night"}, "malformed", "不是有效的时间"),
    (f"/wall/{D1}", {"at": "2999-01-01T00:00"}, "future", "还没有到来"),
    (f"/wall/{D1}", {"at": "2001-01-01T00:00"}, "before_history", "早于数据库保留的历史"),
    ("/", {"at": AT, "speed": "7"}, "speed", "回放速度“7”无效"),
    ("/", {"speed": "fast"}, "speed", "回放速度“fast”无效"),
    (f"/district/{D1}", {"at": "03:10 tomorrow"}, "malformed", "不是有效的时间"),
    (f"/street/{S1}", {"at": "2999-01-01T00:00", "lang": "en"}, "future", "is in the future"),
    ("/city", {"at": "2001-01-01T00:00", "lang": "en"}, "before_history", "before the history the database keeps"),
])
def test_every_bad_moment_or_speed_gets_a_clear_message(replay_app, path: str, query: dict, code: str,
                                                        words: str) -> None:
    app, _engine = replay_app
    page = _page(app, path, **query)
    assert '"replay-error"' in page and f'"data-code": "{code}"' in page and words in page
    assert '"replay-banner"' not in page and '"wall-scope"' not in page  # neither a replay nor a live page


def test_a_kiosk_url_carrying_at_shows_the_live_wall(replay_app) -> None:
    app, _engine = replay_app
    page = _page(app, f"/wall/{D1}", at=AT, kiosk="1", rotate="30")
    assert '"replay-banner"' not in page and "cw-replay" not in page and '"at":' not in page
    assert '"replay-drop"' in page  # the browser takes ?at= out of its address (assets/replay.js)
    assert "wall--kiosk" in page


def test_before_history_offers_the_oldest_kept_moment(replay_app) -> None:
    app, engine = replay_app
    page = _page(app, "/", at="2001-01-01T00:00", lang="en")
    oldest = kept_history_start(engine=engine)
    assert urlencode({"at": at_param(oldest.replace(second=0), TZ)}) in page
    assert _page(app, "/", at=at_param(oldest.replace(second=0) + MIN, TZ)).count('"replay-error"') == 0


ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60) | st.sampled_from(
    ["2026-12-04T03:10", "2026-12-04 03:10 08:00", "2026-12-04T03:10+08:00", "2026-12-04T03:10Z",
     "0001-01-01T00:00+08:00", "9999-12-31T23:59-12:00", "T", "1e9", "10x", "60×", "-60", "<b>x</b>", "%00", "9" * 500])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=ANY_TEXT, speed=ANY_TEXT | st.none())
def test_any_moment_or_speed_gets_a_replay_its_message_or_the_live_page(replay_app, at: str, speed: str | None) -> None:
    """Whatever ?at= and ?speed= say: a replay, a replay's message, or (nothing asked) the live page;
    never a traceback, never a live page for a moment it could not show."""
    app, _engine = replay_app
    query = {"at": at, **({"speed": speed} if speed is not None else {})}
    for path in (f"/wall/{D1}", f"/district/{D1}"):
        page = _page(app, path, **query)
        replayed, refused = '"replay-banner"' in page, '"replay-error"' in page
        asked = bool(at.strip()) or bool((speed or "").strip())
        assert replayed + refused <= 1
        if asked and not replayed:
            assert refused or not at.strip(), (path, query)  # a speed alone, if valid, changes nothing


def test_a_replayed_wall_shows_the_takeovers_of_its_minute(scenario_city) -> None:
    """The hand-made scenario city (tests/fixtures.py) replayed 12 minutes back: the West wall's
    takeover banner names gas (started by hand 15 minutes ago), not West's storm (fired 2 minutes ago)."""
    from app import create_app
    from data_access.settings import Settings
    from tests.fixtures import SM

    app = create_app(Settings(database_url=scenario_city.url.render_as_string(hide_password=False), feeder=False,
                              refresh_s=60, lang="en"))
    past = (SM - timedelta(minutes=12)).strftime("%Y-%m-%dT%H:%MZ")

    def scenarios(at: str | None) -> set[str]:
        scope = {"area_code": "100200", "level": "district", "lang": "en", **({"at": at} if at else {})}
        reply = _post(app, callback_payload(app, "wall-delta.data", {"wall-poll": 1, "wall-scope": scope,
                                                                     "wall-applied": {}}))
        return {item["key"].split(":")[0] for item in reply["wall-takeover"]["data"]["items"]}

    assert scenarios(past) == {"gas"}
    assert scenarios(None) == {"gas", "storm"}  # live: West's storm has fired since


def test_a_replayed_list_holds_the_incidents_open_at_t(replay_app) -> None:
    app, engine = replay_app
    values = {"cw-grid.getRowsRequest": {"startRow": 0, "endRow": 100, "sortModel": []},
              "cw-list-scope": {"area_code": None, "level": "city", "lang": "zh", "at": AT_UTC},
              "cw-list-overdue": "any"}
    reply = _post(app, callback_payload(app, "cw-grid", values, key="city"))
    grid = reply[json.dumps({"id": "city", "type": "cw-grid"}, separators=(",", ":"))]["getRowsResponse"]
    expected = asof.list_incidents_as_of(engine=engine, filt=IncidentFilter(), at=T)
    assert [row["incident_id"] for row in grid["rowData"]] == list(expected["incident_id"]) == ["a", "e", "b", "h"]
    assert grid["rowCount"] == 4
    live = _post(app, callback_payload(app, "cw-grid", {**values, "cw-list-scope": {
        "area_code": None, "level": "city", "lang": "zh"}}, key="city"))
    live_rows = live[json.dumps({"id": "city", "type": "cw-grid"}, separators=(",", ":"))]["getRowsResponse"]
    assert {row["incident_id"] for row in live_rows["rowData"]} == {"a", "d", "e", "h"}  # now: b closed, d reported
