"""The push stream (pages/_push.py) through the real app and its security gate (Flask's test client,
a real SQLite database): a principal's scope and kiosk tokens hold on the stream, every screen of a
scope gets the same bytes from one computation per tick, the cap on streams, CITYWALL_TRANSPORT=poll.
The maps' push (pages/_push_map.py) on SQLite and PostgreSQL: the same rules on the map's stream,
the same counts' bytes for every screen of an area, the wall's map's counts on the wall's stream."""
from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

import security
from app import create_app
from data_access import schema
from data_access.db import utc_now
from data_access.settings import Settings, SettingsError, load_settings
from pages._push import EXTENSION_KEY, PUSH_PATH
from pages._push_map import MAP_EXTENSION_KEY, MAP_PUSH_PATH
from tests.conftest import PUSH_SECRET
from tests.test_security_auth import route_payload

EAST, WEST, CITY = "100100", "100200", "100000"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


EAST_AUTH = basic("east_sup", "east-pass")
CHIEF_AUTH = basic("chief", "chief-pass")


def url(area: str, lang: str = "zh") -> str:
    return f"/{PUSH_PATH}?area={area}&lang={lang}"


def events(reply) -> Iterator[bytes]:
    """The stream's events (``data:`` lines' payloads, as bytes) as they arrive."""
    buffer = b""
    for chunk in reply.response:
        buffer += chunk
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            for line in event.split(b"\n"):
                if line.startswith(b"data: "):
                    yield line[6:]


def next_message(stream: Iterator[bytes], *, after: int | None = None, timeout: float = 8.0) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = next(stream)
        tick = json.loads(data)["tick"]
        if after is None or tick > after:
            return tick, data
    raise AssertionError("no message in time")


def test_a_scoped_principal_streams_its_own_area_only(push_app) -> None:
    client = push_app.server.test_client()
    assert client.get(url(EAST)).status_code == 401  # the gate authenticates the stream like any request
    for area in (WEST, CITY, "100200001"):  # a sibling, the city above, a street of the sibling
        refused = client.get(url(area), headers=EAST_AUTH)
        assert refused.status_code == 403, area
        assert refused.mimetype != "text/event-stream" and "西区" not in refused.get_data(as_text=True)
    assert client.get(url("999999"), headers=EAST_AUTH).status_code == 404  # no such area
    assert client.get(url("1' or '1"), headers=EAST_AUTH).status_code == 404  # not an area code at all
    reply = client.get(url(EAST), headers=EAST_AUTH, buffered=False)
    try:
        assert reply.status_code == 200 and reply.mimetype == "text/event-stream"
        assert reply.headers["Cache-Control"] == "no-store" and reply.headers["X-Accel-Buffering"] == "no"
        first = next(iter(reply.response))
        assert first.startswith(b"retry: ")
    finally:
        reply.close()


def test_kiosk_token_streams_its_scope_until_revoked(push_app, push_users) -> None:
    token = security.create_token(push_users, name="push-lobby", scope=EAST)
    client = push_app.server.test_client()
    assert client.get(f"/wall/{EAST}?kiosk=1&token={token}").status_code == 302  # traded for the session cookie
    assert client.get(url(WEST)).status_code == 403
    reply = client.get(url(EAST), buffered=False)
    assert reply.status_code == 200
    reply.close()
    assert security.revoke_token(push_users, name="push-lobby")
    assert client.get(url(EAST)).status_code == 401  # the next (re)connection is refused


def test_a_revoked_token_ends_its_open_stream_within_a_tick(push_app, push_users) -> None:
    token = security.create_token(push_users, name="push-hall", scope=EAST)
    client = push_app.server.test_client()
    assert client.get(f"/wall/{EAST}?kiosk=1&token={token}").status_code == 302
    reply = client.get(url(EAST), buffered=False)
    try:
        stream = events(reply)
        tick, _ = next_message(stream)
        assert security.revoke_token(push_users, name="push-hall")
        revoked = time.monotonic()
        with pytest.raises(StopIteration):  # the stream ends before its next message
            next_message(stream, after=tick)
        assert time.monotonic() - revoked <= 2.5  # 1-second ticks
    finally:
        reply.close()
    assert client.get(url(EAST)).status_code == 401


def test_every_screen_of_a_scope_gets_the_same_bytes_from_one_computation(push_app) -> None:
    hub = push_app.server.extensions[EXTENSION_KEY]
    east = push_app.server.test_client().get(url(EAST), headers=EAST_AUTH, buffered=False)
    chief = push_app.server.test_client().get(url(EAST), headers=CHIEF_AUTH, buffered=False)
    try:
        a, b = events(east), events(chief)
        tick_a, _ = next_message(a)
        published = hub.published
        tick_a, data_a = next_message(a, after=tick_a)
        tick_b, data_b = next_message(b, after=tick_a - 1)
        while tick_b < tick_a:
            tick_b, data_b = next_message(b, after=tick_b)
        assert tick_b == tick_a and data_b == data_a  # the same bytes, whoever the principal
        message = json.loads(data_a)
        assert message["base"] is not None and message["base"] < message["tick"]  # a delta on the last message
        ids = [p[0] for p in message["props"]]
        assert "status-store" in ids and "wall-applied" in ids
        assert hub.published - published <= 2  # one message per tick for the channel, not one per screen
        assert [(c.code, c.streams) for c in hub._channels.values()] == [(EAST, 2)]
    finally:
        east.close()
        chief.close()
    assert hub.streams == 0  # closed streams leave their channel


def test_streams_beyond_the_cap_are_refused_so_the_screen_polls(push_city, push_users) -> None:
    app = create_app(Settings(database_url=str(push_city.url), feeder=False, refresh_s=1, auth="basic",
                              users_file=push_users, secret_key=PUSH_SECRET, transport="push", push_streams=0))
    refused = app.server.test_client().get(url(EAST), headers=EAST_AUTH)
    assert refused.status_code == 503 and refused.headers["Retry-After"]


def test_transport_poll_has_no_stream_and_the_wall_is_told_so(push_city, push_users, push_app) -> None:
    app = create_app(Settings(database_url=str(push_city.url), feeder=False, refresh_s=1, auth="basic",
                              users_file=push_users, secret_key=PUSH_SECRET, transport="poll"))
    client = app.server.test_client()
    assert client.get(url(EAST), headers=EAST_AUTH).status_code == 404
    layout = client.post("/_dash-update-component", json=route_payload(app, f"/wall/{EAST}"), headers=EAST_AUTH)
    assert '"push_url": null' in json.dumps(layout.get_json())
    pushed = push_app.server.test_client().post("/_dash-update-component", headers=EAST_AUTH,
                                                 json=route_payload(push_app, f"/wall/{EAST}"))
    assert f'"push_url": "/{PUSH_PATH}?area={EAST}&lang=zh"' in json.dumps(pushed.get_json())


def test_transport_setting() -> None:
    assert load_settings({}).transport == "push"
    assert load_settings({"CITYWALL_TRANSPORT": "POLL"}).transport == "poll"
    with pytest.raises(SettingsError, match="CITYWALL_TRANSPORT"):
        load_settings({"CITYWALL_TRANSPORT": "websocket"})
    with pytest.raises(SettingsError, match="CITYWALL_PUSH_STREAMS"):
        load_settings({"CITYWALL_PUSH_STREAMS": "-1"})


# --- the maps' push (pages/_push_map.py) -------------------------------------------------------------

JIA = "100100001"  # a street of East


def map_url(area: str, lang: str = "zh") -> str:
    return f"/{MAP_PUSH_PATH}?area={area}&lang={lang}"


def typed_events(reply) -> Iterator[tuple[str, bytes]]:
    """The stream's events as (type, data) as they arrive ("message" when the event names none)."""
    buffer = b""
    for chunk in reply.response:
        buffer += chunk
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            kind, data = "message", None
            for line in event.split(b"\n"):
                if line.startswith(b"event: "):
                    kind = line[7:].decode()
                elif line.startswith(b"data: "):
                    data = line[6:]
            if data is not None:
                yield kind, data


def next_map(stream: Iterator[tuple[str, bytes]], check=lambda msg: True, *,
             timeout: float = 10.0) -> tuple[dict, bytes]:
    """The next map event that passes ``check``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kind, data = next(stream)
        if kind == "map" and check(json.loads(data)):
            return json.loads(data), data
    raise AssertionError("no such map message in time")


def open_incident(engine, iid: str, street: str = JIA) -> None:
    now = utc_now()
    with engine.begin() as conn:
        conn.execute(schema.incidents.insert().values(
            incident_id=iid, category="public_safety", subcategory="crowd_gathering", source="patrol", priority=2,
            status="reported", street_code=street, district_code=street[:6], reported_at=now - timedelta(minutes=1),
            due_at=now + timedelta(hours=1), closed_at=None, lat=31.2, lon=121.4))


def test_a_map_stream_is_refused_outside_the_principals_scope(push_app, push_users) -> None:
    client = push_app.server.test_client()
    assert client.get(map_url(EAST)).status_code == 401
    for area in (WEST, CITY, "100200001"):
        refused = client.get(map_url(area), headers=EAST_AUTH)
        assert refused.status_code == 403, area
        assert refused.mimetype != "text/event-stream" and "西区" not in refused.get_data(as_text=True)
    assert client.get(map_url("999999"), headers=EAST_AUTH).status_code == 404
    assert client.get(map_url("1' or '1"), headers=EAST_AUTH).status_code == 404
    token = security.create_token(push_users, name="push-map-hall", scope=EAST)
    kiosk = push_app.server.test_client()
    assert kiosk.get(f"/wall/{EAST}?kiosk=1&token={token}").status_code == 302
    assert kiosk.get(map_url(WEST)).status_code == 403
    reply = kiosk.get(map_url(JIA), buffered=False)  # a street inside the token's scope
    try:
        assert reply.status_code == 200 and reply.mimetype == "text/event-stream"
        assert reply.headers["X-Accel-Buffering"] == "no"
        stream = typed_events(reply)
        msg, _ = next_map(stream)
        assert msg["area"] == JIA and msg["lang"] == "zh"
        assert security.revoke_token(push_users, name="push-map-hall")
        revoked = time.monotonic()
        with pytest.raises(StopIteration):  # ends before its next message
            next_map(stream, lambda m: m["tick"] > msg["tick"] + 1)
        assert time.monotonic() - revoked <= 2.5
    finally:
        reply.close()


def test_every_map_screen_of_an_area_gets_the_same_counts_from_one_computation(push_map_app) -> None:
    app, engine = push_map_app
    hub = app.server.extensions[MAP_EXTENSION_KEY]
    east = app.server.test_client().get(map_url(EAST), headers=EAST_AUTH, buffered=False)
    chief = app.server.test_client().get(map_url(EAST), headers=CHIEF_AUTH, buffered=False)
    try:
        a, b = typed_events(east), typed_events(chief)
        first, _ = next_map(a, lambda m: m.get("sig"))
        built = hub.feed.built
        open_incident(engine, f"push-map-{engine.dialect.name}")
        changed, data_a = next_map(a, lambda m: (m.get("areas") or {}).get("set", {}).get(JIA) is not None)
        other, data_b = next_map(b, lambda m: m["tick"] >= changed["tick"])
        assert other["tick"] == changed["tick"] and data_b == data_a  # the same bytes, whoever the principal
        assert changed["base"] is not None and changed["sig"] != changed["base"]  # a delta on the last message
        assert changed["areas"]["set"][JIA][0] >= 1
        assert b'"coordinates"' not in data_a and b'"geometry"' not in data_a  # counts only, never shapes
        ticks = changed["tick"] - first["tick"]
        assert hub.feed.built - built <= ticks + 1  # one message per tick for the area, not one per screen
        quiet, _ = next_map(a, lambda m: m["tick"] > changed["tick"])
        if quiet["sig"] == changed["sig"]:  # nothing new: a heartbeat without counts
            assert quiet["base"] == quiet["sig"] and "areas" not in quiet
    finally:
        east.close()
        chief.close()


def test_the_walls_stream_carries_its_maps_counts(push_map_app) -> None:
    app, engine = push_map_app
    reply = app.server.test_client().get(url(EAST), headers=EAST_AUTH, buffered=False)
    try:
        stream = typed_events(reply)
        seen: list[tuple[str, dict]] = []
        deadline = time.monotonic() + 10
        while len([k for k, _m in seen if k == "map"]) < 3 and time.monotonic() < deadline:
            kind, data = next(stream)
            seen.append((kind, json.loads(data)))
        maps = [m for k, m in seen if k == "map"]
        assert len(maps) >= 3 and all(m["area"] == EAST and m["lang"] == "zh" for m in maps)
        walls = [m for k, m in seen if k == "message"]
        assert len(walls) >= len(maps) - 1  # one map event with each wall message, not a stream of its own
        assert app.server.extensions[MAP_EXTENSION_KEY].streams == 0
    finally:
        reply.close()


def test_map_streams_count_against_the_cap_with_the_walls(push_city, push_users) -> None:
    app = create_app(Settings(database_url=str(push_city.url), feeder=False, refresh_s=1, auth="basic",
                              users_file=push_users, secret_key=PUSH_SECRET, transport="push", push_streams=1))
    client = app.server.test_client()
    wall = client.get(url(EAST), headers=EAST_AUTH, buffered=False)
    try:
        assert wall.status_code == 200
        refused = client.get(map_url(EAST), headers=EAST_AUTH)
        assert refused.status_code == 503 and refused.headers["Retry-After"]
    finally:
        wall.close()


def test_transport_poll_has_no_map_stream_and_the_map_is_told_so(push_city, push_users, push_app) -> None:
    app = create_app(Settings(database_url=str(push_city.url), feeder=False, refresh_s=1, auth="basic",
                              users_file=push_users, secret_key=PUSH_SECRET, transport="poll"))
    assert app.server.test_client().get(map_url(EAST), headers=EAST_AUTH).status_code == 404
    polled = json.dumps(app.server.test_client().post(
        "/_dash-update-component", json=route_payload(app, f"/district/{EAST}"), headers=EAST_AUTH).get_json())
    assert '"area_code": "100100"' in polled and '"push"' not in polled
    pushed = json.dumps(push_app.server.test_client().post(
        "/_dash-update-component", json=route_payload(push_app, f"/district/{EAST}"), headers=EAST_AUTH).get_json())
    assert f'"push": {{"url": "/{MAP_PUSH_PATH}?area={EAST}&lang=zh", "refresh_s": 1' in pushed
    wall = json.dumps(push_app.server.test_client().post(
        "/_dash-update-component", json=route_payload(push_app, f"/wall/{EAST}"), headers=EAST_AUTH).get_json())
    assert '"push": {"url": null, "refresh_s": 1' in wall  # the wall's map rides on the wall's stream


def test_on_sqlite_the_hub_takes_the_tick_computers_render_and_reads_no_database(push_app) -> None:
    """Issue 16, item 2 with push: on SQLite (the tick computer on by default) each tick's reads run in
    the computer's threads; the hub only takes their result, never reads the database in a web worker."""
    import sqlalchemy as sa

    hub = push_app.server.extensions[EXTENSION_KEY]
    assert hub.runtime.cache.computer  # SQLite: CITYWALL_TICK_COMPUTER=auto is on
    threads: list[str] = []

    def note(*_args: object) -> None:
        threads.append(threading.current_thread().name)

    reply = push_app.server.test_client().get(url(EAST), headers=EAST_AUTH, buffered=False)
    try:
        stream = events(reply)
        tick, _ = next_message(stream)
        tick, _ = next_message(stream, after=tick)  # the scope's keys are warm from here on
        sa.event.listen(hub.runtime.engine, "before_cursor_execute", note)
        try:
            for _ in range(3):
                tick, data = next_message(stream, after=tick)
                assert json.loads(data)["base"] is not None  # each tick's delta came
        finally:
            sa.event.remove(hub.runtime.engine, "before_cursor_execute", note)
    finally:
        reply.close()
    assert threads and set(threads) <= {"citywall-tick-warmer", "citywall-tick-computer"}, set(threads)
