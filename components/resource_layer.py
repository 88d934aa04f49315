"""Field resources (``v_resources``): a clustered marker layer for a dash-leaflet map (markers by
type and status, popups; a position older than 2 x its period greyed with its age) and the list
beside it, where a resource without a position is always listed, never dropped.

Pure builders: the frames come in with ``age_s``, ``stale`` and ``has_position`` already decided
(``data_access.vitals.mark_position_staleness``, the one staleness rule). The marker styling lives
in assets/resources.js (``citywallRes.*``), fed by the layer's ``hideout`` (labels) and each
feature's properties; every tick sends the features only.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_leaflet as dl
import pandas as pd
from dash import html

from components import ids
from components.formatting import format_age
from components.i18n import t
from data_access.models import EMPTY_FC

STATUSES = ("en_route", "on_site", "idle", "off_duty")  # list order after the ones the map cannot show well
LIST_LIMIT = 9  # rows the board's list shows (the rest are on the map and in the counts)

TypeNames = Mapping[str, tuple[str, str | None]]  # resource_type -> (name, name_en)


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _flag(value: object) -> bool:
    return False if value is None or (isinstance(value, float) and pd.isna(value)) else bool(value)


def type_label(code: str, names: TypeNames, lang: str) -> str:
    name, name_en = names.get(code, (code, None))
    return (name_en or name) if lang == "en" else name


def type_glyph(code: str, names: TypeNames, lang: str) -> str:
    """One character that tells the types apart on a marker (the type's name's first)."""
    label = type_label(code, names, lang).strip()
    return (label[:1].upper() if lang == "en" else label[:1]) or "?"


def resource_name(row: Any, lang: str) -> str:
    return (_text(row.name_en) or _text(row.name)) if lang == "en" else _text(row.name)


def position_text(row: Any, lang: str) -> str:
    """What the list says of a resource's position: none, stale with its age, or its age."""
    if not _flag(row.has_position):
        return t("res_no_position", lang)
    age = format_age(None if pd.isna(row.age_s) else float(row.age_s), lang, precise=True)
    return t("res_stale", lang, age=age) if _flag(row.stale) else t("res_updated", lang, age=age)


def resource_features(resources: pd.DataFrame, *, names: TypeNames, lang: str) -> dict[str, Any]:
    """The positioned resources as GeoJSON points with what their marker and popup show."""
    if resources.empty:
        return EMPTY_FC
    features = []
    for row in resources.itertuples(index=False):
        if not _flag(row.has_position):
            continue  # listed (create_resource_list), not drawn
        stale = _flag(row.stale)
        features.append({"type": "Feature",
                         "geometry": {"type": "Point", "coordinates": [round(float(row.lon), 5),
                                                                       round(float(row.lat), 5)]},
                         "properties": {
                             "rid": str(row.resource_id), "name": resource_name(row, lang),
                             "type": str(row.type), "glyph": type_glyph(str(row.type), names, lang),
                             "tname": type_label(str(row.type), names, lang), "st": str(row.status),
                             "stl": t(f"res_status_{row.status}", lang), "stale": stale,
                             "pos": position_text(row, lang), "inc": _text(row.assigned_incident_id),
                         }})
    return {"type": "FeatureCollection", "features": features}


def resource_labels(lang: str) -> dict[str, str]:
    """The labels assets/resources.js writes into popups."""
    return {key: t(key, lang) for key in ("res_type", "res_status", "res_assigned")}


def create_resource_layer(*, key: str, features: dict[str, Any], lang: str, radius: int = 40) -> dl.GeoJSON:
    """The markers of one map (``key``), clustered within ``radius`` pixels; each tick replaces ``data`` only."""
    return dl.GeoJSON(id=ids.mid(ids.RES_LAYER, key), data=features, hideout={"labels": resource_labels(lang)},
                      cluster=True, superClusterOptions={"radius": radius, "maxZoom": 16},
                      pointToLayer={"variable": "citywallRes.toLayer"},
                      clusterToLayer={"variable": "citywallRes.clusterToLayer"},
                      onEachFeature={"variable": "citywallRes.each"}, zoomToBoundsOnClick=True)


def ordered(resources: pd.DataFrame) -> pd.DataFrame:
    """The list's order: without a position first, then stale positions (what the map cannot show
    well), then by status (en route, on site, idle, off duty) and name."""
    if resources.empty:
        return resources
    rank = {s: i for i, s in enumerate(STATUSES)}
    keyed = resources.assign(
        _pos=resources["has_position"].astype(bool).astype(int),
        _stale=(~resources["stale"].astype(bool)).astype(int),
        _status=resources["status"].map(lambda s: rank.get(s, len(rank))),
    )
    return keyed.sort_values(["_pos", "_stale", "_status", "name", "resource_id"]).drop(
        columns=["_pos", "_stale", "_status"]).reset_index(drop=True)


def status_counts(resources: pd.DataFrame) -> dict[str, int]:
    counts = {s: 0 for s in ("idle", "en_route", "on_site", "off_duty")}
    if not resources.empty:
        for status, n in resources["status"].value_counts().items():
            counts[str(status)] = counts.get(str(status), 0) + int(n)
    return counts


def create_resource_counts(resources: pd.DataFrame, lang: str) -> html.Span:
    counts = status_counts(resources)
    return html.Span(t("res_counts", lang, n=len(resources), **counts), className="sb-count",
                     **{"data-count": str(len(resources)),
                        **{f"data-{s.replace('_', '-')}": str(n) for s, n in counts.items()}})


def create_resource_row(row: Any, *, names: TypeNames, lang: str) -> html.Div:
    has_position, stale = _flag(row.has_position), _flag(row.stale)
    state = "nopos" if not has_position else "stale" if stale else "fresh"
    return html.Div(className=f"res-row res-row--{row.status} res-row--{state}",
                    **{"data-resource": str(row.resource_id), "data-position": state}, children=[
        html.Span(type_glyph(str(row.type), names, lang), className=f"res-glyph res-glyph--{row.status}",
                  title=type_label(str(row.type), names, lang)),
        html.Span(resource_name(row, lang), className="res-row__name"),
        html.Span(t(f"res_status_{row.status}", lang), className="res-row__status"),
        html.Span(position_text(row, lang), className="res-row__pos"),
    ])


def create_resource_list(resources: pd.DataFrame, *, names: TypeNames, lang: str,
                         limit: int = LIST_LIMIT) -> list[html.Div]:
    """The resources worth reading first (``ordered``), at most ``limit`` rows; every resource
    without a position is listed whatever the limit (it appears nowhere else)."""
    if resources.empty:
        return [html.Div(t("res_none", lang), className="cw-panel__empty")]
    rows = ordered(resources)
    no_position = int((~rows["has_position"].astype(bool)).sum())
    shown = rows.head(max(limit, no_position))
    out = [create_resource_row(r, names=names, lang=lang) for r in shown.itertuples(index=False)]
    if len(rows) > len(shown):
        out.append(html.Div(t("sb_more", lang, n=len(rows) - len(shown)), className="sb-more"))
    return out


def create_resource_legend(lang: str) -> html.Div:
    return html.Div(className="res-legend", children=[
        html.Span(t("res_legend", lang), className="res-legend__title"),
        *[html.Span([html.Span(className=f"res-dot res-dot--{s}"), t(f"res_status_{s}", lang)],
                    className="res-legend__item") for s in ("idle", "en_route", "on_site", "off_duty")],
        html.Span([html.Span(className="res-dot res-dot--stale"), t("stale", lang)], className="res-legend__item"),
    ])
