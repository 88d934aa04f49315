"""What ``/log`` and its handover page share: the address read into a window, an area and kinds
(with a clear message for a bad from/to or area), and the log read through the cached reader."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dash import html
from sqlalchemy.exc import SQLAlchemyError

from components import ids
from components.formatting import local_stamp
from components.i18n import pick_language, t
from components.shift_log import TIME_FORMAT
from data_access.areas import valid_code
from data_access.db import utc_now
from data_access.errors import first_line
from data_access.models import LANGUAGES, Area, ShiftLog, ShiftWindow
from data_access.readers.areas import read_area, read_city, read_districts
from data_access.readers.shift_log import read_shift_log
from data_access.scenarios import KEPT_WINDOW
from data_access.shift_log import MAX_INPUT, ShiftLogError, parse_kinds, parse_window
from pages._runtime import current_runtime
from security import current_principal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogRequest:
    """One request of the log or its handover page, read from the address."""
    lang: str
    lang_param: str | None
    window: ShiftWindow | None  # None: from/to could not be read (``error`` says why)
    error: str | None
    area: Area | None  # None: the area could not be read (``error``)
    kinds: tuple[str, ...]
    start_text: str  # what the From field shows (the address's value as given, or the window's start)
    end_text: str


def query_text(value: object) -> str:
    """One query value as text (a repeated key: its first; anything else: ""), at most MAX_INPUT long."""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return value[:MAX_INPUT] if isinstance(value, str) else ""


def log_request(query: Mapping[str, Any]) -> LogRequest:
    """The request of ``query`` (the page's keyword arguments): never raises for bad input, but
    OutsideScope (a PermissionError: the guard's refusal) for an area outside the principal's scope."""
    runtime = current_runtime()
    lang_value = query.get("lang")
    lang_param = lang_value if lang_value in LANGUAGES else None
    lang = pick_language(lang_param, runtime.settings.lang)
    tz = runtime.settings.tz
    now = utc_now()
    start, end = query_text(query.get("from")), query_text(query.get("to"))
    window: ShiftWindow | None = None
    error: str | None = None
    try:
        window = parse_window(start, end, tz=tz, now=now)
    except ShiftLogError as exc:
        error = t(f"log_bad_{exc.code}", lang, kept=local_stamp(now - KEPT_WINDOW, tz, TIME_FORMAT))
    code = query_text(query.get("area"))
    area: Area | None
    if code:
        area = read_area(runtime=runtime, scope=current_principal().scope, code=code) if valid_code(code) else None
        if area is None:
            error = error or t("log_bad_area", lang, code=code[:40])
    else:
        area = read_city(runtime=runtime)
    return LogRequest(
        lang=lang, lang_param=lang_param, window=window, error=error, area=area, kinds=parse_kinds(query.get("kind")),
        start_text=start or (local_stamp(window.since, tz, TIME_FORMAT) if window else ""),
        end_text=end or (local_stamp(window.until, tz, TIME_FORMAT) if window else ""))


def area_code_of(area: Area | None) -> str | None:
    """The reader's area: None for the city (every entry)."""
    return None if area is None or area.level == "city" else area.area_code


def read_log(request: LogRequest) -> ShiftLog | None:
    """The request's log (None when its window or area could not be read)."""
    if request.window is None or request.area is None:
        return None
    runtime = current_runtime()
    return read_shift_log(runtime=runtime, scope=current_principal().scope, window=request.window,
                          area_code=area_code_of(request.area), kinds=request.kinds)


def log_or_message(request: LogRequest, *, page: str) -> tuple[ShiftLog | None, list]:
    """The request's log for /log and its handover page, or what the page says instead: the
    request's own error (a bad from/to, an unknown area), or that the database could not be read."""
    if request.error:
        return None, [html.Div(request.error, id=ids.LOG_MESSAGE, className="log-message log-message--error",
                               role="alert")]
    try:
        return read_log(request), []
    except SQLAlchemyError as exc:
        log.warning("%s failed: %s", page, first_line(exc))
        return None, [html.Div(t("log_error", request.lang), id=ids.LOG_MESSAGE,
                               className="log-message log-message--error", role="alert")]


def area_choices(current: Area | None) -> list[Area]:
    """The areas the filter offers: the city and its districts within the principal's scope, and
    the current area (a street) when it is none of them."""
    runtime = current_runtime()
    scope = current_principal().scope
    out: list[Area] = []
    city = read_city(runtime=runtime)
    if city is not None and scope is None:
        out.append(city)
    for district in read_districts(runtime=runtime):
        if scope is None or district.area_code == scope or scope in runtime.lineage(district.area_code):
            out.append(district)
    if current is not None and all(a.area_code != current.area_code for a in out):
        out.append(current)
    return out


def window_state(request: LogRequest) -> dict[str, Any]:
    """What the export callback needs to read the very log the page shows."""
    window = request.window
    return {"lang": request.lang, "since": window.since.isoformat() if window else None,
            "until": window.until.isoformat() if window else None,
            "area": request.area.area_code if request.area else None, "kinds": list(request.kinds)}


def window_of_state(state: object, *, now: datetime) -> ShiftWindow:
    """The window of the page's store as the browser sends it back (ShiftLogError when forged)."""
    state = state if isinstance(state, dict) else {}
    since, until = state.get("since"), state.get("until")
    if not isinstance(since, str) or not isinstance(until, str):
        raise ShiftLogError("malformed", "no window")
    return parse_window(since + "+00:00", until + "+00:00", tz=current_runtime().settings.tz, now=now)
