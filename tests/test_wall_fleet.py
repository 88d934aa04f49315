"""The wall fleet's store (issue 15, item 4): heartbeats, goodbyes, OFFLINE and back, the shift log's
events; in-process and on Redis, where two app runtimes (two workers or hosts) share one fleet.
Times are passed in (``now``), so the ticks are the test's, not the clock's."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from data_access.cache import ROW_LIMIT, MemoryRowStore
from data_access.fleet import fleet_events, fleet_screens, note_goodbye, note_heartbeat, parse_seed

T0 = 1_800_000_000.0  # a fixed moment (2027-01-15): every "now" below is T0 plus the test's seconds


def seed(name: str | None = None, *, page: str = "/wall/100100", kiosk: bool = False) -> dict:
    return {"id": uuid.uuid4().hex, "page": page, "scope": "100100", "name": name, "kiosk": kiosk, "version": "abc123"}


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None, microsecond=0)


def beat(runtime, screen: dict, at: float, *, ok: bool = True, principal: str = "anonymous",
         token: str | None = None, tick: int | None = None) -> None:
    note_heartbeat(runtime=runtime, seed=screen, principal=principal, token_name=token, scope_code="100100",
                   tick=tick, ok=ok, now=T0 + at)


def statuses(runtime, at: float) -> dict[str, str]:
    frame = fleet_screens(runtime=runtime, now=T0 + at)
    return dict(zip(frame["name"], frame["status"], strict=True))


def test_three_screens_one_closed_two_connected_one_gone(fleet_runtimes: Callable) -> None:
    runtime = fleet_runtimes()
    lobby, desk, hall = seed(None, kiosk=True), seed("desk"), seed()
    for second in range(3):
        beat(runtime, lobby, second, token="lobby-token", tick=100 + second)
        beat(runtime, desk, second, token="duty-desk")  # ?screen= names it, not the (person's) token
        beat(runtime, hall, second)
    assert note_goodbye(runtime=runtime, seed=desk, principal="anonymous", now=T0 + 2.5)
    for second in range(3, 6):
        beat(runtime, lobby, second, token="lobby-token", tick=100 + second)
        beat(runtime, hall, second)
    frame = fleet_screens(runtime=runtime, now=T0 + 5.2)
    assert list(frame["status"]) == ["connected", "connected", "gone"]
    lobby_row = frame[frame["name"] == "lobby-token"].iloc[0]  # the token's name names the screen
    assert (lobby_row["kiosk"], lobby_row["token"], lobby_row["tick"], lobby_row["version"]) == (True, "lobby-token",
                                                                                                 105, "abc123")
    assert lobby_row["since"] == utc(T0) and lobby_row["page"] == "/wall/100100"
    assert list(frame[frame["name"] == "desk"].iloc[0][["status", "token"]]) == ["gone", "duty-desk"]
    assert frame.iloc[0]["name"] == "#" + hall["id"][:6]  # no name: shown by its id's start (sorted by name)
    assert fleet_events(runtime=runtime, since=utc(T0 - 60), until=utc(T0 + 60), now=T0 + 5.2).empty


def test_a_silent_screen_goes_offline_after_three_ticks_and_logs_its_outage_when_back(
        fleet_runtimes: Callable) -> None:
    runtime = fleet_runtimes()  # 1-second ticks: OFFLINE after 3 ticks + 1 s slack without good data
    wall = seed("east-hall")
    beat(runtime, wall, 0)
    assert statuses(runtime, 3.9) == {"east-hall": "connected"}
    assert statuses(runtime, 4.1) == {"east-hall": "offline"}
    open_outage = fleet_events(runtime=runtime, since=utc(T0), until=utc(T0 + 100), now=T0 + 30)
    assert open_outage.to_dict("records") == [{"at": utc(T0 + 4), "kind": "wall_offline", "screen": "east-hall",
                                               "page": "/wall/100100", "scope_code": "100100"}]
    beat(runtime, wall, 60)
    assert statuses(runtime, 60.5) == {"east-hall": "connected"}
    events = fleet_events(runtime=runtime, since=utc(T0), until=utc(T0 + 100), now=T0 + 61)
    assert list(zip(events["at"], events["kind"], strict=True)) == [(utc(T0 + 4), "wall_offline"),
                                                                    (utc(T0 + 60), "wall_back")]
    frame = fleet_screens(runtime=runtime, now=T0 + 61)
    assert frame.iloc[0]["since"] == utc(T0)  # the same screen: connected since it first came
    # the window bounds the events: since <= at < until
    assert list(fleet_events(runtime=runtime, since=utc(T0 + 5), until=utc(T0 + 100), now=T0 + 61)["kind"]) == [
        "wall_back"]


def test_a_screen_answered_without_data_is_offline_though_it_polls(fleet_runtimes: Callable) -> None:
    runtime = fleet_runtimes()
    wall = seed("lobby")
    beat(runtime, wall, 0, tick=7)
    for second in range(1, 8):  # the database is away: every reply says so
        beat(runtime, wall, second, ok=False)
    frame = fleet_screens(runtime=runtime, now=T0 + 7.5)
    assert (frame.iloc[0]["status"], frame.iloc[0]["tick"]) == ("offline", 7)
    beat(runtime, wall, 8, tick=15)
    assert statuses(runtime, 8.2) == {"lobby": "connected"}
    assert list(fleet_events(runtime=runtime, since=utc(T0), until=utc(T0 + 10), now=T0 + 8.2)["kind"]) == [
        "wall_offline", "wall_back"]


def test_a_kiosk_reloading_for_its_next_page_stays_one_screen(fleet_runtimes: Callable) -> None:
    runtime = fleet_runtimes()
    wall = seed("lobby", kiosk=True)
    beat(runtime, wall, 0)
    note_goodbye(runtime=runtime, seed=wall, principal="anonymous", now=T0 + 0.5)
    assert statuses(runtime, 1.5) == {"lobby": "connected"}  # leaving, for a tick: perhaps for its next page
    assert statuses(runtime, 2.6) == {"lobby": "gone"}
    beat(runtime, {**wall, "page": "/wall/100101"}, 3.0)  # the same tab (its id), the playlist's next wall
    frame = fleet_screens(runtime=runtime, now=T0 + 3.1)
    assert list(frame["status"]) == ["connected"] and frame.iloc[0]["since"] == utc(T0)
    assert frame.iloc[0]["page"] == "/wall/100101"
    assert fleet_events(runtime=runtime, since=utc(T0), until=utc(T0 + 10), now=T0 + 3.1).empty


def test_two_app_instances_on_one_redis_share_one_fleet(fleet_runtimes: Callable, request) -> None:
    first, second = fleet_runtimes(), fleet_runtimes()
    wall = seed("north")
    beat(first, wall, 0)
    beat(second, wall, 1)  # its next poll reached another worker, another host
    shared = "redis" in request.node.callspec.id
    # on Redis both see the one screen; in-process each instance knows only the polls it answered
    assert statuses(first, 1.5) == {"north": "connected"}
    assert statuses(second, 1.5) == {"north": "connected"}
    note_goodbye(runtime=second, seed=wall, principal="anonymous", now=T0 + 1.2)
    assert statuses(first, 3.5) == ({"north": "gone"} if shared else {"north": "connected"})


def test_forged_or_foreign_fleet_stores_change_nothing(fleet_runtimes: Callable) -> None:
    runtime = fleet_runtimes()
    for bad in (None, "x", {"id": "../etc", "page": "/"}, {"id": uuid.uuid4().hex, "page": "wall"},
                {"id": uuid.uuid4().hex.upper(), "page": "/"}, {"id": 5, "page": "/"}):
        assert parse_seed(bad) is None
        beat(runtime, bad, 0)
    assert fleet_screens(runtime=runtime, now=T0).empty
    wall = seed("lobby\u0000\u202e" + "x" * 80)
    beat(runtime, wall, 0, principal="token:lobby")
    # another principal cannot say goodbye for it (nor write its row: the key holds who it is)
    assert not note_goodbye(runtime=runtime, seed=wall, principal="anonymous", now=T0 + 1)
    frame = fleet_screens(runtime=runtime, now=T0 + 1)
    assert frame.iloc[0]["status"] == "connected"
    assert frame.iloc[0]["name"] == "lobby" + "x" * 35  # control characters dropped, 40 characters at most


def test_memory_store_keeps_at_most_its_row_limit() -> None:
    store = MemoryRowStore()
    for n in range(ROW_LIMIT):
        assert store.put("t", str(n), {"n": n}, at=T0)
    assert not store.put("t", "one-more", {"n": -1}, at=T0)
    assert store.put("t", "0", {"n": 0}, at=T0 + 1)  # an existing row is still written
    assert len(store.rows("t", keep_s=10, now=T0 + 5)) == ROW_LIMIT
    assert store.rows("t", keep_s=10, now=T0 + 10.5) == [{"n": 0}]  # the others expired


def test_the_event_log_keeps_at_most_its_limit_the_oldest_dropped(fleet_runtimes: Callable) -> None:
    store = fleet_runtimes().cache.rows  # in-process or Redis (issue 16, item 4: a flapping fleet for a day)
    store.event_limit = 30
    for n in range(40):
        store.add_event("fleet-events", {"n": n}, at=T0 + n, keep_s=3600)
    store.add_event("fleet-events", {"n": -1}, at=T0 - 1, keep_s=3600)  # logged late, older than all: dropped
    kept = store.events("fleet-events", since=T0 - 60, until=T0 + 60)
    assert [e["n"] for e in kept] == list(range(10, 40))


def test_a_poll_answered_after_its_tabs_goodbye_does_not_bring_it_back(fleet_runtimes: Callable) -> None:
    runtime = fleet_runtimes()
    wall = {**seed("north-hall"), "load": uuid.uuid4().hex}
    beat(runtime, wall, 0)
    note_goodbye(runtime=runtime, seed=wall, principal="anonymous", now=T0 + 0.5)
    beat(runtime, wall, 0.6)  # its last poll, in flight as the tab closed
    assert statuses(runtime, 5) == {"north-hall": "gone"}
    beat(runtime, {**wall, "load": uuid.uuid4().hex}, 5.2)  # the tab's next page (a reload): back
    assert statuses(runtime, 5.3) == {"north-hall": "connected"}


def test_a_tab_closed_before_its_first_heartbeat_was_answered_is_gone(fleet_runtimes: Callable) -> None:
    runtime = fleet_runtimes()
    wall = {**seed("quick"), "load": uuid.uuid4().hex}
    assert note_goodbye(runtime=runtime, seed=wall, principal="anonymous", now=T0)  # its goodbye arrives first
    beat(runtime, wall, 0.3)  # then its first poll, sent before it closed
    assert statuses(runtime, 10) == {"quick": "gone"}
    assert fleet_screens(runtime=runtime, now=T0 + 10).iloc[0]["scope_code"] == "100100"  # its layout said
    assert fleet_events(runtime=runtime, since=utc(T0 - 60), until=utc(T0 + 60), now=T0 + 10).empty


def test_a_page_going_to_another_page_of_the_site_is_not_gone_while_it_loads(fleet_runtimes: Callable) -> None:
    runtime = fleet_runtimes()
    wall = {**seed("lobby", kiosk=True), "load": uuid.uuid4().hex}
    other = {**seed("hall"), "load": uuid.uuid4().hex}
    beat(runtime, wall, 0)
    beat(runtime, other, 0)
    # the kiosk goes to its takeover's board (assets/fleet.js: the Navigation API says where), the other closes
    note_goodbye(runtime=runtime, seed={**wall, "moving": True}, principal="anonymous", now=T0 + 1)
    note_goodbye(runtime=runtime, seed={**other, "moving": False}, principal="anonymous", now=T0 + 1)
    assert statuses(runtime, 30) == {"lobby": "connected", "hall": "gone"}  # a slow board: still on its way
    beat(runtime, {**wall, "load": uuid.uuid4().hex, "page": "/scenario/flood/100100"}, 40)
    frame = fleet_screens(runtime=runtime, now=T0 + 40.5)
    lobby = frame[frame["name"] == "lobby"].iloc[0]
    assert (lobby["status"], lobby["since"], lobby["page"]) == ("connected", utc(T0), "/scenario/flood/100100")
    assert fleet_events(runtime=runtime, since=utc(T0 - 60), until=utc(T0 + 60), now=T0 + 40.5).empty
    note_goodbye(runtime=runtime, seed={**wall, "moving": True}, principal="anonymous", now=T0 + 41)
    assert statuses(runtime, 102) == {"lobby": "gone", "hall": "gone"}  # it never arrived anywhere


def test_the_fleet_table_shows_a_missing_value_as_a_dash_never_nan(fleet_runtimes: Callable) -> None:
    from zoneinfo import ZoneInfo

    from components.fleet import create_fleet_summary, create_fleet_table

    runtime = fleet_runtimes()
    beat(runtime, seed("lobby"), 0, tick=7)
    quick = {**seed("quick"), "load": uuid.uuid4().hex, "scope": None}
    note_goodbye(runtime=runtime, seed=quick, principal="anonymous", now=T0 + 1)  # no scope, no tick, no good data
    frame = fleet_screens(runtime=runtime, now=T0 + 3.5)
    table = create_fleet_table(frame, lang="en", tz=ZoneInfo("Asia/Shanghai"), now=utc(T0 + 3.5), version="abc123",
                               refresh_s=1.0, area_label=lambda code: code or "—")
    text = str(table.to_plotly_json())
    assert "nan" not in text.lower() and "NaT" not in text
    quick_row = [row for row in table.children[1].children if row.to_plotly_json()["props"]["data-screen"] == "quick"]
    assert quick_row and "—" in str(quick_row[0].children[3].to_plotly_json())
    summary = create_fleet_summary(frame, "en")[0].to_plotly_json()["props"]
    assert (summary["data-connected"], summary["data-offline"], summary["data-gone"]) == ("1", "0", "1")


def test_a_screen_back_under_a_new_id_is_one_row_and_its_outage_ends(fleet_runtimes: Callable) -> None:
    """A crashed tab (no goodbye) opened again gets a new id: its OFFLINE row is folded into the new one
    of the same name and scope; the shift log has the outage and its end. An unnamed screen, or a
    second screen of the same name that was connected all along while the first went OFFLINE, is not folded."""
    runtime = fleet_runtimes()
    crashed, unnamed_crashed = seed("lobby"), seed()
    other_lobby = seed("lobby")  # a second screen named "lobby", connected all along
    for second in range(6):
        beat(runtime, other_lobby, second)
    beat(runtime, crashed, 1)
    beat(runtime, unnamed_crashed, 1)
    frame = fleet_screens(runtime=runtime, now=T0 + 5.5)  # the crashed ones OFFLINE: the other lobby is older
    assert sorted(frame["status"]) == ["connected", "offline", "offline"]
    again = seed("lobby")  # the crashed lobby back, in a new window
    beat(runtime, again, 8)
    for second in range(6, 9):
        beat(runtime, other_lobby, second)
    frame = fleet_screens(runtime=runtime, now=T0 + 8.5)
    assert sorted(zip(frame["screen_id"], frame["status"], strict=True)) == sorted(
        [(again["id"], "connected"), (other_lobby["id"], "connected"), (unnamed_crashed["id"], "offline")])
    events = fleet_events(runtime=runtime, since=utc(T0), until=utc(T0 + 60), now=T0 + 8.5)
    lobby = events[events["screen"] == "lobby"]
    assert list(zip(lobby["at"], lobby["kind"], strict=True)) == [(utc(T0 + 5), "wall_offline"),
                                                                 (utc(T0 + 8), "wall_back")]
    # another scope is another screen
    beat(runtime, {**seed("lobby"), "scope": "100200"}, 9)
    assert len(fleet_screens(runtime=runtime, now=T0 + 9.2)) == 4
