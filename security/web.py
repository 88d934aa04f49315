"""The Flask side of security: one gate before every request (authentication, callback payload
checks), the page guard built from what each page declares on ``dash.register_page``, server
callbacks that declare their rule where they are registered (``callback``), security headers and
error handlers. The rules themselves are the pure functions of ``security.policy``."""
from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import dash
import flask
from flask.sessions import SecureCookieSessionInterface

from data_access.areas import valid_code
from data_access.settings import Settings
from security import policy
from security.auth import Authenticator, refusal_response
from security.config import check_configuration
from security.payload import MAX_CALLBACK_BYTES, callback_shape_error, named_areas
from security.policy import ANONYMOUS, NOBODY, AccessDenied, Lineage, PageAccess, Principal

log = logging.getLogger("security")

EXTENSION_KEY = "citywall_security"
F = TypeVar("F", bound=Callable[..., Any])


class Gate:
    """Everything ``install_security`` attaches to one Flask server."""

    def __init__(self, dash_app: dash.Dash, settings: Settings, lineage: Lineage) -> None:
        self.dash_app = dash_app
        self.settings = settings
        self.auth = Authenticator(settings)
        self._lineage = lineage
        self._csp: tuple[tuple[str, ...], str] | None = None
        prefix = dash_app.config.routes_pathname_prefix or "/"
        self.prefix = prefix
        self.callback_path = prefix + "_dash-update-component"

    def lineage(self, area_code: object) -> tuple[str, ...]:
        """The area and its ancestors (nearest first; the runtime keeps them a few minutes); () for
        unknown or malformed codes."""
        return tuple(self._lineage(area_code)) if valid_code(area_code) else ()

    def csp(self) -> str:
        # Dash's public csp_hashes(): the policy follows the inline scripts the app serves now.
        current = tuple(self.dash_app.csp_hashes())
        if self._csp is None or self._csp[0] != current:
            hashes = " ".join(current)
            img = ["'self'", "data:", "blob:"]
            tile = urlsplit(self.settings.tile_url.replace("{s}.", "*.").replace("{", "").replace("}", ""))
            if tile.scheme in ("http", "https") and tile.netloc:
                img.append(f"{tile.scheme}://{tile.netloc}")
            policy_parts = [
                "default-src 'self'",
                f"script-src 'self' {hashes}",
                "style-src 'self' 'unsafe-inline'",
                f"img-src {' '.join(img)}",
                "font-src 'self' data:",
                "connect-src 'self'",
                "worker-src 'self' blob:",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                f"frame-ancestors {self.settings.frame_ancestors}",
            ]
            self._csp = (current, "; ".join(policy_parts))
        return self._csp[1]

    def page_path(self, path: str) -> str:
        """A request path without the app's path prefix, as page paths are registered."""
        if self.prefix != "/" and path.startswith(self.prefix):
            return "/" + path[len(self.prefix):]
        return path


def _gate() -> Gate | None:
    if not flask.has_app_context():
        return None
    return flask.current_app.extensions.get(EXTENSION_KEY)


def current_principal() -> Principal:
    """Who the current request is; outside a request (feeder, CLI, benchmarks): a city-wide admin."""
    if not flask.has_request_context():
        return ANONYMOUS
    principal = flask.g.get("cw_principal")
    if principal is not None:
        return principal
    return ANONYMOUS if _gate() is None else NOBODY  # a gate is installed but did not see this request


def authenticate_again() -> Principal | None:
    """The current request's principal authenticated anew, None when it is refused now (a revoked kiosk
    token, a removed user): a long-lived response (the wall's push stream, pages/_push.py) asks each
    tick, so that a revocation ends it as it would refuse the next poll. Outside a gate: as
    ``current_principal``."""
    gate = _gate()
    if gate is None or not flask.has_request_context():
        return current_principal()
    result = gate.auth.authenticate()
    return result if isinstance(result, Principal) else None


def _mark_checked() -> None:
    if flask.has_request_context():
        flask.g.cw_rule_checked = True


def callback(*dependencies: Any, access: str, app: dash.Dash | None = None, **options: Any) -> Callable[[F], F]:
    """``dash.callback`` (or ``app.callback``) with the least role that may run it, declared where
    it is registered::

        @callback(Output(...), Input(...), access="wall")
        def refresh(...): ...

        callback(Output(...), Input(...), access="leader", app=app)(read_rows)  # shared, registered once

    The rule is checked before the function runs; a server callback registered without it is
    refused (403) by the gate, so forgetting the declaration fails closed."""
    role = policy.checked_role(access)

    def register(function: F) -> F:
        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            policy.require_role(current_principal(), role)
            _mark_checked()
            return function(*args, **kwargs)

        checked.cw_access = role  # type: ignore[attr-defined]
        (app.callback if app is not None else dash.callback)(*dependencies, **options)(checked)
        return function

    return register


# --- pages -------------------------------------------------------------------------------------------

def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"<([A-Za-z_][A-Za-z0-9_]*)>", template)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.*)" for i, p in enumerate(parts))
    return re.compile(f"^{regex}$")


def match_page(path: str) -> tuple[Mapping[str, Any], dict[str, str]] | None:
    """The ``dash.page_registry`` entry serving ``path`` (without the prefix) and its path variables."""
    for page in dash.page_registry.values():
        if page.get("path_template"):
            found = _template_pattern(page["path_template"]).match(path)
            if found:
                return page, found.groupdict()
        elif page.get("path") == path:
            return page, {}
    return None


def refusal_block(lang: object, code: object) -> Any:
    from components.i18n import pick_language, t
    from components.links import wall_href
    from components.refusal import create_refusal

    gate = _gate()
    lang = pick_language(lang, gate.settings.lang if gate else "zh")
    principal = current_principal()
    home = wall_href(principal.scope)  # the viewer's own wall
    return create_refusal(title=t("access_denied_title", lang), body=t("access_denied_body", lang, code=str(code)[:40]),
                          back_label=t("access_denied_back", lang), back_href=home)


def _guard_layout(module: str, access: PageAccess | None, layout: Callable[..., Any]) -> Callable[..., Any]:
    """A page layout that checks the page's declared access first and turns AccessDenied (from the
    rule or from any data read inside the layout) into the refusal block."""
    def guarded(**kwargs: Any) -> Any:
        principal = current_principal()
        _mark_checked()
        area = "?"
        try:
            if access is None:
                raise AccessDenied(f"page {module} declares no access (min_role on dash.register_page)")
            area = access.area(principal, kwargs)
            if access.own_area and access.area_arg and not kwargs.get(access.area_arg) and principal.scope:
                kwargs[access.area_arg] = principal.scope  # a scoped user's "/" is their own wall
            gate = _gate()
            access.check(principal, kwargs, lineage=gate.lineage if gate else (lambda _c: ()))
            return layout(**kwargs)
        except PermissionError as exc:  # the page's rule, or a reader's scope check inside the layout
            log.warning("refused %s (%s): %s", principal.name, module, exc)
            return refusal_block(kwargs.get("lang"), area or module.rsplit(".", 1)[-1])

    guarded.cw_guarded = True  # type: ignore[attr-defined]
    guarded.__wrapped__ = layout  # type: ignore[attr-defined]
    return guarded


def guard_page_layouts() -> None:
    """Wrap every registered page's layout (idempotent; Dash registers pages again for each app)."""
    for module, page in dash.page_registry.items():
        layout = page.get("layout")
        if callable(layout) and not getattr(layout, "cw_guarded", False):
            access = PageAccess.of(page)
            if access is None:
                log.error("page %s declares no access: it is refused to everyone", module)
            page["layout"] = _guard_layout(module, access, layout)


def _mark_page_status(gate: Gate, path: str, args: Mapping[str, Any]) -> None:
    """The HTTP status of a page address: 403 outside the scope or role, 404 for an unknown page or
    a malformed or unknown area code. The body is still the app, which shows the refusal or not-found page."""
    from sqlalchemy.exc import SQLAlchemyError

    path = gate.page_path(path)
    found = match_page(path)
    if found is None:
        if path != "/404" and not path.startswith("/_") and "." not in path.rsplit("/", 1)[-1]:
            flask.g.cw_status = 404
        return
    page, variables = found
    access = PageAccess.of(page)
    if access is None:
        flask.g.cw_status = 403
        return
    values = {**{k: args.get(k) for k in args}, **variables}
    try:
        access.check(current_principal(), values, lineage=gate.lineage)
    except AccessDenied:
        flask.g.cw_status = 403
        return
    except SQLAlchemyError:
        return  # the page itself says the database is unavailable
    named = values.get(access.area_arg) if access.area_arg and access.shows_area else None
    if named is None or named == "":
        return
    if not valid_code(named):
        flask.g.cw_status = 404
        return
    try:
        if not gate.lineage(named):
            flask.g.cw_status = 404
    except SQLAlchemyError:
        return


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, marked Secure whenever the request came over HTTPS (or
    CITYWALL_COOKIE_SECURE says TLS ends at a proxy in front)."""

    def get_cookie_secure(self, app: flask.Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (flask.has_request_context()
                                                                 and flask.request.is_secure)


SIGN_OUT_PATH = "_citywall/sign-out"
SESSION_PATH = "_citywall/session"  # the wall asks it when refreshes fail: {"state": "ok" | "revoked" | "signed-out"}
KIOSK_PATH = "_citywall/kiosk"  # a wall signs in at /_citywall/kiosk#token=cw_…&next=/wall/310115?kiosk=1
_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"']+")

KIOSK_PAGE = """<!doctype html><meta charset=utf-8><title>CityWall</title>
<body data-prefix="{prefix}"><h1 id=cw-kiosk-msg>CityWall · 正在登录 signing in…</h1>
<script src="{prefix}_citywall/kiosk.js"></script>"""

# Reads the token from the address's fragment (never sent in a request line, so never in a log),
# takes it out of the address bar and history first, then trades it for the session cookie by POST.
KIOSK_SCRIPT = """(function () {
  var prefix = document.body.getAttribute('data-prefix') || '/';
  var params = new URLSearchParams(location.hash.slice(1));
  var token = params.get('token') || '', next = params.get('next') || '/';
  history.replaceState(null, '', location.pathname);
  if (next.charAt(0) !== '/' || next.charAt(1) === '/' || next.charAt(1) === '\\\\') { next = '/'; }
  fetch(location.pathname, {method: 'POST', credentials: 'same-origin',
                            headers: {'Content-Type': 'application/json'}, body: JSON.stringify({token: token})})
    .then(function (reply) {
      if (reply.ok) { location.replace(prefix.replace(/\\/$/, '') + next); return; }
      document.getElementById('cw-kiosk-msg').textContent = 'CityWall · 令牌无效或已撤销 invalid or revoked token';
    });
})();
"""


class _RedactTokens(logging.Filter):
    """Access logs (werkzeug's, gunicorn's) never keep a kiosk token sent in an address."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "token=" in str(record.msg) or any("token=" in str(a) for a in (record.args or ())
                                              if isinstance(record.args, tuple)):
            record.msg = _TOKEN_IN_TEXT.sub(r"\1…", str(record.msg))
            if isinstance(record.args, tuple):
                record.args = tuple(_TOKEN_IN_TEXT.sub(r"\1…", a) if isinstance(a, str) else a
                                    for a in record.args)
        return True


def redact_tokens_in_logs() -> None:
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactTokens) for f in logger.filters):
            logger.addFilter(_RedactTokens())


def _kiosk_page(gate: Gate) -> flask.Response:
    if flask.request.method == "GET":
        return flask.Response(KIOSK_PAGE.format(prefix=gate.prefix), mimetype="text/html")
    origin = flask.request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != flask.request.host:
        return _json_error(403, "sign in from this server's own page")
    body = flask.request.get_json(silent=True)
    token = body.get("token") if isinstance(body, dict) else None
    record = gate.auth.store.load().find_token(token) if gate.auth.store and isinstance(token, str) else None
    if record is None:
        return _json_error(401, "invalid or revoked token")
    gate.auth.start_session(record)
    return flask.Response(json.dumps({"ok": True}), mimetype="application/json")


# --- installation ---

def _session_state(gate: Gate) -> flask.Response:
    """Whether this browser may still read, without a password prompt (a kiosk never answers one)."""
    result = gate.auth.authenticate()
    if isinstance(result, Principal):
        state = "ok"
    else:
        state = "revoked" if flask.session.get("cw_revoked") else "signed-out"
    response = flask.Response(json.dumps({"state": state}), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _sign_out() -> flask.Response:
    """Ends this browser's session (a kiosk token's or a person's); a password sign-in is the
    browser's to forget, which the page says."""
    flask.session.clear()
    body = ("<!doctype html><meta charset=utf-8><title>CityWall</title><h1>Signed out · 已退出</h1>"
            "<p>This browser's CityWall session has ended. A password sign-in is kept by the browser until it "
            "closes. 本浏览器的会话已结束。</p>")
    response = flask.Response(body, status=200, mimetype="text/html")
    response.headers["Clear-Site-Data"] = '"cookies"'
    return response


# --- installation ------------------------------------------------------------------------------------

def _json_error(status: int, message: str) -> flask.Response:
    return flask.Response(json.dumps({"error": message}), status=status, mimetype="application/json")


def install_security(dash_app: dash.Dash, settings: Settings, *, lineage: Lineage) -> Gate:
    """Authentication, scope and payload checks, error handlers and security headers for one app.
    ``lineage`` reads an area's chain of codes (nearest first). Raises SettingsError for an unsafe
    configuration (see ``check_configuration``)."""
    check_configuration(settings)
    server: flask.Flask = dash_app.server
    gate = Gate(dash_app, settings, lineage)
    server.extensions[EXTENSION_KEY] = gate
    server.config["MAX_CONTENT_LENGTH"] = MAX_CALLBACK_BYTES
    if settings.auth != "off":
        server.secret_key = settings.secret_key
        server.config.update(SESSION_COOKIE_NAME="citywall_session", SESSION_COOKIE_HTTPONLY=True,
                             SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=settings.cookie_secure,
                             PERMANENT_SESSION_LIFETIME=90 * 24 * 3600)  # walls; people: PERSON_IDLE_S
        server.session_interface = _Sessions()
    sign_out_path = gate.prefix + SIGN_OUT_PATH
    server.add_url_rule(sign_out_path, "citywall_sign_out", _sign_out, methods=["GET", "POST"])
    session_path = gate.prefix + SESSION_PATH
    server.add_url_rule(session_path, "citywall_session", lambda: _session_state(gate))
    kiosk_path = gate.prefix + KIOSK_PATH
    if settings.auth != "off":
        server.add_url_rule(kiosk_path, "citywall_kiosk", lambda: _kiosk_page(gate), methods=["GET", "POST"])
        server.add_url_rule(kiosk_path + ".js", "citywall_kiosk_js",
                            lambda: flask.Response(KIOSK_SCRIPT, mimetype="text/javascript"))
    redact_tokens_in_logs()
    guard_page_layouts()

    @server.before_request
    def _citywall_gate() -> flask.Response | None:
        guard_page_layouts()
        if flask.request.path in (sign_out_path, session_path, kiosk_path, kiosk_path + ".js"):
            return None  # anyone may end their own session, or trade a token for one
        result = gate.auth.authenticate()
        if isinstance(result, flask.Response):
            if flask.request.path == gate.callback_path:  # the renderer reads a JSON error, never a prompt
                return _json_error(result.status_code, "signed out" if result.status_code == 401 else "forbidden")
            if flask.request.method != "GET" or flask.request.path.startswith(gate.prefix + "_"):
                result.headers.pop("WWW-Authenticate", None)  # a refresh never opens a password prompt
            return result
        flask.g.cw_principal = result
        request = flask.request
        if request.path == gate.callback_path:
            if request.method != "POST":
                return None
            body = request.get_json(silent=True)
            problem = callback_shape_error(body, getattr(dash_app, "callback_map", {}))
            if problem:
                return _json_error(400, f"bad callback request: {problem}")
            if result.scope is not None:
                for code in named_areas(body):  # AccessDenied -> 403 (error handler)
                    policy.require_scope(result, code, lineage=gate.lineage)
            return None
        if request.method == "GET" and not gate.page_path(request.path).startswith(("/_dash-", "/assets/",
                                                                                       "/_reload")):
            _mark_page_status(gate, request.path, request.args)
        return None

    @server.after_request
    def _citywall_headers(response: flask.Response) -> flask.Response:
        request = flask.request
        if request.path == gate.callback_path and request.method == "POST" and response.status_code < 300 \
                and not flask.g.get("cw_rule_checked"):
            # a server callback that declared no rule (registered with dash.callback, not security.callback)
            log.error("refused a callback that declares no access rule: %s",
                      str((request.get_json(silent=True) or {}).get("output"))[:200])
            response = _json_error(403, "forbidden")
        status = flask.g.get("cw_status")
        if status and response.status_code == 200:
            response.status_code = status
        headers = response.headers
        if response.mimetype == "text/html":
            headers["Content-Security-Policy"] = gate.csp()
        else:
            headers.setdefault("Content-Security-Policy", f"frame-ancestors {settings.frame_ancestors}")
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if settings.frame_ancestors in ("'self'", "'none'"):
            headers["X-Frame-Options"] = "SAMEORIGIN" if settings.frame_ancestors == "'self'" else "DENY"
        if settings.auth != "off" and request.path == gate.callback_path:
            headers["Cache-Control"] = "no-store"
        return response

    def _denied(exc: PermissionError) -> flask.Response:
        log.warning("refused %s %s: %s", current_principal().name, flask.request.path, exc)
        if flask.request.path == gate.callback_path:
            return _json_error(403, "forbidden")
        return refusal_response(403, "not allowed", basic=False)

    def _failed(exc: Exception) -> Any:
        from sqlalchemy.exc import SQLAlchemyError
        from werkzeug.exceptions import HTTPException

        from data_access.errors import first_line

        if isinstance(exc, HTTPException):
            return exc
        if isinstance(exc, PermissionError):
            return _denied(exc)
        if isinstance(exc, SQLAlchemyError):
            log.warning("database error on %s: %s", flask.request.path, first_line(exc))
            return _json_error(503, "database unavailable")
        if flask.request.path.startswith(gate.prefix + "_dash-component-suites/"):  # no such bundle: not a failure
            return flask.Response("Not Found", status=404, mimetype="text/plain")
        if flask.request.path == gate.callback_path:
            # A callback that cannot use the values it was sent: the request's fault, said in one
            # line; the traceback goes to the server log only.
            log.exception("callback failed on its inputs")
            return _json_error(400, "the callback could not use these values")
        log.exception("unhandled error on %s", flask.request.path)
        return flask.Response("Internal Server Error", status=500, mimetype="text/plain")

    server.register_error_handler(PermissionError, _denied)
    server.register_error_handler(Exception, _failed)
    return gate
