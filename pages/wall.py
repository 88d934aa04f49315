"""The wall: the city's (or one area's) vital signs and incident figures, refreshed every tick."""
from __future__ import annotations

import logging

import dash
from dash import Input, Output, State, dcc, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from components import ids
from components.formatting import local_time
from components.i18n import pick_language, t
from components.kpi_tile import create_incident_strip
from components.status_bar import create_status_bar
from components.vital_panel import create_vital_panels
from data_access import queries
from data_access.runtime import current_runtime
from data_access.snapshots import city_area, wall_snapshot

dash.register_page(__name__, path="/", title="CityWall")
log = logging.getLogger(__name__)


def layout(lang: str | None = None, **_query: object) -> html.Div:
    runtime = current_runtime()
    lang = pick_language(lang, runtime.settings.lang)
    try:
        city = queries.city_area(engine=runtime.engine)
    except SQLAlchemyError:
        city = None
    title = city.label(lang) if city else "CityWall"
    return html.Div(className="wall", children=[
        create_status_bar(title=title, subtitle=t("app_title", lang), lang=lang,
                          timezone=runtime.settings.timezone, refresh_s=runtime.settings.refresh_s),
        html.Main(id=ids.WALL_PANELS, className="wall__panels"),
        html.Footer(id=ids.WALL_STRIP, className="wall__strip"),
        dcc.Store(id=ids.WALL_SCOPE, data={"area_code": city.area_code if city else None, "lang": lang}),
        dcc.Interval(id=ids.WALL_INTERVAL, interval=int(runtime.settings.refresh_s * 1000)),
    ])


@dash.callback(
    Output(ids.WALL_PANELS, "children"),
    Output(ids.WALL_STRIP, "children"),
    Output(ids.STATUS_STORE, "data"),
    Input(ids.WALL_INTERVAL, "n_intervals"),
    State(ids.WALL_SCOPE, "data"),
)
def refresh_wall(n_intervals: int | None, scope: dict | None) -> tuple:
    runtime = current_runtime()
    scope = scope or {}
    lang = pick_language(scope.get("lang"), runtime.settings.lang)
    try:
        city = city_area(runtime=runtime)
        area_code = scope.get("area_code") or (city.area_code if city else None)
        if area_code is None:
            return html.Div(t("no_data", lang), className="wall__empty"), [], {"ok": True, "as_of": None}
        snap = wall_snapshot(runtime=runtime, area_code=area_code)
    except SQLAlchemyError as exc:
        # Keep the last data on screen; the badge goes OFFLINE after 3 ticks without success.
        log.warning("wall refresh failed: %s", str(exc).splitlines()[0])
        return no_update, no_update, {"ok": False, "tick": n_intervals}
    as_of = local_time(snap.newest_reading, runtime.settings.tz) if snap.newest_reading else None
    return (create_vital_panels(snap.vitals, lang), create_incident_strip(snap.counts, lang),
            {"ok": True, "as_of": as_of, "tick": n_intervals})
