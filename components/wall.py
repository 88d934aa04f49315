"""The wall's layout, shared by ``/`` (``?scope=``) and ``/wall/<code>``; its callback lives in
pages/wall.py and fills it every tick."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from dash import dcc, html

from components import ids
from components.formatting import local_moment, local_time
from components.health import create_alarm_list, create_health, format_score, score_class
from components.i18n import LevelWords, level_label, t
from components.kpi_tile import create_incident_strip, strip_state
from components.level_panels import create_categories, create_funnel, create_ranking, ranking_rows
from components.links import own_path, page_href, wall_href
from components.replay import REPLAY_CLASS, ReplayMoment, create_replay_banner
from components.status_bar import create_status_bar
from components.takeover import create_takeover_banner
from components.vital_panel import create_vital_panels, spark_code, tile_state
from data_access.models import Area, PanelData, WallSnapshot, child_level

mid = ids.mid

ROTATE_RANGE_S = (10, 3600)
POLL_CHECK_MS = 1000  # the poll scheduler's watchdog (the polls themselves leave on a timer)


def parse_kiosk(kiosk: object, rotate: object, playlist: object) -> dict:
    """Kiosk options from the query string; anything odd is ignored, never an error."""
    on = str(kiosk).lower() in ("1", "true", "yes", "on")
    try:
        seconds = int(str(rotate))
    except ValueError:
        seconds = 0
    seconds = seconds if ROTATE_RANGE_S[0] <= seconds <= ROTATE_RANGE_S[1] else 0
    # Only this app's own pages: "//host/x", "/\\host", "https://…" or "javascript:…" would send
    # the screen off-site (components.links.own_path; assets/citywall.js checks the origin again).
    pages = [page for page in map(own_path, str(playlist or "").split(",")) if page][:50]
    return {"kiosk": on, "rotate_s": seconds, "playlist": [live_path(page) for page in pages]}


REPLAY_PARAMS = ("at", "speed")  # a kiosk never replays (issue 15): its playlist's pages lose them


def live_path(page: str) -> str:
    """``page`` (an own path, components.links.own_path) without ``?at=`` and ``?speed=``."""
    path, _, query = page.partition("?")
    kept = [part for part in query.split("&") if part and part.split("=", 1)[0] not in REPLAY_PARAMS]
    return path + ("?" + "&".join(kept) if kept else "")


def create_nav(lang: str, query: dict[str, str]) -> html.Nav:
    links = [("nav_wall", "wall"), ("nav_city", "city"), ("nav_incidents", "incidents"), ("nav_vitals", "vitals")]
    return html.Nav(className="nav", children=[
        dcc.Link(t(key, lang), href=page_href(page, **query), className="nav__link") for key, page in links
    ])


def wall_title(key: str, level: str, level_word: str | None, lang: str) -> str:
    """A wall's title ``key`` ("vital_signs", "health", "incidents") for an area of ``level``: the city's
    own words on the city wall, else the level's name as the city calls it ("District health",
    "Service region vital signs", "街道运行体征")."""
    city_keys = {"vital_signs": "app_title", "health": "health", "incidents": "incidents"}
    if level == "city" or not level_word:
        return t(city_keys[key], lang)
    word = level_word[:1].upper() + level_word[1:] if lang == "en" else level_word
    return t(f"level_{key}", lang, level=word)


def create_incident_body(*, key: str, area: Area, panels: PanelData, lang: str, lang_param: str | None,
                         incident_map: html.Div | None, now: datetime, words: LevelWords | None = None) -> html.Div:
    """The wall of a city without vital signs (only incidents imported, say): a large map beside
    the child areas ranked worst first, open incidents by category and the closed-loop funnel.
    These panels refresh through the level pages' MATCH callback on the map's own tick."""
    child = child_level(area)
    hidden = {"display": "none"}
    return html.Div(className="wall__incidents", children=[
        html.Div(incident_map, className="wall__map wall__map--large"),
        html.Div(className="wall__incident-side", children=[
            html.Section(className="cw-panel cw-panel--rank", children=[
                html.H2(level_label("children", child or "cell", lang, words), className="cw-panel__title"),
                html.Div(create_ranking(key=key, rows=ranking_rows(panels.children, lang=lang, lang_param=lang_param),
                                        lang=lang), className="cw-panel__grid"),
            ]),
            html.Section(className="cw-panel", children=[
                html.H2(t("lvl_categories", lang), className="cw-panel__title"),
                html.Div(create_categories(panels.categories, lang), id=mid(ids.LVL_CATS, key), className="cw-bars"),
            ]),
            html.Section(className="cw-panel", children=[
                html.H2(t("lvl_funnel", lang), className="cw-panel__title"),
                html.Div(create_funnel(panels.funnel, panels.counts, lang, now=now), id=mid(ids.LVL_FUNNEL, key),
                         className="cw-bars cw-funnel"),
            ]),
        ]),
        # Targets of the shared panel callback that this wall shows elsewhere (the strip) or not at all.
        html.Div(id=mid(ids.LVL_KPIS, key), style=hidden),
        html.Div(id=mid(ids.LVL_ERROR, key), className="cw-page__error"),
        html.Div(html.Div(id=mid(ids.LVL_VITALS, key)), id=mid(ids.LVL_VITALS_BOX, key), style=hidden),
    ])


def create_wall(*, area: Area, catalogue: pd.DataFrame, lang: str, timezone: str, refresh_s: float,
                kiosk: dict, version: str, default_playlist: list[str], incident_map: html.Div | None,
                incident_body: html.Div | None = None, hotline_name: str = "12345",
                poll_spread_s: float = 0.8, level_word: str | None = None,
                ack_form: dict | None = None, replay: ReplayMoment | None = None,
                replay_live_href: str = "/") -> html.Div:
    """The wall; ``incident_body`` replaces the vital-sign panels when the city has no indicators;
    ``level_word``: what the city calls the area's level in ``lang`` (a district's or street's titles);
    ``ack_form`` (a supervisor's wall): the takeover banner's acknowledge button and its form tokens;
    ``replay`` (issue 15): the wall as of that moment, framed, with its banner and replay control
    (``replay_live_href``: the same wall live); never a kiosk's, never with the acknowledge button."""
    title = area.label(lang)
    kiosk_class = " wall--kiosk" if kiosk["kiosk"] else ""
    # --- the replay (issue 15) ---
    scope_data: dict[str, Any] = {"area_code": area.area_code, "level": area.level, "lang": lang}
    banner = None
    if replay is not None:
        kiosk_class += " " + REPLAY_CLASS
        ack_form = None
        scope_data["at"] = replay.at.strftime("%Y-%m-%dT%H:%MZ")
        scopes: list[list[Any]] = [[ids.WALL_SCOPE, scope_data]]
        ticks: list[Any] = []
        for found in ([incident_map] if incident_map is not None else []) + (
                [incident_body] if incident_body is not None else []):
            for node in found._traverse():  # the map's scope store (and its tick): it replays the same minute
                node_id = getattr(node, "id", None)
                if isinstance(node_id, dict) and node_id.get("type") == ids.MAP_SCOPE and \
                        all(known != node_id for known, _data in scopes):  # (the incident body holds the map)
                    scopes.append([node_id, node.data])
                    ticks.append(ids.tick_id(node_id["id"]))
        banner = create_replay_banner(moment=replay, lang=lang, tz=ZoneInfo(timezone), live_href=replay_live_href,
                                      control=True, refresh_s=refresh_s, scopes=scopes, ticks=ticks)
    # ---
    if incident_body is not None:
        kiosk_class += " wall--incidents-only"
        body = html.Div(className="wall__body", children=[
            html.Main(incident_body, id=ids.WALL_PANELS, className="wall__panels"),
            html.Aside(id=ids.WALL_ALARMS, className="alarms", style={"display": "none"}),
        ])
    else:
        body = html.Div(className="wall__body", children=[
            html.Main(create_vital_panels(catalogue, lang), id=ids.WALL_PANELS, className="wall__panels"),
            html.Div(className="wall__side", children=[
                html.Div(incident_map, className="wall__map") if incident_map is not None else None,
                html.Aside(id=ids.WALL_ALARMS, className="alarms"),
            ]),
        ])
    return html.Div(className="wall" + kiosk_class, children=[
        create_status_bar(title=title, lang=lang, timezone=timezone,
                          subtitle=wall_title("incidents" if incident_body is not None else "vital_signs",
                                              area.level, level_word, lang),
                          refresh_s=refresh_s, nav=None if kiosk["kiosk"] else create_nav(lang, {"lang": lang}),
                          as_of_label=t("newest_incident_change" if incident_body is not None else "data_as_of",
                                        lang), replay=replay is not None),
        banner,
        create_takeover_banner(lang, ack_form=ack_form),
        html.Section(id=ids.WALL_HEALTH, className="health"),
        body,
        html.Footer(create_incident_strip(None, None, lang, hotline_name=hotline_name), id=ids.WALL_STRIP,
                    className="wall__strip"),
        dcc.Store(id=ids.WALL_SCOPE, data=scope_data),
        dcc.Store(id=ids.WALL_APPLIED, data={}),
        dcc.Store(id=ids.WALL_DELTA),
        html.Div(id=ids.WALL_APPLY_TARGET, hidden=True),
        dcc.Store(id=ids.KIOSK_STORE, data={**kiosk, "playlist": kiosk["playlist"] or default_playlist,
                                            "version": version}),
        html.Div(id=ids.KIOSK_TIMER, hidden=True),
        # The browser decides when to poll (assets/citywall.js pollWall): once per tick, just after
        # the server's tick window has its data ready, spread over poll_spread_s between screens.
        dcc.Store(id=ids.WALL_POLL, data=0),
        dcc.Store(id=ids.WALL_POLL_CONFIG, data={"refresh_s": refresh_s, "spread_s": poll_spread_s, "margin_ms": 100,
                                                 "poll_id": ids.WALL_POLL}),
        dcc.Interval(id=ids.WALL_INTERVAL, interval=POLL_CHECK_MS),
    ])


def create_unknown_scope(code: str, lang: str) -> html.Div:
    """A clear page for a wall URL naming no known area, with the way back to the city wall."""
    shown = code if len(code) <= 40 else code[:40] + "…"
    return html.Div(className="not-found", children=[
        html.H1(t("not_found_title", lang)),
        html.P(t("unknown_area", lang, code=shown)),
        dcc.Link(t("back_to_city", lang), href=wall_href()),
    ])


def create_db_unavailable(lang: str, *, retry_s: float = 10.0) -> html.Div:
    """Shown when the page could not even be laid out: says so, and retries by itself."""
    return html.Div(className="not-found", children=[
        html.H1(t("db_unavailable", lang), className="badge--offline-text"),
        html.P(t("query_failed", lang)),
        dcc.Interval(id=ids.RETRY_INTERVAL, interval=int(retry_s * 1000)),
        html.Div(id=ids.RETRY_TARGET, hidden=True),
    ])


# --- the wall's tick: rendered once per scope, language and tick; each screen gets what changed ----

@dataclass(frozen=True)
class WallRender:
    """Everything a wall of one scope and language shows at one tick, keyed by part:
    ``t:<indicator>`` tile state, ``a:<indicator>`` its age text, ``s:<indicator>`` sparkline
    code, ``d:<dimension>`` panel score, ``k:<kpi>`` strip figure (compact values the browser
    writes into the laid-out wall), and ``health`` / ``alarms`` (Dash components). ``signatures``
    hashes every part: a screen that applied tick k needs exactly the parts whose signature
    differs from tick k's."""

    tick: int
    ok: bool
    parts: dict[str, Any] = field(default_factory=dict)
    signatures: dict[str, str] = field(default_factory=dict)
    as_of: str | None = None
    strip_error: str = ""
    ready_ms: int = 0  # when in its window this render was ready (screens poll just after it)


def _sig(value: object) -> str:
    return hashlib.blake2b(repr(value).encode(), digest_size=6).hexdigest()


def render_wall(snap: WallSnapshot, catalogue: pd.DataFrame, lang: str, *, tick: int, tz: ZoneInfo,
                ready_ms: int = 0, takeover: dict | None = None) -> WallRender:
    """The wall of ``snap`` at ``tick`` (pure: no database, no request); ``takeover``: the store of
    the scenarios active in its scope (components/takeover.py; None: unknown this tick, the
    screens keep what they show)."""
    parts: dict[str, Any] = {}
    signatures: dict[str, str] = {}

    def put(key: str, value: object, signature: str | None = None) -> None:
        parts[key] = value
        signatures[key] = signature or _sig(value)

    rows = {r["indicator_id"]: r for r in snap.vitals.to_dict("records")} if not snap.vitals.empty else {}
    for indicator in catalogue.to_dict("records"):
        indicator_id = indicator["indicator_id"]
        state = tile_state(rows.get(indicator_id), indicator, lang, scope_level=snap.area.level)
        put("t:" + indicator_id, state[:6])
        put("a:" + indicator_id, state[6])  # on its own: every age moves on each minute, the rest seldom
        if "trends" not in snap.failed:  # a failed read keeps the last sparkline on screen
            put("s:" + indicator_id, spark_code(snap.sparks.get(indicator_id, [])))
    health = snap.health
    for dimension in catalogue["dimension"].unique() if not catalogue.empty else []:
        score = health.by_dimension.get(dimension)
        put("d:" + str(dimension), [format_score(score), score_class(score) + " panel__score"])
    if "trends" not in snap.failed:  # the score's trend needs the failed read: keep the row as it is
        title = wall_title("health", snap.area.level, snap.level_words.get(lang), lang)
        put("health", create_health(health, lang, title=title), _sig((health, title)))
    alarm_key = (snap.alarms, snap.read_at.replace(second=0))
    put("alarms", create_alarm_list(snap.alarms, catalogue, lang, now=snap.read_at), _sig(alarm_key))
    if "strip" not in snap.failed:  # the strip shows its own error; the tiles above keep updating
        for key, value in strip_state(snap.counts, snap.hotline).items():
            put("k:" + key, value)
    if takeover is not None:
        put("takeover", takeover)
    if catalogue.empty:  # a wall without vital signs: its data is as of the newest incident change
        change = snap.newest_incident_change
        as_of = local_moment(change, tz, now_utc=snap.read_at) if change else None
    else:
        as_of = local_time(snap.newest_reading, tz) if snap.newest_reading else None
    return WallRender(tick=tick, ok=True, parts=parts, signatures=signatures, as_of=as_of,
                      strip_error=t("panel_failed", lang) if "strip" in snap.failed else "", ready_ms=ready_ms)


def wall_delta(render: WallRender, applied: dict[str, str] | None) -> dict[str, Any]:
    """The parts of ``render`` a screen showing ``applied`` (the signatures of the tick it last
    applied; None: nothing) lacks, as the wall's delta store and the component and takeover outputs."""
    applied = applied or {}
    changed = {key: value for key, value in render.parts.items() if applied.get(key) != render.signatures[key]}
    delta: dict[str, Any] = {"tick": render.tick, "err": render.strip_error}
    for prefix, name in (("t:", "tiles"), ("a:", "ages"), ("s:", "sparks"), ("d:", "dims"), ("k:", "kpis")):
        found = {key[2:]: value for key, value in changed.items() if key.startswith(prefix)}
        if found:
            delta[name] = found
    return {"delta": delta, "health": changed.get("health"), "alarms": changed.get("alarms"),
            "takeover": changed.get("takeover")}
