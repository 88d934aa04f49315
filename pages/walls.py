"""The wall fleet (/walls, issue 15 item 4): every screen showing CityWall now, for supervisors and
admins: its name (the kiosk token's, or ``?screen=``), page and scope, kiosk or not, the tick it
last applied, the app version it loaded, connected since, and whether it is OFFLINE now or gone.
``?scope=<code>`` (a scoped supervisor: their own area by default) lists the screens showing that
area or an area inside it. Refreshed every tick from the shared row store (data_access/fleet.py);
this page is the fleet's observer and is not in the fleet itself."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import dash
from dash import Input, Output, State, dcc, html, no_update

from components import ids
from components.fleet import create_fleet_page, create_fleet_summary, create_fleet_table
from components.i18n import pick_language, t
from components.links import page_href, wall_href
from data_access.areas import valid_code
from data_access.db import utc_now
from data_access.errors import first_line
from data_access.models import LANGUAGES
from data_access.readers.areas import read_area
from data_access.readers.fleet import read_fleet
from data_access.runtime import CityWallRuntime
from pages._runtime import current_runtime
from security import callback, current_principal, page_access

dash.register_page(__name__, path="/walls", title="CityWall · walls",
                   **page_access("supervisor", area_arg="scope", own_area=True))

log = logging.getLogger(__name__)


def listed_area(code: object) -> str | None:
    """The area whose screens the page lists: the one its address (or its store) names, else the
    principal's own (None: the city), as its ``own_area`` declaration says. Nothing is refused here:
    the gate refused an area outside the principal's scope already (the page's declared access for
    the address, security.web's check of every area a callback names for the store)."""
    return code if valid_code(code) else current_principal().scope


def layout(lang: str | None = None, scope: str | None = None, **_query: object) -> html.Div:
    runtime = current_runtime()
    lang_param = lang if lang in LANGUAGES else None
    lang = pick_language(lang, runtime.settings.lang)
    area_code = listed_area(scope)
    nav = [dcc.Link(t("nav_wall", lang), href=wall_href(lang=lang_param), className="cw-navlink"),
           dcc.Link(t("nav_city", lang), href=page_href("city", lang=lang_param), className="cw-navlink")]
    page = create_fleet_page(lang=lang, refresh_s=runtime.settings.refresh_s, local_only=not runtime.settings.redis_url,
                             nav=nav, area_code=area_code)
    return page


def _area_label(runtime: CityWallRuntime, lang: str) -> Callable[[str | None], str]:
    scope = current_principal().scope
    names: dict[str | None, str] = {}

    def label(code: str | None) -> str:
        if code not in names:
            try:
                area = read_area(runtime=runtime, scope=scope, code=code) if code else None
            except Exception:  # noqa: BLE001 - outside the scope, unknown, or the database away: the code alone
                area = None
            names[code] = area.label(lang) if area is not None else (code or "—")
        return names[code]

    return label


@callback(
    Output(ids.WALLS_SUMMARY, "children"),
    Output(ids.WALLS_TABLE, "children"),
    Output(ids.WALLS_ERROR, "children"),
    Input(ids.WALLS_INTERVAL, "n_intervals"),
    State(ids.WALLS_LANG, "data"),
    access="supervisor",
)
def refresh_fleet(_n: int | None, page: dict | None) -> tuple:
    """The fleet now: the summary and one row per screen (filled at once, then every tick)."""
    runtime = current_runtime()
    page = page if isinstance(page, dict) else {}
    lang = pick_language(page.get("lang"), runtime.settings.lang)
    scope = listed_area(page.get("area_code"))
    try:
        frame = read_fleet(runtime=runtime, scope=scope)
    except Exception as exc:  # noqa: BLE001 - Redis away: say so on the page, keep what it shows
        log.warning("wall fleet unavailable: %s", first_line(exc))
        return no_update, no_update, t("flt_unavailable", lang)
    now: datetime = utc_now()
    table = create_fleet_table(frame, lang=lang, tz=runtime.settings.tz, now=now, version=runtime.version,
                               refresh_s=runtime.settings.refresh_s, area_label=_area_label(runtime, lang))
    return create_fleet_summary(frame, lang), table, ""
