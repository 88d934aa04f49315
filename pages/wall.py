"""The wall: vital signs, health score, alarms and incident figures of the city or of one
district/street (``/?scope=310115``; ``/wall/310115`` is the same wall), refreshed every tick."""
from __future__ import annotations

import logging

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from components import ids
from components.formatting import local_time
from components.health import create_alarm_list, create_health, format_score, score_class
from components.i18n import pick_language, t
from components.incident_map import register_map_callbacks
from components.kpi_tile import create_incident_strip
from components.level_panels import register_panel_callbacks
from components.vital_panel import create_tile_body, spark_signature, spark_src, tile_class, tile_signature
from data_access import queries
from data_access.runtime import current_runtime
from data_access.snapshots import wall_catalogue, wall_snapshot
from pages._wall_layout import wall_layout

dash.register_page(__name__, path="/", title="CityWall")
log = logging.getLogger(__name__)
register_map_callbacks()
register_panel_callbacks()  # the incident wall of a city without vital signs reuses the level panels

dash.clientside_callback(  # the "database unavailable" page reloads itself until the database is back
    "function (n) { if (n) { window.location.reload(); } return window.dash_clientside.no_update; }",
    Output(ids.RETRY_TARGET, "title"),
    Input(ids.RETRY_INTERVAL, "n_intervals"),
    prevent_initial_call=True,
)
dash.clientside_callback(
    ClientsideFunction(namespace="citywall", function_name="kiosk"),
    Output(ids.KIOSK_TIMER, "title"),
    Input(ids.KIOSK_STORE, "data"),
)


def layout(scope: str | None = None, lang: str | None = None, kiosk: str | None = None,
           rotate: str | None = None, playlist: str | None = None, **_query: object) -> html.Div:
    return wall_layout(current_runtime(), scope=scope, lang=lang, kiosk=kiosk, rotate=rotate, playlist=playlist)


@dash.callback(
    Output({"type": "vital-tile", "id": ALL}, "children"),
    Output({"type": "vital-frame", "id": ALL}, "className"),
    Output({"type": "vital-spark", "id": ALL}, "src"),
    Output({"type": "dimension-score", "id": ALL}, "children"),
    Output({"type": "dimension-score", "id": ALL}, "className"),
    Output(ids.WALL_HEALTH, "children"),
    Output(ids.WALL_ALARMS, "children"),
    Output(ids.WALL_STRIP, "children"),
    Output(ids.STATUS_STORE, "data"),
    Output(ids.TILE_SIGNATURES, "data"),
    Input(ids.WALL_INTERVAL, "n_intervals"),
    State(ids.WALL_SCOPE, "data"),
    State(ids.TILE_SIGNATURES, "data"),
)
def refresh_wall(n_intervals: int | None, scope: dict | None, applied: dict | None) -> tuple:
    """Fill the wall; parts the screen already shows are not sent again.

    The screen only says which tick it last applied (a few bytes); the server remembers, per
    scope, language and tick, the signature of every part it sent then, and sends the parts whose
    signature changed since. An unknown or expired tick simply means "send everything"."""
    runtime = current_runtime()
    outputs = dash.ctx.outputs_list
    tile_ids = [o["id"]["id"] for o in outputs[0]]
    dim_ids = [o["id"]["id"] for o in outputs[3]]
    scope = scope if isinstance(scope, dict) else {}
    lang = pick_language(scope.get("lang"), runtime.settings.lang)
    applied_tick = applied.get("tick") if isinstance(applied, dict) else None
    memo = f"wall-sent:{scope.get('area_code')}:{lang}:"
    sent = runtime.cache.recall(memo + str(applied_tick)) if isinstance(applied_tick, int) else None
    sent = sent if isinstance(sent, dict) else {}
    try:
        area = queries.Area(area_code=str(scope["area_code"]), level=str(scope.get("level", "city")),
                            parent_code=None, name="", name_en=None, center_lat=None, center_lon=None)
        snap = wall_snapshot(runtime=runtime, area=area)
        catalogue = wall_catalogue(runtime=runtime)
    except (SQLAlchemyError, KeyError) as exc:
        # Keep the last data on screen; the badge goes OFFLINE after 3 ticks without success.
        log.warning("wall refresh failed: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        status = {"ok": False, "tick": n_intervals, "version": runtime.version}
        keep = [no_update] * len(tile_ids)
        return (keep, keep, keep, [no_update] * len(dim_ids), [no_update] * len(dim_ids), no_update, no_update,
                no_update, status, no_update)

    rows = {r["indicator_id"]: r for _, r in snap.vitals.iterrows()}
    by_id = catalogue.set_index("indicator_id")
    signatures: dict[str, str] = {}

    def changed(key: str, signature: str) -> bool:
        signatures[key] = signature
        return sent.get(key) != signature

    bodies, classes, sparks = [], [], []
    for indicator_id in tile_ids:
        row = rows.get(indicator_id)
        status = row["status"] if row is not None and isinstance(row["status"], str) else None
        stale = bool(row["stale"]) if row is not None else False
        known = indicator_id in by_id.index
        if known and changed(indicator_id, tile_signature(row, lang)):
            bodies.append(create_tile_body(row, by_id.loc[indicator_id], lang, scope_level=snap.area.level, spark=[]))
            classes.append(tile_class(status, stale=stale))
        else:
            bodies.append(no_update)
            classes.append(no_update)
        spark = snap.sparks.get(indicator_id, [])
        if "trends" in snap.failed:  # keep the last sparkline; send it again once the read works
            signatures["~" + indicator_id] = "failed"
            sparks.append(no_update)
            continue
        spark_changed = changed("~" + indicator_id, spark_signature(spark, status, stale))
        sparks.append(spark_src(spark, status, stale) if spark_changed else no_update)

    health = snap.health
    if changed("_dims", repr(sorted(health.by_dimension.items()))):
        dim_text = [format_score(health.by_dimension.get(d)) for d in dim_ids]
        dim_class = [score_class(health.by_dimension.get(d)) + " panel__score" for d in dim_ids]
    else:
        dim_text = dim_class = [no_update] * len(dim_ids)
    if "trends" in snap.failed:  # the score's trend needs the failed read: keep the panel as it is
        signatures["_health"] = "failed"
        health_out = no_update
    else:
        health_out = create_health(health, lang) if changed("_health", repr(health)) else no_update
    alarm_key = repr((snap.alarms, snap.read_at.replace(second=0)))
    alarm_out = create_alarm_list(snap.alarms, catalogue, lang, now=snap.read_at) if changed("_alarms", alarm_key) \
        else no_update
    if "strip" in snap.failed:  # the incident strip's own error state; the tiles above keep updating
        strip_out = [html.Div(t("panel_failed", lang), className="kpi kpi--none panel-error")] \
            if changed("_strip", "failed") else no_update
    else:
        strip_changed = changed("_strip", repr((snap.counts, snap.hotline)))
        strip_out = (create_incident_strip(snap.counts, snap.hotline, lang, hotline_name=runtime.settings.hotline_name)
                     if strip_changed else no_update)
    as_of = local_time(snap.newest_reading, runtime.settings.tz) if snap.newest_reading else None
    status = {"ok": True, "as_of": as_of, "tick": n_intervals, "version": runtime.version}
    tick = runtime.cache.tick()
    runtime.cache.remember(memo + str(tick), signatures)
    return bodies, classes, sparks, dim_text, dim_class, health_out, alarm_out, strip_out, status, {"tick": tick}
