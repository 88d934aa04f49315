"""Property tests: arbitrary strings in every URL route and query string, arbitrary JSON in every
server callback's inputs, arbitrary request bodies. The app (real Dash, real SQLite database)
must answer with a clear page or message and a status below 500, never a traceback; a
well-formed callback request must never need the last-resort error handler."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from data_access.db import init_db, make_engine
from data_access.settings import Settings
from tests.fixtures import seed_small_city
from tests.test_security_auth import callback_payload, panels_payload, route_payload, rows_payload, wall_payload

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=80) | st.sampled_from(
    ["100100", "100100001", "999999", "", " ", "../../etc/passwd", "%00", "' OR 1=1 --", "<script>x</script>",
     "9" * 500, "１００１００", "city", "None", "null", "zh", "en", "1h", "7d", "aqi"])


def _json(text: st.SearchStrategy[str]) -> st.SearchStrategy[object]:
    return st.recursive(
        st.none() | st.booleans() | st.integers(min_value=-2**63, max_value=2**63) | st.floats(allow_nan=False) | text,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text | st.sampled_from(
            ["area_code", "level", "lang", "startRow", "endRow", "sortModel", "colId", "sort"]), inner, max_size=4),
        max_leaves=12)


JSON = _json(TEXT)
# The list's values also with lone surrogates and NUL (a JSON body may carry them; a URL cannot).
LIST_JSON = _json(TEXT | st.text(st.characters(), max_size=20) | st.sampled_from(["\ud800", "a\udfff", "\x00"]))


class _LastResort(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    engine = make_engine(url)
    init_db(engine)
    seed_small_city(engine)
    engine.dispose()
    yield create_app(Settings(database_url=url, feeder=False, refresh_s=1))


@pytest.fixture(scope="module")
def last_resort() -> Iterator[_LastResort]:
    handler = _LastResort()
    logger = logging.getLogger("security")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def _ok(reply, what: object) -> None:
    body = reply.get_data(as_text=True)
    assert reply.status_code < 500, (what, reply.status_code, body[:300])
    assert "Traceback" not in body, what


def _well_formed(reply, what: object, last_resort: _LastResort) -> None:
    _ok(reply, what)
    failures, last_resort.records[:] = list(last_resort.records), []
    assert not failures, (what, failures[0].exc_info)


@FUZZ
@given(code=TEXT, route=st.sampled_from(["/district/", "/street/", "/wall/"]))
def test_code_routes(app, code: str, route: str) -> None:
    client = app.server.test_client()
    reply = client.get(route + quote(code, safe=""))
    _ok(reply, code)
    if code and not code.isalnum():
        assert reply.status_code == 404 or "/" in code or code in (".", ".."), (code, reply.status_code)


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["scope", "lang", "kiosk", "rotate", "playlist", "indicator",
                                               "range", "area", "category", "status", "priority", "overdue", "q",
                                               "token"]) | TEXT, TEXT, max_size=5),
       page=st.sampled_from(["/", "/incidents", "/vitals", "/city", "/district/100100", "/street/100100001",
                             "/wall/100100"]))
def test_query_strings_on_every_page(app, last_resort: _LastResort, params: dict, page: str) -> None:
    """The GET and, where the page's layout really runs, the routing callback with the same address."""
    client = app.server.test_client()
    search = urlencode(params)
    _ok(client.get(page + "?" + search), params)
    _well_formed(client.post("/_dash-update-component", json=route_payload(app, page, "?" + search)), params,
                 last_resort)


@FUZZ
@given(path=TEXT, search=TEXT)
def test_routing_callback_with_any_address(app, last_resort: _LastResort, path: str, search: str) -> None:
    client = app.server.test_client()
    for pathname in ("/" + path, "/district/" + path, "/street/" + path, "/wall/" + path):
        _well_formed(client.post("/_dash-update-component", json=route_payload(app, pathname, search)),
                     pathname, last_resort)


@FUZZ
@given(scope=JSON, n=JSON, signatures=JSON)
def test_wall_callback_with_any_values(app, last_resort: _LastResort, scope: object, n: object,
                                       signatures: object) -> None:
    payload = wall_payload(app, "100100")
    payload["inputs"][0]["value"] = n
    payload["state"][0]["value"] = scope
    payload["state"][1]["value"] = signatures
    _well_formed(app.server.test_client().post("/_dash-update-component", json=payload), payload, last_resort)


@FUZZ
@given(request=LIST_JSON, categories=LIST_JSON, statuses=LIST_JSON, priorities=LIST_JSON, overdue=LIST_JSON,
       search=LIST_JSON, scope=LIST_JSON)
def test_list_callback_with_any_values(app, last_resort: _LastResort, request: object, categories: object,
                                       statuses: object, priorities: object, overdue: object, search: object,
                                       scope: object) -> None:
    payload = rows_payload(app, "100100", **{"cw-grid.getRowsRequest": request, "cw-list-category": categories,
                                             "cw-list-status": statuses, "cw-list-priority": priorities,
                                             "cw-list-overdue": overdue, "cw-list-search": search,
                                             "cw-list-scope": scope})
    _well_formed(app.server.test_client().post("/_dash-update-component", json=payload), payload, last_resort)


@FUZZ
@given(scope=JSON, tick=JSON, signature=JSON, missing=JSON)
def test_map_and_panel_callbacks_with_any_values(app, last_resort: _LastResort, scope: object, tick: object,
                                                 signature: object, missing: object) -> None:
    client = app.server.test_client()
    payloads = [
        panels_payload(app, "100100"),
        callback_payload(app, "cw-map-sig", {"cw-tick": tick, "cw-map-sig": signature, "cw-map-scope": scope}),
        callback_payload(app, "cw-map-cells", {"cw-map-missing": missing, "cw-map-scope": scope}),
        callback_payload(app, "vx-items", {"vx-search": tick, "vx-state": scope}),
        callback_payload(app, "vx-location", {"vx-area": tick, "vx-state": scope}),
    ]
    payloads[0]["state"][0]["value"] = scope
    for payload in payloads:
        _well_formed(client.post("/_dash-update-component", json=payload), payload, last_resort)


@FUZZ
@given(body=JSON)
def test_callback_endpoint_with_any_body(app, body: object) -> None:
    client = app.server.test_client()
    reply = client.post("/_dash-update-component", json=body)
    _ok(reply, body)
    assert reply.status_code in (400, 204, 200), (body, reply.status_code)


@FUZZ
@given(body=st.binary(max_size=300))
def test_callback_endpoint_with_any_bytes(app, body: bytes) -> None:
    reply = app.server.test_client().post("/_dash-update-component", data=body, content_type="application/json")
    _ok(reply, body)
    assert reply.status_code == 400


def test_oversized_callback_body_is_refused(app) -> None:
    payload = wall_payload(app, "100100")
    payload["state"][1]["value"] = {"x": "y" * (3 * 1024 * 1024)}
    reply = app.server.test_client().post("/_dash-update-component", json=payload)
    assert reply.status_code == 413


@pytest.mark.parametrize("path", ["/_dash-component-suites/nope/nope.js", "/_dash-component-suites/dash/x.v9m1.js",
                                  "/_dash-component-suites/dash_leaflet/../../etc/passwd"])
def test_unknown_component_bundles_are_not_found_not_a_failure(app, path: str) -> None:
    reply = app.server.test_client().get(path)
    assert reply.status_code == 404, (path, reply.status_code)
