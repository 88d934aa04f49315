"""Push (issue 16, item 1): each tick's wall reply computed once per scope and language and sent,
the same bytes, to every screen of that scope over server-sent events.

``GET <prefix>_citywall/push?area=<code>&lang=<xx>`` is an ordinary request of the Flask app: the
security gate authenticates it first (session cookie of a kiosk token, basic or header auth), then
this route checks the role ("wall") and the principal's scope for the area before it subscribes the
stream. Before each message the stream authenticates its request again (``authenticate_again``):
a revoked kiosk token or a scope that no longer covers the area ends it at once, the browser's
reconnection is refused, and the wall says ACCESS REVOKED as it does when a poll is refused. A
stream also ends after CITYWALL_PUSH_STREAM_MAX_S (300 s; the browser reconnects at once).

One process holds one ``PushHub``: a channel per (area, language) with at least one open stream,
and one thread that, just after each tick window starts, asks the wall for its reply to screens
that applied the channel's previous message (``pages/wall.py wall_outputs`` with that tick as
``applied_tick``, the very function a poll runs). That reply comes through the tick cache (``read_wall_render``,
``read_wall_reply``): with CITYWALL_REDIS_URL one computation per scope, language and tick across
all workers and hosts, the others read it; the hub serialises it once and wakes every stream of
the channel, which writes those bytes. Each message says which tick it is and which tick it is a
delta against (``base``); a screen that holds another tick asks for its own reply with one poll
(assets/push.js), so a missed tick never leaves a tile behind.

Each open stream holds one server thread while it waits (WSGI): ``CITYWALL_PUSH_STREAMS`` caps the
streams of one process (503 beyond; those screens poll), and gunicorn's ``--threads`` must exceed it
(docs/performance.md, "Push").
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dash
import flask
from plotly.io.json import to_json_plotly

from components.i18n import pick_language
from data_access.areas import require_within, valid_code, within_scope
from data_access.errors import first_line
from data_access.runtime import CityWallRuntime
from pages._fleet import stream_beat, stream_screen
from security import authenticate_again, current_principal
from security.policy import require_role

log = logging.getLogger(__name__)

PUSH_PATH = "_citywall/push"
EXTENSION_KEY = "citywall_push"
RETRY_MS = 1000  # the browser's reconnection delay after a stream ends or breaks (server restart)
HEARTBEAT_S = 15.0  # a comment line when no tick came (a proxy's idle timeout never closes a quiet stream)
PUBLISH_DELAY_S = 0.03  # after the window starts (the tick warmer starts at +0.02 s: data_access/cache.py)
STALE_RETRY_S = 0.05  # another worker is computing this tick's render: ask again this soon
IDLE_TICKS = 3  # the hub's thread ends after this many ticks without a stream

Source = Callable[..., tuple]
_source: list[tuple[Source, tuple[tuple[str, str], ...]]] = []


def register_wall_source(outputs_of: Source, outputs: tuple[tuple[str, str], ...]) -> None:
    """pages/wall.py hands in its reply function and what each of its values sets (id, property)."""
    _source[:] = [(outputs_of, outputs)]


@dataclass
class Channel:
    """The screens of one area and language in this process, and the newest message for them."""

    code: str
    lang: str
    cond: threading.Condition = field(default_factory=threading.Condition)
    seq: int = 0
    message: bytes = b""
    tick: int | None = None
    ok: bool = True  # whether the newest message carries good data (the wall fleet's heartbeat says so)
    streams: int = 0


def sse(message_id: int, data: str) -> bytes:
    """One server-sent event (``data`` is compact JSON: no newline)."""
    return f"id: {message_id}\ndata: {data}\n\n".encode()


def push_message(tick: int, values: tuple, outputs: tuple[tuple[str, str], ...], *, base: int | None,
                 ready_ms: int) -> bytes:
    """The bytes every screen of a channel gets for ``tick``: the props the wall reply sets (none for
    dash.no_update), the tick it is a delta against (``base``, the channel's previous message; None:
    apply it whatever you hold: everything, or a status alone) and when the server had it ready
    (epoch ms; the benchmark's delivery clock)."""
    props = [[ident, prop, value] for (ident, prop), value in zip(outputs, values, strict=True)
             if value is not dash.no_update]
    status_only = all(ident == outputs[3][0] for ident, _prop, _value in props)
    body = {"tick": tick, "base": None if status_only else base, "ready_ms": ready_ms, "props": props}
    return sse(tick, to_json_plotly(body))


class PushHub:
    """The push channels of one process and the thread that fills them once per tick."""

    def __init__(self, runtime: CityWallRuntime) -> None:
        self.runtime = runtime
        self._channels: dict[tuple[str, str], Channel] = {}
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self.streams = 0
        self.published = 0  # messages built (tests, benchmarks)
        # What rides on each message of a channel (pages/_push_map.py: the wall's map's counts), as
        # further events appended to the same bytes: (channel, tick) -> bytes, never raising.
        self.parts: list[Callable[[Channel, int], bytes]] = []
        # Other hubs of this process (the maps'): CITYWALL_PUSH_STREAMS caps their streams together.
        self.neighbours: list[PushHub] = []

    def full(self) -> bool:
        return self.streams + sum(hub.streams for hub in self.neighbours) >= self.runtime.settings.push_streams

    def subscribe(self, code: str, lang: str) -> Channel:
        with self._guard:
            channel = self._channels.setdefault((code, lang), Channel(code=code, lang=lang))
            channel.streams += 1
            self.streams += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="citywall-push", daemon=True)
                self._thread.start()
            return channel

    def unsubscribe(self, channel: Channel) -> None:
        with self._guard:
            channel.streams -= 1
            self.streams -= 1

    def stream(self, channel: Channel, allowed: Callable[[], bool],
               sent: Callable[[int | None, bool], None] | None = None) -> Iterator[bytes]:
        """What one screen's response body writes: the newest message at once, then each tick's, while
        ``allowed()`` (asked before each: a revoked token or a changed scope ends the stream at once);
        ``sent(tick, ok)`` after each tick's message (the screen's heartbeat in the wall fleet)."""
        try:
            with channel.cond:
                seq, first = channel.seq, channel.message
            yield f"retry: {RETRY_MS}\n\n".encode() + first
            end = time.monotonic() + self.runtime.settings.push_stream_max_s  # then the browser reconnects
            while time.monotonic() < end:
                with channel.cond:
                    channel.cond.wait_for(lambda seen=seq: channel.seq != seen, timeout=HEARTBEAT_S)
                    fresh = channel.seq != seq
                    message = channel.message if fresh else b": ka\n\n"
                    tick, ok = channel.tick, channel.ok
                    seq = channel.seq
                if not allowed():
                    return  # the browser reconnects, is refused, and its wall says so (statusBar asks the session)
                yield message
                if fresh and sent is not None:
                    sent(tick, ok)
        finally:  # the screen went away (a failed write closes the body) or the stream ended
            self.unsubscribe(channel)

    def _loop(self) -> None:
        cache = self.runtime.cache
        refresh_s = self.runtime.settings.refresh_s
        idle = 0
        try:
            while True:
                now = time.time()
                time.sleep(max(0.0, (cache.tick(now) + 1) * refresh_s - now + PUBLISH_DELAY_S))
                tick = cache.tick()
                with self._guard:
                    for key in [k for k, c in self._channels.items() if c.streams <= 0]:
                        del self._channels[key]
                    channels = list(self._channels.values())
                    idle = 0 if channels else idle + 1
                    if idle >= IDLE_TICKS:
                        self._thread = None
                        return
                for channel in channels:
                    self.publish(channel, tick)
        except SystemExit:  # a test server's thread killer ends it: end quietly
            return

    def publish(self, channel: Channel, tick: int) -> None:
        """Build ``tick``'s message for ``channel`` and wake its streams (a render still being
        computed elsewhere is asked for again until most of the window is gone; then the newest
        render there is goes out, when it is newer than the last message). The message is
        the delta against the channel's previous one (a tick may be skipped when its render came
        too late: the next message is against the last one sent, so its screens stay in step)."""
        if not _source:
            return
        outputs_of, outputs = _source[0]
        refresh_s = self.runtime.settings.refresh_s
        deadline = (tick + 0.8) * refresh_s
        while True:
            try:  # the scope was checked when each stream subscribed: the hub reads as the city
                values = outputs_of(self.runtime, None, channel.code, channel.lang, channel.tick,
                                    now_ms=int(time.time() * 1000))
            except Exception as exc:  # noqa: BLE001 - a failed tick is an OFFLINE-counting status, never a crash
                log.warning("push tick %s of %s failed: %s", tick, channel.code, first_line(exc))
                values = tuple([dash.no_update] * 3 + [{"ok": False, "tick": tick, "version": self.runtime.version}]
                               + [dash.no_update] * 2)
            status = values[3] if isinstance(values[3], dict) else {}
            if status.get("tick", tick) >= tick or time.time() >= deadline:
                break
            time.sleep(STALE_RETRY_S)
        rendered = status.get("tick", tick)
        if channel.tick is not None and rendered <= channel.tick:
            return  # nothing newer than the last message (this tick's render is late): the next tick's loop sends it
        ok = status.get("ok") is True
        message = push_message(rendered, values, outputs, base=channel.tick, ready_ms=int(time.time() * 1000))
        message += b"".join(part(channel, rendered) for part in self.parts)
        with channel.cond:
            channel.message = message
            channel.ok = ok
            if ok:  # a failed tick is no base: the next delta is against the last good one
                channel.tick = rendered
            channel.seq += 1
            channel.cond.notify_all()
        self.published += 1


def push_url(runtime: CityWallRuntime, code: str, lang: str) -> str | None:
    """Where a wall of ``code`` in ``lang`` opens its push stream; None when the transport is "poll"."""
    if runtime.settings.transport != "push":
        return None
    return dash.get_relative_path("/" + PUSH_PATH) + f"?area={code}&lang={lang}"


def _json(status: int, message: str) -> flask.Response:
    response = flask.Response(to_json_plotly({"error": message}), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def checked_stream_request(runtime: CityWallRuntime, hub: PushHub) -> tuple[str, str] | flask.Response:
    """The area and language a push request may stream (the principal's role and scope checked:
    AccessDenied or OutsideScope, 403, before any channel), or the refusal to send (push off, no
    such area, the process's streams at their cap)."""
    settings = runtime.settings
    principal = current_principal()
    require_role(principal, "wall")  # AccessDenied: 403 (security's error handler)
    if settings.transport != "push":
        return _json(404, "push is off (CITYWALL_TRANSPORT=poll)")
    code = flask.request.args.get("area")
    if not valid_code(code) or not runtime.lineage(code):
        return _json(404, "no such area")
    require_within(runtime.lineage, code, principal.scope)  # OutsideScope: 403, before any channel
    lang = pick_language(flask.request.args.get("lang"), settings.lang)
    if hub.full():
        response = _json(503, "this server holds as many push streams as it may: poll")
        response.headers["Retry-After"] = "60"
        return response
    return str(code), lang


def still_allowed(server: flask.Flask, runtime: CityWallRuntime, code: str, who: dict[str, Any]) -> Callable[[], bool]:
    """Whether the stream's request may still have ``code``'s messages, asked before each: it is
    authenticated again (a revoked kiosk token, a scope that no longer covers the area: False);
    ``who["principal"]`` is then who it is now."""
    # The stream's own request (its cookie, its headers), to authenticate again before each message:
    # a request context of its own each time, whichever thread writes the stream.
    environ = {k: v for k, v in flask.request.environ.items() if k not in ("wsgi.input", "werkzeug.request")}

    def allowed() -> bool:
        with server.request_context(environ):
            again = authenticate_again()
        who["principal"] = again
        return again is not None and again.at_least("wall") and within_scope(runtime.lineage, code, again.scope)

    return allowed


def event_stream(body: Iterator[bytes]) -> flask.Response:
    """A push stream's response (server-sent events, never cached or buffered on the way)."""
    response = flask.Response(body, mimetype="text/event-stream", direct_passthrough=True)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def install_push(app: dash.Dash, runtime: CityWallRuntime) -> PushHub:
    """The push route and this process's hub (after ``install_security``: its gate runs first)."""
    hub = PushHub(runtime)
    server: flask.Flask = app.server
    server.extensions[EXTENSION_KEY] = hub
    prefix = app.config.routes_pathname_prefix or "/"

    def push() -> Any:
        checked = checked_stream_request(runtime, hub)
        if isinstance(checked, flask.Response):
            return checked
        code, lang = checked
        principal = current_principal()
        who: dict[str, Any] = {"principal": principal}
        allowed = still_allowed(server, runtime, code, who)

        # The wall fleet (issue 15, item 4): a pushed screen polls no more, so its stream beats for it,
        # with the fleet store its page gave it (assets/push.js sends it as ``screen``).
        screen = stream_screen(flask.request.args.get("screen"))

        def sent(tick: int | None, ok: bool) -> None:
            if screen is not None and who["principal"] is not None:
                stream_beat(runtime, screen, principal=who["principal"], scope_code=code, tick=tick, ok=ok)

        channel = hub.subscribe(code, lang)
        return event_stream(hub.stream(channel, allowed, sent))

    server.add_url_rule(prefix + PUSH_PATH, "citywall_push", push)
    return hub
