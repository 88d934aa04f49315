"""Indicator tiles grouped in one panel per vital-sign dimension."""
from __future__ import annotations

import pandas as pd
from dash import html

from components import ids
from components.formatting import format_age, format_change, format_value
from components.i18n import DIMENSIONS, t
from components.theme import status_class, status_symbol


def _none_if_nan(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def create_vital_tile(row: pd.Series, lang: str) -> html.Div:
    """One indicator: name, value with unit, state (colour and symbol), change, age."""
    stale = bool(row["stale"])
    status = row["status"] if isinstance(row["status"], str) else None
    name = (row["name_en"] or row["name"]) if lang == "en" else row["name"]
    value = _none_if_nan(row["value"])
    state_label = t("stale", lang) if stale else t(f"status_{status or 'none'}", lang)
    return html.Div(
        className=f"tile tile--{status_class(status, stale=stale)}",
        id=ids.vital_tile(row["indicator_id"]),
        title=state_label,
        children=[
            html.Div(name, className="tile__name"),
            html.Div(className="tile__value", children=[
                html.Span(status_symbol(status, stale=stale), className="tile__symbol", **{"aria-label": state_label}),
                html.Span(format_value(value, int(row["decimals"])), className="tile__number"),
                html.Span(row["unit"] or "", className="tile__unit"),
            ]),
            html.Div(className="tile__meta", children=[
                html.Span(format_change(value, _none_if_nan(row["prev_day_value"])), className="tile__change"),
                html.Span(format_age(_none_if_nan(row["age_s"]), lang), className="tile__age"),
            ]),
        ],
    )


def create_vital_panels(vitals: pd.DataFrame, lang: str) -> list[html.Section]:
    """Six panels, one per dimension, in the fixed order operators know."""
    panels = []
    for dimension in DIMENSIONS:
        rows = vitals[vitals["dimension"] == dimension]
        tiles = [create_vital_tile(row, lang) for _, row in rows.iterrows()]
        panels.append(html.Section(className="panel", children=[
            html.H2(t(f"dim_{dimension}", lang), className="panel__title"),
            html.Div(tiles or html.Div(t("no_data", lang), className="panel__empty"), className="panel__tiles"),
        ]))
    return panels
