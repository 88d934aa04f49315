"""Indicator tiles grouped in one panel per vital-sign dimension.

The panels and the empty tiles are laid out once per page load (``create_vital_panels``);
each tick only the tiles whose content changed are re-sent (``tile_signature``).
"""
from __future__ import annotations

import hashlib

import pandas as pd
from dash import html

from components import ids
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
    """The inside of one tile: name and unit, state symbol and value, sparkline, change and age."""
    unit = indicator["unit"] or ""
    header = html.Div(className="tile__head", children=[
        html.Span(indicator_name(indicator, lang), className="tile__name"),
        html.Span(unit, className="tile__unit"),
    ])
    if row is None:
        return [header, html.Div(className="tile__value", children=[
            html.Span(status_symbol(None, stale=False), className="tile__symbol"),
            html.Span("—", className="tile__number")]), html.Div(t("no_data", lang), className="tile__meta")]
    stale = bool(row["stale"])
    status = row["status"] if isinstance(row["status"], str) else None
    value = _num(row["value"])
    state_label = t("stale", lang) if stale else t(f"status_{status or 'none'}", lang)
    source_level = row.get("source_level")
    origin = ""
    if source_level and source_level != scope_level:  # a district wall showing a city value says so
        origin = t("city_value", lang) if source_level == "city" else t("district_value", lang)
    return [
        header,
        html.Div(className="tile__value", children=[
            html.Span(status_symbol(status, stale=stale), className="tile__symbol", title=state_label),
            html.Span(format_value(value, int(indicator["decimals"]), lang), className="tile__number"),
            html.Span(origin, className="tile__origin") if origin else None,
        ]),
        html.Img(src=sparkline_src(spark, color=STATUS_COLOR["stale" if stale else (status or "none")]),
                 className="tile__spark", alt="") if spark_inline else None,
        html.Div(className="tile__meta", children=[
            html.Span(format_change(value, _num(row["prev_day_value"])), className="tile__change",
                      title=t("vs_yesterday", lang)),
            html.Span((t("stale", lang) + " · " if stale else "") + format_age(_num(row["age_s"]), lang, precise=stale),
                      className="tile__age"),
        ]),
    ]


def tile_signature(row: pd.Series | None, lang: str) -> str:
    """What a tile's text shows, hashed: equal signatures mean the screen already has it."""
    if row is None:
        return "none"
    stale = bool(row["stale"])
    parts = (row["value"], row["status"], stale, format_age(_num(row["age_s"]), lang, precise=stale),
             row["prev_day_value"], row.get("source_level"))
    return hashlib.blake2b(repr(parts).encode(), digest_size=6).hexdigest()


def spark_signature(spark: list[float | None], status: str | None, stale: bool) -> str:
    return hashlib.blake2b(repr((tuple(spark), status, stale)).encode(), digest_size=6).hexdigest()


def spark_src(spark: list[float | None], status: str | None, stale: bool) -> str:
    return sparkline_src(spark, color=STATUS_COLOR["stale" if stale else (status or "none")])


def create_vital_panels(catalogue: pd.DataFrame, lang: str) -> list[html.Section]:
    """Six panels in the fixed order operators know, with one empty tile per wall indicator."""
    panels = []
    for dimension in DIMENSIONS:
        rows = catalogue[catalogue["dimension"] == dimension]
        tiles = [
            html.Div(className="tile tile--none", children=[
                html.Div(id=ids.vital_tile(r.indicator_id), className="tile__body"),
                html.Img(id=ids.vital_spark(r.indicator_id), className="tile__spark", alt=""),
            ], **{"data-indicator": r.indicator_id}, id=ids.vital_frame(r.indicator_id))
            for r in rows.itertuples()
        ]
        panels.append(html.Section(className="panel", **{"data-dimension": dimension}, children=[
            html.H2(className="panel__title", children=[
                html.Span(t(f"dim_{dimension}", lang)),
                html.Span(id=ids.dimension_score(dimension), className="panel__score"),
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
