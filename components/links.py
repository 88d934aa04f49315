"""Every href of CityWall: a page's path from ``dash.page_registry`` (its ``path`` or
``path_template``), under the app's path prefix (``dash.get_relative_path``), with the query.

Pages are named by their module's last part (``wall``, ``wall_scope``, ``city``, ``district``,
``street``, ``incidents``, ``vitals``). Outside a running app (unit tests of the builders) the
registry is empty and a page's path is ``/<page>[/<code>]``, which is what every page registers."""
from __future__ import annotations

from urllib.parse import urlencode

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
