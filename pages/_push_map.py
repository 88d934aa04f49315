"""Push for the maps (issue 16, item 1): each tick's map counts computed once per area and language
and sent, the same bytes, to every screen showing that map, next to the wall's push (pages/_push.py).

A map message is one server-sent event of type ``map``: the counts that changed since the
channel's previous message (``base``, that message's ``sig``, the map's signature), the colour
breaks and legend when they changed, a street's points added and removed; never geometry (the
layout sent it once; assets/map.js styles the features from the layers' ``hideout``). A screen
whose map holds ``base`` applies it; one holding ``sig`` already has it; any other asks for its own
delta with one poll (assets/map_push.js), as the wall's screens do.

- **The wall's map** rides on the wall's own stream: its event is appended to each tick's wall
  message (``PushHub.parts``), so a wall screen holds one stream, not two.
- **Every other map** (the city, district and street pages, the incident list's) opens
  ``GET <prefix>_citywall/push/map?area=<code>&lang=<xx>[&lang_param=<xx>]``: a second hub of the
  same kind (``MapHub``), behind the same checks (``checked_stream_request``: the role "wall", the
  principal's scope for the area, before it subscribes; ``still_allowed``: authenticated again before
  each message, so a revoked kiosk token ends it within a tick). Its streams count against
  CITYWALL_PUSH_STREAMS together with the wall's.

Both hubs take the map's update as a poll does (``read_map_update``: this tick's, else the previous
tick's while the tick warmer computes it late in the window) and the delta through the tick cache
(``read_map_delta``: with CITYWALL_REDIS_URL one computation for every worker and host); ``MapFeed``
builds the message's bytes once per area, language, base and tick for both hubs of the process.
While a map's channel is open its children's shapes are read ahead as its poll would have them
(``keep_children_ready``).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import dash
import flask
from plotly.io.json import to_json_plotly
from sqlalchemy.exc import SQLAlchemyError

from components.i18n import t
from data_access.errors import first_line
from data_access.models import LANGUAGES
from data_access.readers.areas import read_area
from data_access.readers.map import keep_children_ready, read_map_delta
from data_access.runtime import CityWallRuntime
from pages._map import geometry_loader, map_legend, map_update
from pages._push import (
    EXTENSION_KEY,
    Channel,
    PushHub,
    checked_stream_request,
    event_stream,
    still_allowed,
)
from security import current_principal

log = logging.getLogger(__name__)

MAP_PUSH_PATH = "_citywall/push/map"
MAP_EXTENSION_KEY = "citywall_push_map"
MAP_EVENT = "map"  # the event type of a map message (assets/map_push.js listens to it)

Key = tuple[str, str]  # (area code, language)


def map_push(runtime: CityWallRuntime, code: str, lang: str, lang_param: str | None, *,
             on_wall_stream: bool = False) -> dict[str, Any] | None:
    """What a live map's scope store says about its push (assets/map_push.js): ``url`` of its own
    stream, or None when it rides on the wall's (``on_wall_stream``); None altogether with
    CITYWALL_TRANSPORT=poll (the map polls, as before)."""
    if runtime.settings.transport != "push":
        return None
    url = None
    if not on_wall_stream:
        url = dash.get_relative_path("/" + MAP_PUSH_PATH) + f"?area={code}&lang={lang}" + (
            f"&lang_param={lang_param}" if lang_param in LANGUAGES else "")
    return {"url": url, "refresh_s": runtime.settings.refresh_s}


def map_event(body: dict[str, Any]) -> bytes:
    """One server-sent event of type ``map`` (compact JSON: no newline)."""
    return f"event: {MAP_EVENT}\ndata: {to_json_plotly(body)}\n\n".encode()


class MapFeed:
    """The map messages of one process: one per area, language, base and tick, whichever hub asks."""

    def __init__(self, runtime: CityWallRuntime) -> None:
        self.runtime = runtime
        self._guard = threading.Lock()  # one build at a time: the second hub asking finds the first's bytes
        self._built: dict[Key, tuple[int, str | None, bytes, str | None]] = {}  # -> (tick, base, bytes, sig)
        self.built = 0  # messages built (tests, benchmarks)

    def message(self, code: str, lang: str, base: str | None, tick: int) -> tuple[bytes, str | None]:
        """(``tick``'s map event for screens holding ``base``, the signature it brings; None when the
        read failed: the event then carries the map's error, as a failed poll does)."""
        with self._guard:
            hit = self._built.get((code, lang))
            if hit is not None and hit[0] == tick and hit[1] == base:
                return hit[2], hit[3]
            message, sig = self._build(code, lang, base, tick)
            self._built[(code, lang)] = (tick, base, message, sig)
            self.built += 1
            return message, sig

    def _build(self, code: str, lang: str, base: str | None, tick: int) -> tuple[bytes, str | None]:
        runtime = self.runtime
        body: dict[str, Any] = {"area": code, "lang": lang, "tick": tick, "ready_ms": int(time.time() * 1000)}
        try:  # the scope was checked when each stream subscribed: the feed reads as the city
            area = read_area(runtime=runtime, scope=None, code=code)
            if area is None:
                return b"", None
            update = map_update(runtime, area, lang, scope=None)
            body.update(sig=update.signature, base=None)
            if base == update.signature:
                body["base"] = base  # nothing changed: the tick's heartbeat (the map is live)
            elif base is not None:
                delta = read_map_delta(runtime=runtime, scope=None, area=area, lang=lang, signature=base,
                                       update=update)
                if delta is not None:
                    body.update(
                        base=base,
                        areas={"set": delta.areas_set, "del": delta.areas_del}
                        if delta.areas_set or delta.areas_del else None,
                        cells={"set": delta.cells_set, "del": delta.cells_del}
                        if delta.cells_set or delta.cells_del else None,
                        breaks=delta.breaks,
                        legend=None if delta.breaks is None else map_legend(runtime, area, lang, update.breaks),
                        points={"remove": [f["properties"]["iid"] for f in delta.points_remove],
                                "add": delta.points_add} if delta.points_remove or delta.points_add else None)
        except SQLAlchemyError as exc:  # what a failed poll shows; the screens keep their counts
            log.warning("map push of %s failed: %s", code, first_line(exc))
            return map_event({**body, "error": t("map_error", lang)}), None
        except Exception as exc:  # noqa: BLE001 - never the wall's message lost for its map's sake
            log.warning("map push of %s failed: %s", code, first_line(exc))
            return b"", None
        return map_event(body), update.signature

    def keep_ready(self, code: str, lang: str, lang_params: list[str | None]) -> None:
        """Read the children's shapes of a pushed map ahead, as its poll did (a drill-down finds them)."""
        try:
            area = read_area(runtime=self.runtime, scope=None, code=code)
            if area is None:
                return
            for lang_param in lang_params:
                keep_children_ready(runtime=self.runtime, scope=None, area=area, lang=lang, lang_param=lang_param,
                                    load=geometry_loader(self.runtime, lang, lang_param))
        except Exception as exc:  # noqa: BLE001 - read-ahead is a convenience
            log.warning("map read-ahead of %s failed: %s", code, first_line(exc))


class WallMapPart:
    """The wall's map's event on each wall message (a ``PushHub.parts`` entry of the wall's hub)."""

    def __init__(self, feed: MapFeed) -> None:
        self.feed = feed
        self._sig: dict[Key, str] = {}  # the signature each wall channel's last map event brought

    def __call__(self, channel: Channel, tick: int) -> bytes:
        key = (channel.code, channel.lang)
        message, sig = self.feed.message(channel.code, channel.lang, self._sig.get(key), tick)
        if sig is not None:
            self._sig[key] = sig
        self.feed.keep_ready(channel.code, channel.lang, [None])  # the wall's map links without ?lang
        return message


class MapHub(PushHub):
    """The map streams of one process (every map but the wall's): a channel per area and language,
    its message each tick from the ``MapFeed``."""

    def __init__(self, runtime: CityWallRuntime, feed: MapFeed) -> None:
        super().__init__(runtime)
        self.feed = feed
        self._sig: dict[Key, str] = {}
        self._params: dict[Key, Counter] = {}  # the ?lang_param= of each channel's streams (the read-ahead's links)

    def stream_map(self, channel: Channel, allowed: Any, lang_param: str | None) -> Iterator[bytes]:
        key = (channel.code, channel.lang)
        with self._guard:
            self._params.setdefault(key, Counter())[lang_param] += 1
        try:
            yield from self.stream(channel, allowed)
        finally:
            with self._guard:
                self._params[key][lang_param] -= 1

    def publish(self, channel: Channel, tick: int) -> None:
        key = (channel.code, channel.lang)
        message, sig = self.feed.message(channel.code, channel.lang, self._sig.get(key), tick)
        if not message:
            return
        if sig is not None:
            self._sig[key] = sig
        with self._guard:
            params = [p for p, n in self._params.get(key, Counter()).items() if n > 0]
        self.feed.keep_ready(channel.code, channel.lang, params)
        with channel.cond:
            channel.message = message
            channel.tick = tick
            channel.seq += 1
            channel.cond.notify_all()
        self.published += 1


def install_push_map(app: dash.Dash, runtime: CityWallRuntime) -> MapHub:
    """The maps' push route and hub, and the wall's map's event on the wall's stream (after
    ``install_push``, whose hub it joins)."""
    server: flask.Flask = app.server
    wall_hub: PushHub = server.extensions[EXTENSION_KEY]
    feed = MapFeed(runtime)
    wall_hub.parts.append(WallMapPart(feed))
    hub = MapHub(runtime, feed)
    hub.neighbours.append(wall_hub)
    wall_hub.neighbours.append(hub)
    server.extensions[MAP_EXTENSION_KEY] = hub
    prefix = app.config.routes_pathname_prefix or "/"

    def push_map() -> Any:
        checked = checked_stream_request(runtime, hub)
        if isinstance(checked, flask.Response):
            return checked
        code, lang = checked
        allowed = still_allowed(server, runtime, code, {"principal": current_principal()})
        lang_param = flask.request.args.get("lang_param")
        channel = hub.subscribe(code, lang)
        return event_stream(hub.stream_map(channel, allowed, lang_param if lang_param in LANGUAGES else None))

    server.add_url_rule(prefix + MAP_PUSH_PATH, "citywall_push_map", push_map)
    return hub
