"""The wall fleet (issue 15, item 4): every screen showing CityWall, kept from the heartbeats its
existing tick callback carries (no request of its own), in the tick cache's shared row store
(``runtime.cache.rows``: Redis when CITYWALL_REDIS_URL is set, so right across every worker and
host; in-process otherwise), never in the city's database.

A screen is a browser tab: its id is made by the page's layout and kept by the tab (sessionStorage,
assets/fleet.js), so a kiosk wall rotating through its playlist, or reloading after a deploy, stays
one screen; a tab that died without handing it over takes it back from its lease in localStorage.
Where that could not hold, the list folds an OFFLINE or gone row into the newer connected one of the
same name and scope (``_with_status``).

Its row: name (``?screen=``, else the kiosk token's name), page and scope, kiosk or not, the tick
it last applied, the app version it loaded, connected since, last heard, last good data, and when
it said goodbye (the tab closed or left CityWall: assets/fleet.js on ``pagehide``).

Its status now: ``gone`` when its goodbye is its last word (for more than a tick: a reload or a
kiosk's next page says hello again sooner); ``offline`` when it has had no good
data for OFFLINE_TICKS ticks (it is silent: the network, the tab or the browser is gone; or the
server answers it without data: the database is away), as the wall's own OFFLINE badge does;
else ``connected``. An outage that ended is an event pair (``wall_offline`` at the moment it had
been without data for OFFLINE_TICKS ticks, ``wall_back`` when good data reached it again), kept
for EVENT_KEEP_S; an outage still going on is read from the rows (``fleet_events``).
"""
from __future__ import annotations

import re
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from data_access.areas import valid_code
from data_access.runtime import CityWallRuntime

TABLE = "fleet"
EVENTS = "fleet-events"
OFFLINE_TICKS = 3  # as the wall's own badge: no good data for 3 ticks is OFFLINE
SLACK_S = 1.0  # a poll's own scheduling and a slow reply
ROW_KEEP_S = 26 * 3600  # a silent screen's row (its outage is read from it): over a day
EVENT_KEEP_S = 26 * 3600  # the shift log reads 24 h and more
MOVING_S = 60.0  # a screen on its way to its next page (a slow board on a busy night) is not gone yet
GONE_SHOWN_S = 3600  # the fleet page lists screens that said goodbye within the last hour
SCREEN_ID = re.compile(r"^[0-9a-f]{32}$")
VERSION = re.compile(r"^[0-9A-Za-z._-]{1,32}$")
NAME_CHARS = 40
PAGE_CHARS = 80
EVENT_COLUMNS = ["at", "kind", "screen", "page", "scope_code"]
SCREEN_COLUMNS = ["screen_id", "name", "principal", "token", "page", "scope_code", "kiosk", "tick", "version",
                  "since", "seen", "good", "status", "offline_since"]


@dataclass(frozen=True)
class ScreenSeed:
    """What a screen's page said about it (its layout's fleet store, sent back with each tick)."""
    screen_id: str
    scope_code: str | None  # the area its page shows (as its layout said)
    load: str | None  # this page load's own id: a poll still in flight when its tab said goodbye is no comeback
    page: str
    name: str | None
    kiosk: bool
    version: str


def _text(value: object, limit: int) -> str | None:
    """A short printable text from the browser, or None (control characters and blanks dropped)."""
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C").strip()
    return text[:limit] or None


def screen_name(value: object) -> str | None:
    """``?screen=<name>`` as the fleet shows it (or None)."""
    return _text(value, NAME_CHARS)


def parse_seed(data: object) -> ScreenSeed | None:
    """The fleet store a page sent, or None when it is not one (an old page, a forged one)."""
    if not isinstance(data, dict):
        return None
    screen_id = data.get("id")
    page = _text(data.get("page"), PAGE_CHARS)
    if not isinstance(screen_id, str) or not SCREEN_ID.match(screen_id) or page is None or not page.startswith("/"):
        return None
    version = data.get("version")
    load = data.get("load")
    scope = data.get("scope")
    return ScreenSeed(screen_id=screen_id, scope_code=scope if valid_code(scope) else None,
                      load=load if isinstance(load, str) and SCREEN_ID.match(load) else None,
                      page=page, name=screen_name(data.get("name")),
                      kiosk=data.get("kiosk") is True,
                      version=version if isinstance(version, str) and VERSION.match(version) else "")


def new_seed(*, page: str, scope_code: str | None, name: object, kiosk: bool, version: str) -> dict:
    """The fleet store a page's layout gives a screen: a new screen id (a tab that has one already
    keeps its own: assets/fleet.js), its page, its ``?screen=`` name, kiosk or not, the version it loaded."""
    return {"id": uuid.uuid4().hex, "page": page[:PAGE_CHARS], "scope": scope_code, "name": screen_name(name),
            "kiosk": bool(kiosk), "version": version}


def _offline_after(runtime: CityWallRuntime) -> float:
    return OFFLINE_TICKS * runtime.settings.refresh_s + SLACK_S


def _gone_after(runtime: CityWallRuntime, row: dict) -> float:
    """How long after its goodbye a screen is shown gone: a reload or a kiosk's next page comes back
    sooner; a page that said it goes to another page of the site (``moving``) gets MOVING_S for it."""
    ticks = runtime.settings.refresh_s + SLACK_S
    return max(ticks, MOVING_S) if row.get("bye_moving") else ticks


def _status(row: dict, *, now: float, offline_after: float, gone_after: float) -> str:
    bye = row.get("bye")
    if bye is not None and bye >= row["seen"]:
        return "gone" if now - bye > gone_after else "connected"  # (leaving: perhaps for its next page)
    good = row.get("good")
    if now - (good if good is not None else row["since"]) > offline_after:
        return "offline"
    return "connected"


def _shown_name(row: dict) -> str:
    return row.get("name") or f"#{row['id'][:6]}"


def _event(row: dict, kind: str) -> dict:
    return {"kind": kind, "screen": _shown_name(row), "page": row.get("page"), "scope_code": row.get("scope_code")}


def note_heartbeat(*, runtime: CityWallRuntime, seed: object, principal: str, token_name: str | None,
                   scope_code: str | None, tick: int | None, ok: bool, now: float | None = None) -> None:
    """One screen's tick: ``seed`` its page's fleet store, ``principal`` who it is signed in as,
    ``token_name`` the kiosk token's name (it names a screen without ``?screen=``), ``tick`` the tick it says it last
    applied (None: the server's tick when ``ok``), ``ok`` whether this reply carries good data.
    A screen back from an outage (no good data for OFFLINE_TICKS ticks) logs the outage's two events."""
    screen = parse_seed(seed)
    if screen is None:
        return
    store = runtime.cache.rows
    now = time.time() if now is None else now
    key = f"{principal}|{screen.screen_id}"
    row = store.get(TABLE, key)
    known = row is not None  # its write needs no check of the store's limit (one Redis round trip less)
    if tick is None and ok:
        tick = runtime.cache.tick(now)
    offline_after = _offline_after(runtime)
    said_bye = row is not None and row.get("bye") is not None and row["bye"] >= row["seen"]
    if said_bye and screen.load is not None and screen.load == row.get("bye_load"):
        return  # the closing page's last poll, answered after its goodbye: it stays gone
    if row is None or said_bye and now - row["bye"] > max(offline_after, _gone_after(runtime, row)):
        row = {"id": screen.screen_id, "since": now, "good": None, "bye": None, "tick": None}  # new: connected anew
    elif ok and not said_bye:  # (back within a few seconds of a goodbye: a reload or a kiosk's next page)
        last_good = row["good"] if row.get("good") is not None else row["since"]
        if now - last_good > offline_after:  # it had been OFFLINE: the outage ends now
            store.add_event(EVENTS, _event(row, "wall_offline"), at=last_good + offline_after, keep_s=EVENT_KEEP_S)
            store.add_event(EVENTS, _event(row, "wall_back"), at=now, keep_s=EVENT_KEEP_S)
    row.update(name=screen.name or token_name, principal=principal, token=token_name, page=screen.page,
               scope_code=scope_code, kiosk=screen.kiosk, version=screen.version, seen=now, bye=None)
    if ok:
        row["good"] = now
        row["tick"] = tick if tick is not None else row.get("tick")
    store.put(TABLE, key, row, at=now, new=not known)


def note_goodbye(*, runtime: CityWallRuntime, seed: object, principal: str, now: float | None = None) -> bool:
    """The screen's tab closed or left CityWall (its page's ``pagehide``): it is gone, not OFFLINE.
    Only the row of the principal it is signed in as (the key holds who it is)."""
    screen = parse_seed(seed)
    if screen is None:
        return False
    store = runtime.cache.rows
    key = f"{principal}|{screen.screen_id}"
    row = store.get(TABLE, key)
    now = time.time() if now is None else now
    if row is None:
        if screen.load is None:
            return False
        # Its first heartbeat is still on its way (the tab closed right after it opened): the row says
        # goodbye already, so that heartbeat, answered later, does not make it a screen gone silent.
        row = {"id": screen.screen_id, "since": now, "seen": now, "good": None, "tick": None, "name": screen.name,
               "principal": principal, "token": None, "page": screen.page, "scope_code": screen.scope_code,
               "kiosk": screen.kiosk, "version": screen.version}
    row["bye"] = max(now, row["seen"])
    row["bye_load"] = screen.load
    row["bye_moving"] = isinstance(seed, dict) and seed.get("moving") is True
    return store.put(TABLE, key, row, at=now)


def _utc(seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None, microsecond=0)


def _with_status(runtime: CityWallRuntime, rows: list[dict], *, now: float,
                 gone_after: float | None = None) -> list[tuple[dict, str, dict | None]]:
    """Each row with its status now and the newer row that supersedes it, if any: a connected screen
    of the same name and scope that began after this one was last heard (the same physical screen
    back under a new id — a crashed tab, a restarted browser — while this one is OFFLINE or gone).
    A screen with no name (neither ``?screen=`` nor a kiosk token) is never superseded."""
    offline_after = _offline_after(runtime)
    found = [(row, _status(row, now=now, offline_after=offline_after,
                           gone_after=_gone_after(runtime, row) if gone_after is None else gone_after)) for row in rows]
    live: dict[tuple[str, str | None], list[dict]] = {}
    for row, status in found:
        if status == "connected" and row.get("name"):
            live.setdefault((row["name"], row.get("scope_code")), []).append(row)
    out = []
    for row, status in found:
        newer = None
        if status != "connected" and row.get("name"):
            later = [r for r in live.get((row["name"], row.get("scope_code")), []) if r["since"] >= row["seen"]]
            newer = min(later, key=lambda r: r["since"]) if later else None
        out.append((row, status, newer))
    return out


def fleet_screens(*, runtime: CityWallRuntime, now: float | None = None) -> pd.DataFrame:
    """Every screen of the fleet now (SCREEN_COLUMNS; times naive UTC): connected and OFFLINE ones
    (an OFFLINE one until its row expires, ROW_KEEP_S of silence), and those gone within
    GONE_SHOWN_S; connected first, then OFFLINE, then gone, by name. One row per physical screen: an
    OFFLINE or gone row superseded by a newer connected one of the same name and scope is not listed."""
    now = time.time() if now is None else now
    offline_after = _offline_after(runtime)
    records = []
    for row, status, newer in _with_status(runtime, runtime.cache.rows.rows(TABLE, keep_s=ROW_KEEP_S, now=now),
                                           now=now):
        if status == "gone" and now - row["bye"] > GONE_SHOWN_S or newer is not None:  # (gone: listed an hour)
            continue
        last_good = row["good"] if row.get("good") is not None else row["since"]
        records.append({
            "screen_id": row["id"], "name": _shown_name(row), "principal": row.get("principal"),
            "token": row.get("token") if isinstance(row.get("token"), str) else None, "page": row.get("page"),
            "scope_code": row.get("scope_code"),
            "kiosk": bool(row.get("kiosk")), "tick": row.get("tick"), "version": row.get("version") or "",
            "since": _utc(row["since"]), "seen": _utc(row["seen"]), "good": _utc(row.get("good")),
            "status": status, "offline_since": _utc(last_good + offline_after) if status == "offline" else None,
        })
    frame = pd.DataFrame.from_records(records, columns=SCREEN_COLUMNS)
    if frame.empty:
        return frame
    order = frame["status"].map({"connected": 0, "offline": 1, "gone": 2})
    return frame.assign(_order=order).sort_values(["_order", "name", "screen_id"]).drop(columns="_order") \
        .reset_index(drop=True)


def _epoch(value: datetime) -> float:
    """A naive-UTC (or aware) datetime as epoch seconds."""
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def fleet_events(*, runtime: CityWallRuntime, since: datetime, until: datetime,
                 now: float | None = None) -> pd.DataFrame:
    """Walls that went OFFLINE and came back, ``since <= at < until`` (naive UTC, or aware), for the
    shift log: columns ``at`` (naive UTC), ``kind`` ('wall_offline' | 'wall_back'), ``screen`` (its
    name, or # and its id's start), ``page``, ``scope_code``; oldest first. An outage still going on
    has its 'wall_offline' only. Kept EVENT_KEEP_S (over 24 h)."""
    start, end = _epoch(since), _epoch(until)
    now = time.time() if now is None else now
    offline_after = _offline_after(runtime)
    store = runtime.cache.rows
    found = [(event["at"], event) for event in store.events(EVENTS, since=start, until=end)]
    for row, status, newer in _with_status(runtime, store.rows(TABLE, keep_s=ROW_KEEP_S, now=now), now=now,
                                           gone_after=0.0):
        if status == "offline":
            at = (row["good"] if row.get("good") is not None else row["since"]) + offline_after
            if start <= at < end:
                found.append((at, _event(row, "wall_offline")))
            if newer is not None and start <= newer["since"] < end:  # back, under a new id
                found.append((newer["since"], _event(row, "wall_back")))
    found.sort(key=lambda item: (item[0], item[1]["kind"] != "wall_offline", str(item[1]["screen"])))
    return pd.DataFrame.from_records(
        [{"at": _utc(at), "kind": e["kind"], "screen": e["screen"], "page": e.get("page"),
          "scope_code": e.get("scope_code")} for at, e in found], columns=EVENT_COLUMNS)
