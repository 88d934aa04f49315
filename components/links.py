"""Every href of CityWall: a page's path from ``dash.page_registry`` (its ``path`` or
``path_template``), under the app's path prefix (``dash.get_relative_path``), with the query.

Pages are named by their module's last part (``wall``, ``wall_scope``, ``city``, ``district``,
``street``, ``incidents``, ``vitals``). Outside a running app (unit tests of the builders) the
registry is empty and a page's path is ``/<page>[/<code>]``, which is what every page registers."""
from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

import dash

from data_access.models import Area


def _template(page: str) -> str | None:
    for module, entry in dash.page_registry.items():
        if module.rsplit(".", 1)[-1] == page:
            return entry.get("path_template") or entry.get("path")
    return None


def _prefixed(path: str) -> str:
    try:
        return dash.get_relative_path(path)
    except Exception:  # noqa: BLE001 - no app configured yet (unit tests): no prefix
        return path


def page_href(page: str, code: str | None = None, **query: object) -> str:
    """The href of ``page`` (its ``<code>`` filled in), with ``query`` (None or "" values left out)."""
    template = _template(page)
    if template is None:
        template = {"wall": "/", "wall_scope": "/wall/<code>"}.get(page) or (
            f"/{page}" + ("/<code>" if code is not None else ""))
    path = template.replace("<code>", str(code)) if "<code>" in template else template
    params = {k: v for k, v in query.items() if v not in (None, "")}
    return _prefixed(path) + ("?" + urlencode(params) if params else "")


def area_href(level: str, code: str, lang_param: str | None) -> str:
    """The level page of one area (``city`` has no code)."""
    return page_href(level, None if level == "city" else code, lang=lang_param)


def level_href(area: Area, lang_param: str | None = None) -> str:
    return area_href(area.level, area.area_code, lang_param)


def wall_href(code: str | None = None, **query: object) -> str:
    """The city wall (None), or the wall pinned to ``code``."""
    return page_href("wall", **query) if code is None else page_href("wall_scope", code, **query)


def scenario_href(scenario_id: str, area_code: str | None = None, **query: object) -> str:
    """The board of ``scenario_id`` in ``area_code`` (None: the city's board), with ``query``."""
    if area_code is None:
        template = _template("scenario_city") or "/scenario/<scenario_id>"
        path = template.replace("<scenario_id>", str(scenario_id))
    else:
        template = _template("scenario") or "/scenario/<scenario_id>/<area_code>"
        path = template.replace("<scenario_id>", str(scenario_id)).replace("<area_code>", str(area_code))
    params = {k: v for k, v in query.items() if v not in (None, "")}
    return _prefixed(path) + ("?" + urlencode(params) if params else "")


_SEGMENT = "[0-9A-Za-z_.-]{1,32}"  # what a path's <code> may be (data_access.areas.valid_code's rule)
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")  # controls, spaces, backslashes: browsers bend them into hosts


def _page_patterns() -> list[re.Pattern[str]]:
    """One pattern per page of the app (its path or path template, under the app's prefix)."""
    templates = [entry.get("path_template") or entry.get("path") for entry in dash.page_registry.values()]
    if not any(templates):  # outside a running app (unit tests): what every page registers
        templates = ["/", "/wall/<code>", "/city", "/district/<code>", "/street/<code>", "/incidents", "/vitals",
                     "/scenario/<scenario_id>/<area_code>", "/scenario/<scenario_id>"]
    out = []
    for template in filter(None, templates):
        parts = re.split(r"<[^>]+>", template)
        out.append(re.compile(re.escape(_prefixed(parts[0])) + "".join(
            _SEGMENT + re.escape(part) for part in parts[1:]) + r"\Z"))
    return out


def own_path(entry: object) -> str | None:
    """``entry`` when it is the address of a page of this app (``/wall/310115?lang=en``: a path
    under the app's prefix that a registered page answers, with an optional query), else None.
    ``//host/x``, ``/\\host``, ``https://…``, ``javascript:…`` and every other address are refused:
    a kiosk playlist may only lead to this app's own pages (docs/security.md, issue 12 item 10)."""
    if not isinstance(entry, str):
        return None
    text = entry.strip()
    if not text.startswith("/") or text.startswith("//") or _UNSAFE.search(text) or len(text) > 500:
        return None
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or parts.fragment or "#" in text:
        return None
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        return None
    if not any(pattern.match(parts.path) for pattern in _page_patterns()):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
