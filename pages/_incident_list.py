"""The incident list on a page: its MATCH callbacks (rows, count, export; registered once per app by
pages/_callbacks.py), reading through data_access/readers/incident_list.py."""
from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import flask
from dash import dcc, no_update
from sqlalchemy.exc import SQLAlchemyError

from components.i18n import t
from components.incident_table import BLOCK_ROWS, csv_text, grid_rows
from data_access.errors import first_line
from data_access.incident_list import sort_from_model
from data_access.models import LANGUAGES, IncidentFilter
from data_access.readers.incident_list import (
    read_incident_count,
    read_incident_export,
    read_incident_rows,
    scoped_filter,
)
from data_access.readers.replay import read_incident_count_as_of, read_incident_export_as_of, read_incident_rows_as_of
from data_access.replay import ReplayError
from pages._replay import scope_moment
from pages._runtime import current_runtime
from security import current_principal
from security.limits import SlidingWindow

log = logging.getLogger(__name__)


def make_filter(scope: Mapping[str, Any] | None, categories: object, statuses: object, priorities: object,
                overdue: object, search: object) -> IncidentFilter:
    """The list's filter for the current principal; raises OutsideScope (a PermissionError) when
    its area (None: the city) is outside the principal's scope."""
    return scoped_filter(runtime=current_runtime(), scope=current_principal().scope, list_scope=scope,
                         categories=categories, statuses=statuses, priorities=priorities, overdue=overdue,
                         search=search)


def _lang(scope: Mapping[str, Any] | None) -> str:
    lang = scope.get("lang") if isinstance(scope, Mapping) else None
    return lang if lang in LANGUAGES else current_runtime().settings.lang


def _int(value: object, default: int) -> int:
    """A row index from the grid's request; anything else (forged, odd) is the default."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else default


def get_rows(request: dict | None, categories: object, statuses: object, priorities: object, overdue: object,
             search: object, scope: dict | None) -> tuple:
    """One block of rows for the grid, read from the view with the filters as bound parameters."""
    if not isinstance(request, dict):
        return no_update, no_update, no_update
    runtime = current_runtime()
    lang = _lang(scope)
    filt = make_filter(scope, categories, statuses, priorities, overdue, search)
    principal_scope = current_principal().scope
    sort = sort_from_model(request.get("sortModel"))
    start = _int(request.get("startRow"), 0)
    end = max(start, _int(request.get("endRow"), start + BLOCK_ROWS))
    try:
        at = scope_moment(scope)  # a replayed page (issue 15): the incidents open at its moment
        if at is not None:
            total = read_incident_count_as_of(runtime=runtime, scope=principal_scope, filt=filt, at=at)
            frame = read_incident_rows_as_of(runtime=runtime, scope=principal_scope, filt=filt, sort=sort,
                                             start=start, end=end, at=at)
        else:
            total = read_incident_count(runtime=runtime, scope=principal_scope, filt=filt)
            frame = read_incident_rows(runtime=runtime, scope=principal_scope, filt=filt, sort=sort, start=start,
                                       end=end)
    except SQLAlchemyError as exc:
        log.warning("incident list failed: %s", first_line(exc))
        return no_update, no_update, t("list_error", lang)
    except ReplayError:
        return no_update, no_update, t("rpl_failed", lang)
    rows = grid_rows(frame, lang=lang, tz=runtime.settings.tz)
    return {"rowData": rows, "rowCount": total}, t("list_matched", lang, n=f"{total:,}"), ""


class ExportLimits:
    """How many exports a user may start (``PER_MINUTE`` in a sliding minute, per principal name)
    and how many may build at once in this process (``AT_ONCE``): a flood of exports can neither
    hold the process's memory nor crowd out the walls' refreshes (issue 12, item 12). Per process,
    like the sign-in throttle: N workers allow N times the limits, still bounded."""

    PER_MINUTE = 6
    AT_ONCE = 2
    WINDOW_S = 60.0

    def __init__(self) -> None:
        self._started = SlidingWindow(self.WINDOW_S, max_keys=10_000)
        self._building = threading.BoundedSemaphore(self.AT_ONCE)

    def retry_after(self, user: str) -> int:
        """0 when ``user`` may start an export now (and it is counted), else the seconds to wait."""
        return self._started.take(user, self.PER_MINUTE)

    def refund(self, user: str) -> None:
        """Uncount ``user``'s last start (it found no building slot)."""
        self._started.refund(user)

    def slot(self) -> bool:
        """Take one of the ``AT_ONCE`` building slots (False: all busy); ``release`` gives it back."""
        return self._building.acquire(blocking=False)

    def release(self) -> None:
        self._building.release()


_LIMITS_KEY = "citywall-export-limits"


def export_limits() -> ExportLimits:
    """This app's export limits (one per Flask app, made on first use)."""
    return flask.current_app.extensions.setdefault(_LIMITS_KEY, ExportLimits())


def export_csv(n_clicks: int | None, categories: object, statuses: object, priorities: object, overdue: object,
               search: object, scope: dict | None, request: dict | None) -> tuple:
    """The filtered list (same query, same order as the grid) as CSV, read in chunks, at most 100,000
    rows; at most ``ExportLimits.PER_MINUTE`` a minute per user, ``AT_ONCE`` building per process."""
    if not n_clicks:
        return no_update, no_update
    runtime = current_runtime()
    filt = make_filter(scope, categories, statuses, priorities, overdue, search)
    sort = sort_from_model(request.get("sortModel") if isinstance(request, dict) else None)
    principal, limits, lang = current_principal(), export_limits(), _lang(scope)
    wait = limits.retry_after(principal.name)
    if wait:
        log.warning("refused an export for %s: more than %d a minute", principal.name, limits.PER_MINUTE)
        return no_update, t("export_too_many", lang, n=limits.PER_MINUTE, s=wait)
    if not limits.slot():
        limits.refund(principal.name)
        log.warning("refused an export for %s: %d exports building", principal.name, limits.AT_ONCE)
        return no_update, t("export_busy", lang)
    try:
        at = scope_moment(scope)  # a replayed page: the export of what it shows, named by its moment
        chunks = read_incident_export(runtime=runtime, scope=principal.scope, filt=filt, sort=sort) if at is None \
            else read_incident_export_as_of(runtime=runtime, scope=principal.scope, filt=filt, sort=sort, at=at)
        text = csv_text(chunks, tz=runtime.settings.tz)
    except SQLAlchemyError as exc:
        log.warning("incident export failed: %s", first_line(exc))
        return no_update, t("list_error", lang)
    except ReplayError:
        return no_update, t("rpl_failed", lang)
    finally:
        limits.release()
    code = filt.area_code or "city"
    suffix = f"-at-{at:%Y%m%dT%H%M}Z" if at is not None else ""
    return dcc.send_string(text, f"citywall-incidents-{code}{suffix}.csv", type="text/csv"), ""
