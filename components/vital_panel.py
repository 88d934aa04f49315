"""Indicator tiles grouped in one panel per vital-sign dimension.

The panels and the tiles' fixed parts are laid out once per page load (``create_vital_panels``);
each tick the wall sends ``tile_state`` / ``spark_code`` of the tiles that changed (pages/wall.py).
"""
from __future__ import annotations

import pandas as pd
from dash import html

from components.formatting import format_age, format_change, format_value
from components.i18n import DIMENSIONS, t
from components.sparkline import sparkline_src
from components.theme import STATUS_COLOR, status_class, status_symbol


def _num(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _text(row: pd.Series | dict, column: str) -> str:
    value = row.get(column) if hasattr(row, "get") else None
    return value if isinstance(value, str) else ""


def indicator_name(row: pd.Series | dict, lang: str) -> str:
    """The indicator's full name (explorer, alarm list, level pages)."""
    return (row["name_en"] or row["name"]) if lang == "en" else row["name"]


def wall_name(row: pd.Series | dict, lang: str) -> str:
    """The short name a wall tile shows (the catalogue's wall_name / wall_name_en), else the full name."""
    short = _text(row, "wall_name_en") if lang == "en" else _text(row, "wall_name")
    return short or indicator_name(row, lang)


def indicator_unit(row: pd.Series | dict, lang: str) -> str:
    """The unit in ``lang``: ``unit`` is in the city's language (zh), ``unit_en`` in English (else ``unit``)."""
    return (_text(row, "unit_en") or _text(row, "unit")) if lang == "en" else _text(row, "unit")


def tile_class(status: str | None, *, stale: bool) -> str:
    return f"tile tile--{status_class(status, stale=stale)}"


def create_tile_body(row: pd.Series | None, indicator: pd.Series, lang: str, *, scope_level: str,
                     spark: list[float | None], spark_inline: bool = False) -> list:
    """The inside of one tile, as components (level pages): name and unit, then ``tile_state``'s
    symbol and value, sparkline, change and age."""
    _frame, symbol, state_label, number, origin, change, age = tile_state(row, indicator, lang,
                                                                          scope_level=scope_level)
    stale = row is not None and bool(row["stale"])
    status = row["status"] if row is not None and isinstance(row["status"], str) else None
    return [
        html.Div(className="tile__head", children=[
            html.Span(indicator_name(indicator, lang), className="tile__name"),
            html.Span(indicator_unit(indicator, lang), className="tile__unit"),
        ]),
        html.Div(className="tile__value", children=[
            html.Span(symbol, className="tile__symbol", title=state_label),
            html.Span(number, className="tile__number"),
            html.Span(origin, className="tile__origin") if origin else None,
        ]),
        html.Img(src=sparkline_src(spark, color=STATUS_COLOR["stale" if stale else (status or "none")]),
                 className="tile__spark", alt="") if spark_inline else None,
        html.Div(className="tile__meta", children=[
            html.Span(change, className="tile__change", title=t("vs_yesterday", lang)),
            html.Span(age, className="tile__age"),
        ]),
    ]


def tile_state(row: pd.Series | dict | None, indicator: pd.Series | dict, lang: str, *, scope_level: str) -> list[str]:
    """What a wall tile shows, as the few strings assets/citywall.js writes into the tile:
    [frame class, symbol, state label, number, origin badge, change vs yesterday, age]
    (the wall sends the age apart from the rest: components/wall.py render_wall)."""
    if row is None:
        return [tile_class(None, stale=False), status_symbol(None, stale=False), t("status_none", lang), "—", "", "",
                t("no_data", lang)]
    stale = bool(row["stale"])
    status = row["status"] if isinstance(row["status"], str) else None
    value = _num(row["value"])
    source_level = row.get("source_level")
    origin = ""
    if source_level and source_level != scope_level:  # a district wall showing a city value says so
        origin = t("city_value", lang) if source_level == "city" else t("district_value", lang)
    return [
        tile_class(status, stale=stale),
        status_symbol(status, stale=stale),
        t("stale", lang) if stale else t(f"status_{status or 'none'}", lang),
        format_value(value, int(indicator["decimals"]), lang),
        origin,
        format_change(value, _num(row["prev_day_value"])),
        (t("stale", lang) + " · " if stale else "") + format_age(_num(row["age_s"]), lang, precise=stale),
    ]


SPARK_LEVELS = "0123456789abcdefghijklmnopqrstuvwxyz"  # one character per minute; "-" when there is none


def spark_code(spark: list[float | None]) -> str:
    """A sparkline as one character per minute (its height on a 36-step grid), drawn by the browser
    (assets/citywall.js) in the tile's state colour: ~60 bytes instead of a ~600-byte SVG."""
    values = [v for v in spark if v is not None and not pd.isna(v)]
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    top = len(SPARK_LEVELS) - 1
    return "".join("-" if v is None or pd.isna(v) else SPARK_LEVELS[round((v - low) / span * top)] for v in spark)


TILES_PER_PAGE = 6  # a panel's tiles at once (2 x 3): what fits with names >= 20 px and values >= 36 px at 1080p
PAGE_S = 15  # a panel with more turns its last place every PAGE_S seconds (assets/citywall.js tilePages)


def tile_pages(rows: pd.DataFrame, per_page: int = TILES_PER_PAGE) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """A panel's indicators as (always shown, [one per page]) in the catalogue's order (``sort_order``:
    its priority). When they fit, all are always shown; else the first ``per_page - 1`` are, and the
    rest take turns in the last place, one page each."""
    rows = rows.sort_values(["sort_order", "indicator_id"], kind="stable")
    if len(rows) <= per_page:
        return rows, []
    fixed = max(per_page - 1, 0)
    return rows.iloc[:fixed], [rows.iloc[i:i + 1] for i in range(fixed, len(rows))]


def _wall_tile(r: dict, lang: str, *, page: int | None) -> html.Div:
    """One wall tile laid out once: the short name and the unit above the value; the change, the
    origin badge ("city" for a value borrowed from the city) and the age on the line below, so the
    badge never sits on the value. ``page``: the page of the panel's last place it shows on (None: always shown)."""
    paging = {} if page is None else {"data-page": str(page)}
    return html.Div(className="tile tile--none", hidden=bool(page), **{"data-indicator": r["indicator_id"]},
                    **paging, children=[
        html.Div(className="tile__body", children=[
            html.Div(className="tile__head", children=[
                html.Span(wall_name(r, lang), className="tile__name", title=indicator_name(r, lang)),
                html.Span(indicator_unit(r, lang), className="tile__unit"),
            ]),
            html.Div(className="tile__value", children=[
                html.Span(status_symbol(None, stale=False), className="tile__symbol"),
                html.Span("—", className="tile__number"),
            ]),
            html.Div(className="tile__meta", children=[
                html.Span(className="tile__change", title=t("vs_yesterday", lang)),
                html.Span(className="tile__origin", hidden=True),
                html.Span(className="tile__age"),
            ]),
        ]),
        html.Div(className="tile__spark"),
    ])


def create_vital_panels(catalogue: pd.DataFrame, lang: str, *, per_page: int = TILES_PER_PAGE) -> list[html.Section]:
    """Six panels in the fixed order operators know, with one tile per wall indicator. A tile's
    name and unit are laid out here; its changing parts (state, number, change, age, sparkline)
    are written by the browser from the wall's per-tick delta (assets/citywall.js ``applyWall``).

    A panel shows ``per_page`` tiles at once. One with more keeps the catalogue's first
    ``per_page - 1`` in place and turns the rest through its last place every PAGE_S seconds, saying
    so in its title ("⟳ 1/3"). Every indicator stays in the vitals explorer, and one in alarm is in
    the alarm list whichever page is showing."""
    panels = []
    for dimension in DIMENSIONS:
        fixed, pages = tile_pages(catalogue[catalogue["dimension"] == dimension], per_page)
        tiles = [_wall_tile(r, lang, page=None) for r in fixed.to_dict("records")]
        tiles += [_wall_tile(r, lang, page=k) for k, page in enumerate(pages) for r in page.to_dict("records")]
        paged = len(pages) > 1
        panels.append(html.Section(className="panel" + (" panel--paged" if paged else ""), **{
            "data-dimension": dimension, "data-pages": str(len(pages)), "data-page-s": str(PAGE_S)}, children=[
            html.H2(className="panel__title", children=[
                html.Span(t(f"dim_{dimension}", lang), className="panel__name"),
                html.Span(f"⟳ 1/{len(pages)}", className="panel__page",
                          title=t("tile_pages_hint", lang, s=PAGE_S))
                if paged else None,
                html.Span(className="panel__score"),
            ]),
            html.Div(tiles or html.Div(t("no_data", lang), className="panel__empty"), className="panel__tiles"),
        ]))
    return panels


def create_vital_tile(row: pd.Series, lang: str, *, scope_level: str | None = None,
                      spark: list[float | None] | None = None) -> html.Div:
    """A complete tile for one row of ``vitals_latest`` (level pages render tiles whole)."""
    status = row["status"] if isinstance(row["status"], str) else None
    return html.Div(className=tile_class(status, stale=bool(row["stale"])),
                    children=create_tile_body(row, row, lang, scope_level=scope_level or "", spark=spark or [],
                                              spark_inline=True))
