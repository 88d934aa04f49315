"""Tiny inline-SVG sparklines (an <img> with a data URI): cheap to send, no chart per tile."""
from __future__ import annotations

import math
from collections.abc import Sequence

from components.theme import PALETTE

WIDTH, HEIGHT = 120, 30  # integer coordinates on this grid keep the URI short


def sparkline_src(values: Sequence[float | None], *, color: str = PALETTE["accent"]) -> str:
    """A data-URI SVG polyline of ``values`` scaled to the box; empty string when < 2 points."""
    points = [(i, v) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    if len(points) < 2:
        return ""
    low = min(v for _, v in points)
    high = max(v for _, v in points)
    span = (high - low) or 1.0
    last = max(len(values) - 1, 1)
    coords = " ".join(
        f"{round(i * WIDTH / last)},{round(HEIGHT - 2 - (v - low) / span * (HEIGHT - 4))}" for i, v in points
    )
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {HEIGHT}' preserveAspectRatio='none'>"
           f"<polyline fill='none' stroke='{color}' stroke-width='1.6' vector-effect='non-scaling-stroke' "
           f"points='{coords}'/></svg>")
    # Only the characters a data URI cannot carry as they are get escaped: about half the size of quote().
    return "data:image/svg+xml," + svg.replace("%", "%25").replace("#", "%23").replace("<", "%3C").replace(">", "%3E")
