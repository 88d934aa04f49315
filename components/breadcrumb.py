"""City › District › Street: real links up (dcc.Link, so back and forward work), the current level last."""
from __future__ import annotations

from collections.abc import Sequence

from dash import dcc, html

from components import ids
from components.i18n import t
from components.links import level_href
from data_access.models import Area


def create_breadcrumb(lineage: Sequence[Area], lang: str, *, lang_param: str | None = None,
                      tail: str | None = None) -> html.Nav:
    """Links to every ancestor, the last area (or ``tail``, e.g. a page name) as plain text."""
    items: list = []
    last = len(lineage) - 1 if tail is None else len(lineage)
    for i, area in enumerate(lineage):
        label = area.label(lang)
        if i < last:
            items.append(dcc.Link(label, href=level_href(area, lang_param), className="cw-crumb cw-crumb--link",
                                  id=ids.crumb(area.level)))
        else:
            items.append(html.Span(label, className="cw-crumb cw-crumb--current", id=ids.crumb(area.level),
                                   **{"aria-current": "page"}))
        if i < last:
            items.append(html.Span("›", className="cw-crumb__sep", **{"aria-hidden": "true"}))
    if tail is not None:
        items.append(html.Span(tail, className="cw-crumb cw-crumb--current", id=ids.CRUMB_TAIL,
                               **{"aria-current": "page"}))
    if not lineage and tail is None:
        items.append(html.Span(t("lvl_city", lang), className="cw-crumb"))
    return html.Nav(items, className="cw-crumbs", **{"aria-label": "breadcrumb"})
