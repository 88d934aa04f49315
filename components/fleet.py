"""The wall fleet (issue 15, item 4): each screen's fleet store (the heartbeat its tick carries) and
the /walls page of every screen showing CityWall. Pure builders: data in, Dash components out."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
from dash import dcc, html

from components import ids
from components.formatting import local_moment
from components.i18n import t

STATUSES = ("connected", "offline", "gone")
STATUS_LABEL = {"connected": "flt_connected", "offline": "flt_offline", "gone": "flt_gone"}
COLUMNS = ("flt_col_status", "flt_col_name", "flt_col_page", "flt_col_scope", "flt_col_kiosk", "flt_col_tick",
           "flt_col_version", "flt_col_since", "flt_col_seen")


def create_screen_stores(key: str, seed: dict | None) -> list[dcc.Store]:
    """A page's fleet stores: ``seed`` (data_access.fleet.new_seed: the page, its name, kiosk or not,
    the version it loaded, a screen id for a new tab; None: this page does not beat itself) and the
    same with the tab's own screen id, which the page's tick callback sends back (assets/fleet.js)."""
    return [dcc.Store(id=ids.mid(ids.FLEET_SEED, key), data=seed), dcc.Store(id=ids.mid(ids.FLEET_SCREEN, key)),
            html.Div(hidden=True, className="cw-fleet-marker")]  # gone from the page: the tab left the fleet


def _moment(value: object, tz: ZoneInfo, now: datetime) -> str:
    if value is None or pd.isna(value):
        return "—"
    return local_moment(pd.Timestamp(value).to_pydatetime(), tz, now_utc=now)


def _ago(value: object, now: datetime, lang: str) -> str:
    if value is None or pd.isna(value):
        return ""
    seconds = max(0, int((now - pd.Timestamp(value).to_pydatetime()).total_seconds()))
    if seconds < 120:
        return t("flt_ago_s", lang, n=seconds)
    if seconds < 7200:
        return t("flt_ago_min", lang, n=seconds // 60)
    return t("flt_ago_h", lang, n=seconds // 3600)


def _tick_cell(tick: object, *, refresh_s: float, tz: ZoneInfo, now: datetime, lang: str) -> list:
    if tick is None or pd.isna(tick):
        return ["—"]
    moment = datetime.fromtimestamp(int(tick) * refresh_s, UTC).replace(tzinfo=None, microsecond=0)
    return [html.Div(local_moment(moment, tz, now_utc=now), title=f"#{int(tick)}"),  # the tick's number on hover
            html.Div(_ago(moment, now, lang), className="cw-fleet__sub")]


def fleet_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Screens per status (every status present, 0 when none)."""
    found = frame["status"].value_counts().to_dict() if not frame.empty else {}
    return {status: int(found.get(status, 0)) for status in STATUSES}


def create_fleet_summary(frame: pd.DataFrame, lang: str) -> list:
    counts = fleet_counts(frame)
    return [html.Span(t("flt_summary", lang, **counts), className="cw-fleet__counts",
                      **{f"data-{status}": str(n) for status, n in counts.items()})]


def create_fleet_table(frame: pd.DataFrame, *, lang: str, tz: ZoneInfo, now: datetime, version: str,
                       refresh_s: float, area_label: Callable[[str | None], str]) -> html.Div | html.Table:
    """One row per screen (data_access.fleet.SCREEN_COLUMNS): connected, OFFLINE, gone. ``version``:
    the app's own (a screen on another is marked); ``area_label``: a scope code's name."""
    if frame.empty:
        return html.Div(t("flt_none", lang), className="cw-fleet__none")
    rows = []
    for found in frame.to_dict("records"):
        rec = {key: None if not isinstance(value, list | dict) and pd.isna(value) else value
               for key, value in found.items()}  # pandas' NaN/NaT for a missing value: None
        status = rec["status"]
        badge = [html.Span(t(STATUS_LABEL[status], lang), className=f"cw-fleet__badge cw-fleet__badge--{status}")]
        if status == "offline" and rec["offline_since"] is not None:
            badge.append(html.Div(t("flt_offline_since", lang, time=_moment(rec["offline_since"], tz, now)),
                                  className="cw-fleet__sub"))
        who = (t("flt_token", lang, who=rec["token"]) if rec["token"]
               else t("flt_user", lang, who=rec["principal"] or "—"))
        other_version = bool(rec["version"]) and rec["version"] != version
        rows.append(html.Tr(className=f"cw-fleet__row cw-fleet__row--{status}",
                            **{"data-screen": str(rec["name"]), "data-status": status}, children=[
            html.Td(badge),
            html.Td([html.Div(str(rec["name"]), className="cw-fleet__name"), html.Div(who, className="cw-fleet__sub")]),
            html.Td(str(rec["page"] or "—"), className="cw-fleet__page"),
            html.Td([html.Div(area_label(rec["scope_code"])),
                     html.Div(str(rec["scope_code"] or ""), className="cw-fleet__sub")]),
            html.Td(t("flt_yes" if rec["kiosk"] else "flt_no", lang)),
            html.Td(_tick_cell(rec["tick"], refresh_s=refresh_s, tz=tz, now=now, lang=lang)),
            html.Td([html.Span(str(rec["version"] or "—"), className="cw-fleet__version"),
                     html.Div(t("flt_old_version", lang), className="cw-fleet__sub cw-fleet__sub--warn")
                     if other_version else None]),
            html.Td([html.Div(_moment(rec["since"], tz, now)),
                     html.Div(_ago(rec["since"], now, lang), className="cw-fleet__sub")]),
            html.Td([html.Div(_moment(rec["seen"], tz, now)),
                     html.Div(_ago(rec["seen"], now, lang), className="cw-fleet__sub")]),
        ]))
    return html.Table(className="cw-fleet__table", children=[
        html.Thead(html.Tr([html.Th(t(key, lang)) for key in COLUMNS])),
        html.Tbody(rows),
    ])


def create_fleet_page(*, lang: str, refresh_s: float, local_only: bool, nav: list, area_code: str | None) -> html.Div:
    """The /walls page, laid out empty: its callback fills the summary and the table at once and
    every tick. ``local_only``: no Redis, so this process knows only the screens it serves;
    ``area_code``: the area whose screens it lists (None: the whole city)."""
    return html.Div(id=ids.PAGE_WALLS, className="cw-root", children=html.Div(
        className="cw-page cw-page--walls", children=[
            html.Header(className="cw-head", children=[
                html.Div(className="cw-head__left", children=[
                    html.H1([t("flt_title", lang), html.Span(f" · {t('flt_subtitle', lang)}",
                                                             className="cw-head__sub")], className="cw-head__title"),
                    html.Div(id=ids.WALLS_SUMMARY, className="cw-fleet__summary"),
                ]),
                html.Div(nav, className="cw-head__links"),
            ]),
            html.Div(t("flt_store_local", lang), className="cw-fleet__note") if local_only else None,
            html.Div(id=ids.WALLS_ERROR, className="cw-page__error"),
            html.Main(html.Div(id=ids.WALLS_TABLE, className="cw-fleet__box"), className="cw-panel cw-fleet"),
            dcc.Store(id=ids.WALLS_LANG, data={"lang": lang, **({"area_code": area_code} if area_code else {})}),
            dcc.Interval(id=ids.WALLS_INTERVAL, interval=int(refresh_s * 1000)),
        ]))
