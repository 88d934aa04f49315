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


def indicator_name(row: pd.Series | dict, lang: str) -> str:
    return (row["name_en"] or row["name"]) if lang == "en" else row["name"]


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
            html.Span(indicator["unit"] or "", className="tile__unit"),
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


def create_vital_panels(catalogue: pd.DataFrame, lang: str) -> list[html.Section]:
    """Six panels in the fixed order operators know, with one tile per wall indicator. A tile's
    name and unit are laid out here; its changing parts (state, number, change, age, sparkline)
    are written by the browser from the wall's per-tick delta (assets/citywall.js ``applyWall``)."""
    panels = []
    for dimension in DIMENSIONS:
        rows = catalogue[catalogue["dimension"] == dimension]
        tiles = [
            html.Div(className="tile tile--none", **{"data-indicator": r.indicator_id}, children=[
                html.Div(className="tile__body", children=[
                    html.Div(className="tile__head", children=[
                        html.Span(indicator_name(r._asdict(), lang), className="tile__name"),
                        html.Span(r.unit or "", className="tile__unit"),
                    ]),
                    html.Div(className="tile__value", children=[
                        html.Span(status_symbol(None, stale=False), className="tile__symbol"),
                        html.Span("—", className="tile__number"),
                        html.Span(className="tile__origin", hidden=True),
                    ]),
                    html.Div(className="tile__meta", children=[
                        html.Span(className="tile__change", title=t("vs_yesterday", lang)),
                        html.Span(className="tile__age"),
                    ]),
                ]),
                html.Div(className="tile__spark"),
            ])
            for r in rows.itertuples()
        ]
        panels.append(html.Section(className="panel", **{"data-dimension": dimension}, children=[
            html.H2(className="panel__title", children=[
                html.Span(t(f"dim_{dimension}", lang)),
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
