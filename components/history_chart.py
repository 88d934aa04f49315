"""The explorer's history chart: one series with its warning and alarm bands."""
from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from components.i18n import t
from components.theme import PALETTE, STATUS_COLOR
from components.vital_panel import indicator_unit


def _bound(value: object) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def create_history_figure(history: pd.DataFrame, indicator: pd.Series, lang: str, *, timezone: str) -> go.Figure:
    """Line of the values in local time; bands shade the warning and alarm zones."""
    times = pd.to_datetime(history["time"]).dt.tz_localize("UTC").dt.tz_convert(timezone) if not history.empty \
        else pd.Series(dtype="datetime64[ns]")
    fig = go.Figure(go.Scatter(x=times, y=history["value"], mode="lines", line={"color": PALETTE["accent"], "width": 2},
                               name=(indicator["name_en"] or indicator["name"]) if lang == "en" else indicator["name"]))
    values = [v for v in history["value"].tolist() if v is not None and not pd.isna(v)]
    bounds = {k: _bound(indicator[k]) for k in ("warn_low", "warn_high", "alarm_low", "alarm_high")}
    known = [b for b in bounds.values() if b is not None]
    lo = min(values + known) if values or known else 0.0
    hi = max(values + known) if values or known else 1.0
    pad = (hi - lo) * 0.15 or 1.0
    lo, hi = lo - pad, hi + pad

    def band(y0: float | None, y1: float | None, color: str, label: str) -> None:
        if y0 is None or y1 is None or y1 <= y0:
            return
        fig.add_hrect(y0=y0, y1=y1, fillcolor=color, opacity=0.14, line_width=0,
                      annotation_text=label, annotation_position="top left",
                      annotation_font={"color": color, "size": 12})

    warn_label, alarm_label = t("warn_band", lang), t("alarm_band", lang)
    if bounds["warn_high"] is not None:
        band(bounds["warn_high"], bounds["alarm_high"] or hi, STATUS_COLOR["warn"], warn_label)
    if bounds["alarm_high"] is not None:
        band(bounds["alarm_high"], max(hi, bounds["alarm_high"] + pad), STATUS_COLOR["alarm"], alarm_label)
    if bounds["warn_low"] is not None:
        band(bounds["alarm_low"] if bounds["alarm_low"] is not None else lo, bounds["warn_low"],
             STATUS_COLOR["warn"], warn_label)
    if bounds["alarm_low"] is not None:
        band(min(lo, bounds["alarm_low"] - pad), bounds["alarm_low"], STATUS_COLOR["alarm"], alarm_label)
    fig.update_layout(
        template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor=PALETTE["panel"],
        margin={"l": 60, "r": 20, "t": 20, "b": 40}, showlegend=False, font={"size": 14},
        yaxis={"title": indicator_unit(indicator, lang), "range": [lo, hi]}, uirevision=str(indicator["indicator_id"]),
    )
    return fig
