"""Display-only panels sent as one component instead of hundreds.

Dash 4's renderer dispatches one store action per component a callback (or a page change) mounts,
and every action runs the selectors of every component on the page: a level page's panels (KPIs,
category bars, the closed-loop funnel, vital-sign tiles, the legend, ~1,000 html components when
full) cost Chromium seconds per refresh and made a drill-down wait for the old page's storm.
Panels nobody clicks into are therefore built with the usual ``html.*`` factories and sent as the
HTML they stand for, inside one ``dcc.Markdown`` (``display: contents``: the panel's own CSS
layout sees the elements as its children). Every text and attribute value is escaped here, line
breaks included (``&#10;``): Markdown ends an HTML block at a blank line and reads the rest as
Markdown, so the panel's HTML is one line, one block, and no name ever becomes markup
(docs/security.md, "Names never become markup").
"""
from __future__ import annotations

import re
from html import escape
from typing import Any

from dash import dcc
from dash.development.base_component import Component

_VOID = {"br", "hr", "img", "wbr"}
_ATTR = re.compile(r"^(?:data|aria)-[a-z0-9-]+$|^(?:title|role|src|alt|href|width|height|lang)$")
_CSS_NAME = re.compile(r"(?<!^)(?=[A-Z])")


_LINE_BREAKS = str.maketrans({"\n": "&#10;", "\r": "&#13;"})


def _text(value: object, *, quote: bool) -> str:
    """``value`` as HTML text or attribute value: escaped, and on one line (breaks as references)."""
    return escape(str(value), quote=quote).translate(_LINE_BREAKS)


def _css(style: dict[str, Any]) -> str:
    return ";".join(f"{_CSS_NAME.sub('-', str(k)).lower()}:{v}" for k, v in style.items() if v is not None)


def to_html(node: Any) -> str:
    """The HTML of a tree of ``dash.html`` components, strings and numbers (text escaped)."""
    if node is None or node is False:
        return ""
    if isinstance(node, str | int | float):
        return _text(node, quote=False)
    if isinstance(node, list | tuple):
        return "".join(to_html(child) for child in node)
    if not isinstance(node, Component) or node._namespace != "dash_html_components":
        raise TypeError(f"not a static html component: {type(node).__name__}")
    tag = node._type.lower()
    attrs = []
    for name, value in node.to_plotly_json()["props"].items():
        if name == "children" or value is None:
            continue
        if name == "className":
            attrs.append(f' class="{_text(value, quote=True)}"')
        elif name == "style" and isinstance(value, dict):
            attrs.append(f' style="{_text(_css(value), quote=True)}"')
        elif _ATTR.match(name):
            attrs.append(f' {name}="{_text(value, quote=True)}"')
        else:
            raise TypeError(f"{tag}: the property {name!r} has no static HTML form")
    opening = f"<{tag}{''.join(attrs)}>"
    if tag in _VOID:
        return opening
    return f"{opening}{to_html(getattr(node, 'children', None))}</{tag}>"


def static_panel(children: Any, *, class_name: str = "") -> dcc.Markdown:
    """``children`` (html components) as one display-only component."""
    # One outer <div> on one line: Markdown takes the whole text as one raw HTML block, never as
    # paragraphs, and reads none of it as Markdown (a blank line would end the block).
    text = f'<div class="cw-html__root">{to_html(children)}</div>'
    if "\n" in text or "\r" in text:  # to_html never makes one; a line break here would be a bug
        raise ValueError("a static panel's HTML must be one line")
    return dcc.Markdown(text, dangerously_allow_html=True,
                        className=f"cw-html {class_name}".strip(), link_target="_self")
