"""The incident list on a page: its MATCH callbacks (rows, count, export; registered once per app by
pages/_callbacks.py), reading through data_access/readers/incident_list.py."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

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
from pages._runtime import current_runtime
from security import current_principal

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
        total = read_incident_count(runtime=runtime, scope=principal_scope, filt=filt)
        frame = read_incident_rows(runtime=runtime, scope=principal_scope, filt=filt, sort=sort, start=start, end=end)
    except SQLAlchemyError as exc:
        log.warning("incident list failed: %s", first_line(exc))
        return no_update, no_update, t("list_error", lang)
    rows = grid_rows(frame, lang=lang, tz=runtime.settings.tz)
    return {"rowData": rows, "rowCount": total}, t("list_matched", lang, n=f"{total:,}"), ""


def export_csv(n_clicks: int | None, categories: object, statuses: object, priorities: object, overdue: object,
               search: object, scope: dict | None, request: dict | None) -> tuple:
    """The filtered list (same query, same order as the grid) as CSV, read in chunks, at most 100,000 rows."""
    if not n_clicks:
        return no_update, no_update
    runtime = current_runtime()
    filt = make_filter(scope, categories, statuses, priorities, overdue, search)
    sort = sort_from_model(request.get("sortModel") if isinstance(request, dict) else None)
    try:
        text = csv_text(read_incident_export(runtime=runtime, scope=current_principal().scope, filt=filt, sort=sort),
                        tz=runtime.settings.tz)
    except SQLAlchemyError as exc:
        log.warning("incident export failed: %s", first_line(exc))
        return no_update, t("list_error", _lang(scope))
    code = filt.area_code or "city"
    return dcc.send_string(text, f"citywall-incidents-{code}.csv", type="text/csv"), ""
