"""Who may see what: optional authentication, area scopes enforced where data is read, kiosk
tokens, callback-payload checks, security headers and the startup safety check.

    CITYWALL_AUTH=off      the local demo: everyone is a city-wide admin (the default)
    CITYWALL_AUTH=basic    HTTP Basic against the users file (hashed passwords)
    CITYWALL_AUTH=header   a trusted reverse proxy names the user in CITYWALL_AUTH_HEADER;
                           the name is mapped through the same users file

Walls sign in with a kiosk token (``/wall/310115?token=...``, any auth mode but off): the token
is checked against its stored hash, swapped for a signed session cookie and removed from the
address; revoking it (``citywall token revoke NAME``) locks the wall out on its next request.

Every principal has a role (wall < leader < supervisor < admin) and a scope (an area code, or
None for the whole city). ``require_scope`` is called by the data-read layer (snapshots, panel,
map and list reads) before any cached value is returned; the request hooks additionally refuse
forged ``/_dash-update-component`` payloads naming areas outside the scope (403) and malformed
payloads (400). docs/security.md has the whole design.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import flask
from werkzeug.security import check_password_hash, generate_password_hash

from data_access.settings import AUTH_MODES, Settings, SettingsError

log = logging.getLogger(__name__)

EXTENSION_KEY = "citywall_security"
ROLES = ("wall", "leader", "supervisor", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}
TOKEN_PREFIX = "cw_"
KNOWN_DEFAULT_SECRETS = {"", "change-me", "changeme", "secret", "dev", "development", "citywall", "default"}
MIN_SECRET_LENGTH = 16
MAX_CALLBACK_BYTES = 2 * 1024 * 1024
CHAIN_TTL_S = 300.0
_CODE = re.compile(r"^[0-9A-Za-z_.-]{1,32}$")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
CALLBACK_PATH = "/_dash-update-component"
ROUTING_OUTPUT = "_pages_content"
# Outputs a wall (kiosk) principal may ask for: the wall's own ids. Level pages, the map, the
# incident list ("cw-...") and the vitals explorer ("vx-...") need at least a leader.
_NON_WALL_OUTPUTS = ("cw-", "vx-")
_EXPORT_OUTPUT = "cw-list-download"  # the CSV export: supervisors and admins


class AccessDenied(PermissionError):
    """The principal may not read this area or page; ``str()`` says which, never any data."""


# --- principals, users and tokens --------------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    scope: str | None  # an area code, or None: the whole city
    via: str  # off | basic | header | token

    def at_least(self, role: str) -> bool:
        return RANK.get(self.role, -1) >= RANK[role]


ANONYMOUS = Principal(name="anonymous", role="admin", scope=None, via="off")


@dataclass(frozen=True)
class UserRecord:
    name: str
    role: str
    scope: str | None
    password_hash: str | None


@dataclass(frozen=True)
class TokenRecord:
    name: str
    role: str
    scope: str | None
    token_hash: str
    created: str
    revoked: str | None


def _scope_value(raw: object, where: str) -> str | None:
    if raw in (None, "", "*", "city"):
        return None
    if not isinstance(raw, str) or not _CODE.match(raw):
        raise SettingsError(f"{where}: scope {raw!r} is not an area code")
    return raw


def _role_value(raw: object, where: str) -> str:
    if raw not in ROLES:
        raise SettingsError(f"{where}: role {raw!r} is not one of {', '.join(ROLES)}")
    return str(raw)


def token_hash(token: str) -> str:
    """Tokens are 256-bit random strings: a plain SHA-256 is the right stored form (no salt needed)."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserStore:
    """The users file (JSON), re-read whenever it changes on disk, so a revoked token or a new user
    takes effect on the next request without a restart::

        {"users":  {"alice": {"password_hash": "scrypt:...", "role": "supervisor", "scope": "310115"}},
         "tokens": {"lobby": {"hash": "sha256:...", "role": "wall", "scope": "310115",
                              "created": "2026-11-23T10:00:00Z", "revoked": null}}}
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self.users: dict[str, UserRecord] = {}
        self.tokens: dict[str, TokenRecord] = {}

    def _read(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"CITYWALL_USERS_FILE={self.path}: no such file "
                                "(create it with `citywall user add` or `citywall token create`)") from None
        except (OSError, ValueError) as exc:
            raise SettingsError(f"CITYWALL_USERS_FILE={self.path}: cannot read it: {exc}") from None
        if not isinstance(raw, dict):
            raise SettingsError(f"CITYWALL_USERS_FILE={self.path}: expected a JSON object")
        return raw

    def load(self) -> UserStore:
        """(Re-)read the file when its size or mtime changed; raises SettingsError when it is unusable."""
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp is not None and stamp == self._stamp:
                return self
            raw = self._read()
            users, tokens = {}, {}
            for name, entry in (raw.get("users") or {}).items():
                where = f"{self.path}: user {name!r}"
                if not isinstance(entry, dict) or not _NAME.match(str(name)):
                    raise SettingsError(f"{where}: bad entry")
                users[name] = UserRecord(name=name, role=_role_value(entry.get("role"), where),
                                         scope=_scope_value(entry.get("scope"), where),
                                         password_hash=entry.get("password_hash") or None)
            for name, entry in (raw.get("tokens") or {}).items():
                where = f"{self.path}: token {name!r}"
                if not isinstance(entry, dict) or not str(entry.get("hash", "")).startswith("sha256:"):
                    raise SettingsError(f"{where}: bad entry")
                tokens[name] = TokenRecord(name=name, role=_role_value(entry.get("role", "wall"), where),
                                           scope=_scope_value(entry.get("scope"), where),
                                           token_hash=entry["hash"], created=str(entry.get("created", "")),
                                           revoked=entry.get("revoked"))
            self.users, self.tokens, self._stamp = users, tokens, stamp
        return self

    def find_token(self, token: str) -> TokenRecord | None:
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        wanted = token_hash(token)
        for record in self.tokens.values():
            if hmac.compare_digest(record.token_hash, wanted):
                return None if record.revoked else record
        return None


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def _editing(path: Path) -> Iterator[dict[str, Any]]:
    """Read-modify-write the users file atomically (temp file + rename, mode 0600)."""
    path = Path(path)
    data: dict[str, Any] = {"users": {}, "tokens": {}}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        data.setdefault("users", {})
        data.setdefault("tokens", {})
    yield data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".users-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, ensure_ascii=False, indent=2, sort_keys=True)
        out.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def add_user(path: Path, *, name: str, password: str | None, role: str, scope: str | None) -> None:
    """Add or replace a user; ``password`` None keeps no password (header mode only)."""
    if not _NAME.match(name):
        raise SettingsError(f"user name {name!r}: letters, digits and _ . @ - only")
    role, scope = _role_value(role, "role"), _scope_value(scope, "scope")
    with _editing(path) as data:
        data["users"][name] = {"role": role, "scope": scope,
                               "password_hash": generate_password_hash(password) if password else None}


def create_token(path: Path, *, name: str, scope: str | None, role: str = "wall") -> str:
    """A new kiosk token bound to ``scope``; only its hash is stored. Returns the token (shown once)."""
    if not _NAME.match(name):
        raise SettingsError(f"token name {name!r}: letters, digits and _ . @ - only")
    role, scope = _role_value(role, "role"), _scope_value(scope, "scope")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with _editing(path) as data:
        if name in data["tokens"] and not data["tokens"][name].get("revoked"):
            raise SettingsError(f"token {name!r} exists: revoke it first or pick another name")
        data["tokens"][name] = {"hash": token_hash(token), "role": role, "scope": scope, "created": _now_text(),
                                "revoked": None}
    return token


def revoke_token(path: Path, *, name: str) -> bool:
    """Revoke a token by name (it stays listed, marked revoked). False when there is no such token."""
    with _editing(path) as data:
        entry = data["tokens"].get(name)
        if entry is None:
            return False
        entry["revoked"] = entry.get("revoked") or _now_text()
    return True


# --- configuration ---------------------------------------------------------------------------------

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_configuration(settings: Settings) -> None:
    """Refuse an unsafe configuration with one clear line (SettingsError): authentication without a
    real secret key or without a readable users file, or debug mode outside local development."""
    if settings.auth not in AUTH_MODES:
        raise SettingsError(f"CITYWALL_AUTH={settings.auth!r}: expected one of {', '.join(AUTH_MODES)}")
    if settings.auth != "off":
        key = settings.secret_key or ""
        if key.lower() in KNOWN_DEFAULT_SECRETS or len(key) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"CITYWALL_AUTH={settings.auth} needs CITYWALL_SECRET_KEY set to a long random value "
                f"(at least {MIN_SECRET_LENGTH} characters, not a default), e.g. "
                "python -c 'import secrets; print(secrets.token_hex(32))'")
        UserStore(settings.users_file).load()
    if settings.debug and (settings.auth != "off" or settings.host not in _LOOPBACK):
        raise SettingsError("CITYWALL_DEBUG=1 is for local development only (auth off, host 127.0.0.1); "
                            "it shows tracebacks to anyone who can reach the server")


# --- scope checks (the data-read layer calls require_scope) -----------------------------------------

CITY = None  # "the whole city" as an area argument


def _security() -> Security | None:
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
    return ANONYMOUS if _security() is None else Principal("nobody", "wall", "-", "none")  # fail closed


def require_scope(area_code: str | None, *, ancestors: bool = False) -> None:
    """Raise AccessDenied unless the current principal may read ``area_code`` (None: the whole
    city). ``ancestors``: the area may also be one of the scope's ancestors (city-wide vital signs
    shown on a district's wall). A no-op outside a request and for city-wide principals."""
    principal = current_principal()
    if principal.scope is None:
        return
    security = _security()
    if security is None or not security.in_scope(principal.scope, area_code, ancestors=ancestors):
        raise AccessDenied(f"area {str(area_code)[:40]!r} is outside the scope {principal.scope}")


def require_role(role: str) -> None:
    principal = current_principal()
    if not principal.at_least(role):
        raise AccessDenied(f"role {principal.role} may not do this (needs {role})")


@dataclass(frozen=True)
class PageRule:
    role: str
    area: str | None  # CITY (None) or an area code
    check_area: bool
    ancestors: bool = False


_PAGE = re.compile(r"^/(wall|district|street)/([^/]*)$")


def page_rule(kind: str, code: object, args: Mapping[str, Any]) -> PageRule | None:
    """What a page needs: ``kind`` is the page (wall, wall_scope, city, district, street, incidents,
    vitals), ``code`` its path variable, ``args`` its query string."""
    if kind == "wall":
        scope = args.get("scope")
        return PageRule("wall", scope if isinstance(scope, str) else str(scope), check_area=bool(scope))
    if kind == "wall_scope":
        return PageRule("wall", str(code or ""), check_area=True)
    if kind in ("district", "street"):
        return PageRule("leader", str(code or ""), check_area=True)
    if kind in ("city", "incidents"):
        return PageRule("leader", CITY, check_area=True)
    if kind == "vitals":
        area = args.get("area")
        return PageRule("leader", area if isinstance(area, str) and area else CITY, check_area=True,
                        ancestors=True)
    return None


def path_rule(path: str, args: Mapping[str, Any]) -> tuple[PageRule | None, str | None]:
    """The rule of a page URL and the area code named in its path (for the 404 check)."""
    if path == "/":
        return page_rule("wall", None, args), None
    if path in ("/city", "/incidents", "/vitals"):
        return page_rule(path[1:], None, args), None
    match = _PAGE.match(path)
    if match:
        kind = "wall_scope" if match.group(1) == "wall" else match.group(1)
        return page_rule(kind, match.group(2), args), match.group(2)
    return None, None


def check_rule(rule: PageRule | None) -> None:
    if rule is None:
        return
    require_role(rule.role)
    if rule.check_area:
        require_scope(rule.area, ancestors=rule.ancestors)


# --- the installed hooks ----------------------------------------------------------------------------

class Security:
    """Everything ``install_security`` attaches to one Flask server."""

    def __init__(self, dash_app: Any, settings: Settings) -> None:
        self.dash_app = dash_app
        self.settings = settings
        self.store = UserStore(settings.users_file) if settings.auth != "off" else None
        self._chains: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._chains_lock = threading.Lock()
        self._verified: dict[str, float] = {}  # sha256(user, password, hash) -> expiry: scrypt once per 5 min
        self._csp: tuple[int, str] | None = None

    # scope ----------------------------------------------------------------------------------
    def chain(self, area_code: str) -> tuple[str, ...]:
        """The area and its ancestors (codes, nearest first); () for unknown or malformed codes."""
        if not isinstance(area_code, str) or not _CODE.match(area_code):
            return ()
        now = time.monotonic()
        with self._chains_lock:
            hit = self._chains.get(area_code)
        if hit and hit[0] > now:
            return hit[1]
        from data_access import queries
        from data_access.runtime import current_runtime

        codes = tuple(a.area_code for a in queries.area_chain(engine=current_runtime().engine, area_code=area_code))
        with self._chains_lock:
            if len(self._chains) > 10_000:
                self._chains.clear()
            self._chains[area_code] = (now + CHAIN_TTL_S, codes)
        return codes

    def in_scope(self, scope: str, area_code: str | None, *, ancestors: bool) -> bool:
        if area_code is CITY or area_code == "":
            return ancestors and area_code is CITY  # the city is every scope's ancestor
        if scope in self.chain(area_code):
            return True
        return ancestors and area_code in self.chain(scope)

    # authentication -------------------------------------------------------------------------
    def _password_ok(self, user: UserRecord, password: str) -> bool:
        if not user.password_hash:
            return False
        key = hashlib.sha256(f"{user.name}\0{password}\0{user.password_hash}".encode()).hexdigest()
        now = time.monotonic()
        if self._verified.get(key, 0) > now:
            return True
        if not check_password_hash(user.password_hash, password):
            return False
        if len(self._verified) > 1000:
            self._verified.clear()
        self._verified[key] = now + 300
        return True

    def authenticate(self) -> Principal | flask.Response:
        """The principal of this request, or the response that refuses it (401/403/redirect)."""
        if self.settings.auth == "off":
            return ANONYMOUS
        request, session = flask.request, flask.session
        store = self.store.load()
        token = request.args.get("token")
        if token is not None:
            record = store.find_token(token)
            if record is None:
                return _refuse(401, "invalid or revoked token", basic=False)
            session.clear()
            session["cw_token"] = record.name
            session.permanent = True
            if request.method == "GET":  # keep the token out of the address bar, history and logs
                args = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
                return flask.redirect(request.path + (("?" + urlencode(args)) if args else ""), code=302)
        name = session.get("cw_token")
        if name:
            record = store.tokens.get(name)
            if record is not None and not record.revoked:
                return Principal(name=f"token:{name}", role=record.role, scope=record.scope, via="token")
            session.clear()  # a wall whose token was revoked: a clear page, not a browser password prompt
            return _refuse(401, "this screen's kiosk token was revoked", basic=False)
        if self.settings.auth == "basic":
            auth = request.authorization
            if auth is not None and auth.type == "basic":
                user = store.users.get(auth.username or "")
                if user is not None and self._password_ok(user, auth.password or ""):
                    return Principal(name=user.name, role=user.role, scope=user.scope, via="basic")
            return _refuse(401, "sign in required", basic=True)
        name = request.headers.get(self.settings.auth_header, "").strip()
        if not name:
            return _refuse(401, f"no {self.settings.auth_header} header from the proxy", basic=False)
        user = store.users.get(name)
        if user is None:
            return _refuse(403, "unknown user", basic=False)
        return Principal(name=user.name, role=user.role, scope=user.scope, via="header")

    # content security policy ---------------------------------------------------------------
    def csp(self) -> str:
        scripts = getattr(self.dash_app, "_inline_scripts", [])
        if self._csp is None or self._csp[0] != len(scripts):
            hashes = " ".join(self.dash_app.csp_hashes())
            img = ["'self'", "data:", "blob:"]
            tile = urlsplit(self.settings.tile_url.replace("{s}.", "*.").replace("{", "").replace("}", ""))
            if tile.scheme in ("http", "https") and tile.netloc:
                img.append(f"{tile.scheme}://{tile.netloc}")
            policy = [
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
            self._csp = (len(scripts), "; ".join(policy))
        return self._csp[1]


def _refuse(status: int, reason: str, *, basic: bool) -> flask.Response:
    title = "401 Sign in required" if status == 401 else "403 Not allowed"
    body = (f"<!doctype html><meta charset=utf-8><title>CityWall</title><h1>{title}</h1>"
            f"<p>{reason}. 请登录或联系管理员。</p>")
    response = flask.Response(body, status=status, mimetype="text/html")
    if basic:
        response.headers["WWW-Authenticate"] = 'Basic realm="CityWall", charset="UTF-8"'
    return response


def _json_error(status: int, message: str) -> flask.Response:
    return flask.Response(json.dumps({"error": message}), status=status, mimetype="application/json")


def _callback_shape_error(body: object, callback_map: Mapping[str, Any]) -> str | None:
    """Why a /_dash-update-component body is not one the Dash renderer would send (None: it is)."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or not output or len(output) > 20_000:
        return "output must be a callback's output string"
    if callback_map and output not in callback_map:
        return "no such callback"
    if not isinstance(body.get("outputs"), dict | list):
        return "outputs must be an object or a list"

    def item_ok(item: object) -> bool:
        if isinstance(item, list):
            return all(isinstance(i, dict) and "id" in i and isinstance(i.get("property"), str) for i in item)
        return isinstance(item, dict) and isinstance(item.get("id"), str | dict) and \
            isinstance(item.get("property"), str)

    for key, required in (("inputs", True), ("state", False)):
        value = body.get(key)
        if value is None and not required:
            continue
        if not isinstance(value, list) or not all(item_ok(i) for i in value):
            return f"{key} must be a list of {{id, property, value}} items"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "changedPropIds must be a list of strings"
    spec = callback_map.get(output) if callback_map else None
    if spec is not None:
        if len(body["inputs"]) != len(spec.get("inputs", [])) or len(body.get("state") or []) != len(
                spec.get("state", [])):
            return "inputs or state do not match the callback"
    return None


def _named_areas(values: object, depth: int = 0) -> Iterator[object]:
    """Every ``area_code`` named anywhere in a callback's input and state values (stores hold them)."""
    if depth > 8:
        return
    if isinstance(values, dict):
        if "area_code" in values:
            yield values["area_code"]
        for value in values.values():
            yield from _named_areas(value, depth + 1)
    elif isinstance(values, list):
        for value in values[:10_000]:
            yield from _named_areas(value, depth + 1)


def _check_callback(body: dict[str, Any]) -> None:
    """Role and scope of a (well-formed) callback request; raises AccessDenied."""
    output = body["output"]
    if ROUTING_OUTPUT in output:
        return  # page layouts check themselves (guarded layouts): a refusal page, not an error
    principal = current_principal()
    if principal.role == "wall" and any(marker in output for marker in _NON_WALL_OUTPUTS):
        raise AccessDenied("a wall may only refresh walls")
    if _EXPORT_OUTPUT in output:
        require_role("supervisor")
    if principal.scope is None:
        return
    values = [i.get("value") if isinstance(i, dict) else [j.get("value") for j in i]
              for i in [*body.get("inputs", []), *(body.get("state") or [])]]
    for code in _named_areas(values):
        require_scope(code if isinstance(code, str) and code else CITY)


_LAYOUT_KINDS = {"wall": "wall", "wall_scope": "wall_scope", "city": "city", "district": "district",
                 "street": "street", "incidents": "incidents", "vitals": "vitals"}


def _guard_layout(kind: str, layout: Callable[..., Any]) -> Callable[..., Any]:
    """A page layout that checks the page rule first and turns AccessDenied (from the rule or from
    any data read inside the layout) into the refusal block."""
    def guarded(**kwargs: Any) -> Any:
        principal = current_principal()
        if kind == "wall" and not kwargs.get("scope") and principal.scope is not None:
            kwargs["scope"] = principal.scope  # a scoped user's "/" is their own wall
        try:
            check_rule(page_rule(kind, kwargs.get("code"), kwargs))
            return layout(**kwargs)
        except AccessDenied as exc:
            log.warning("refused %s (%s): %s", principal.name, kind, exc)
            return refusal_block(kwargs.get("lang"), kwargs.get("code") or kwargs.get("scope")
                                 or kwargs.get("area") or kind)

    guarded.cw_guarded = True  # type: ignore[attr-defined]
    guarded.__wrapped__ = layout  # type: ignore[attr-defined]
    return guarded


def refusal_block(lang: object, code: object) -> Any:
    from dash import dcc, html

    from components.i18n import pick_language, t

    security = _security()
    lang = pick_language(lang, security.settings.lang if security else "zh")
    principal = current_principal()
    home = "/" if principal.scope is None else f"/wall/{principal.scope}"
    return html.Div(className="not-found cw-refused", children=[
        html.H1(t("access_denied_title", lang)),
        html.P(t("access_denied_body", lang, code=str(code)[:40])),
        dcc.Link(t("access_denied_back", lang), href=home),
    ])


def guard_page_layouts() -> None:
    """Wrap every registered page's layout (idempotent; Dash re-imports pages for each app)."""
    from dash._pages import PAGE_REGISTRY

    for module, page in PAGE_REGISTRY.items():
        kind = _LAYOUT_KINDS.get(module.rsplit(".", 1)[-1])
        layout = page.get("layout")
        if kind and callable(layout) and not getattr(layout, "cw_guarded", False):
            page["layout"] = _guard_layout(kind, layout)


def install_security(dash_app: Any, settings: Settings) -> Security:
    """Authentication, scope and payload checks, error handlers and security headers for one app.
    Raises SettingsError for an unsafe configuration (see ``check_configuration``)."""
    check_configuration(settings)
    server: flask.Flask = dash_app.server
    security = Security(dash_app, settings)
    server.extensions[EXTENSION_KEY] = security
    server.config["MAX_CONTENT_LENGTH"] = MAX_CALLBACK_BYTES
    if settings.auth != "off":
        server.secret_key = settings.secret_key
        server.config.update(SESSION_COOKIE_NAME="citywall_session", SESSION_COOKIE_HTTPONLY=True,
                             SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=90 * 24 * 3600)
    guard_page_layouts()

    @server.before_request
    def _citywall_gate() -> flask.Response | None:
        guard_page_layouts()
        result = security.authenticate()
        if isinstance(result, flask.Response):
            return result
        flask.g.cw_principal = result
        request = flask.request
        if request.path == CALLBACK_PATH:
            if request.method != "POST":
                return None
            body = request.get_json(silent=True)
            problem = _callback_shape_error(body, getattr(dash_app, "callback_map", {}))
            if problem:
                return _json_error(400, f"bad callback request: {problem}")
            _check_callback(body)  # AccessDenied -> 403 (error handler)
            return None
        if request.method == "GET" and not request.path.startswith(("/_dash-", "/assets/", "/_reload")):
            _mark_page_status(security, request.path, request.args)
        return None

    @server.after_request
    def _citywall_headers(response: flask.Response) -> flask.Response:
        status = flask.g.get("cw_status")
        if status and response.status_code == 200:
            response.status_code = status
        headers = response.headers
        if response.mimetype == "text/html":
            headers["Content-Security-Policy"] = security.csp()
        else:
            headers.setdefault("Content-Security-Policy", f"frame-ancestors {settings.frame_ancestors}")
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if settings.frame_ancestors in ("'self'", "'none'"):
            headers["X-Frame-Options"] = "SAMEORIGIN" if settings.frame_ancestors == "'self'" else "DENY"
        if settings.auth != "off" and flask.request.path == CALLBACK_PATH:
            headers["Cache-Control"] = "no-store"
        return response

    def _denied(exc: AccessDenied) -> flask.Response:
        log.warning("refused %s %s: %s", current_principal().name, flask.request.path, exc)
        if flask.request.path == CALLBACK_PATH:
            return _json_error(403, "forbidden")
        return _refuse(403, "not allowed", basic=False)

    def _failed(exc: Exception) -> Any:
        from sqlalchemy.exc import SQLAlchemyError
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            return exc
        if isinstance(exc, SQLAlchemyError):
            log.warning("database error on %s: %s", flask.request.path, str(exc).splitlines()[0])
            return _json_error(503, "database unavailable")
        if flask.request.path.startswith("/_dash-component-suites/"):  # no such bundle or file: not a failure
            return flask.Response("Not Found", status=404, mimetype="text/plain")
        if flask.request.path == CALLBACK_PATH:
            # A callback that cannot use the values it was sent: the request's fault, said in one
            # line; the traceback goes to the server log only.
            log.exception("callback failed on its inputs")
            return _json_error(400, "the callback could not use these values")
        log.exception("unhandled error on %s", flask.request.path)
        return flask.Response("Internal Server Error", status=500, mimetype="text/plain")

    server.register_error_handler(AccessDenied, _denied)
    server.register_error_handler(Exception, _failed)
    return security


def _mark_page_status(security: Security, path: str, args: Mapping[str, Any]) -> None:
    """The HTTP status of a page address: 403 outside the scope or role, 404 for a malformed or
    unknown area code. The body is still the app, which shows the refusal or not-found page."""
    from sqlalchemy.exc import SQLAlchemyError

    from data_access import incident_queries as iq

    rule, code = path_rule(path, {k: args.get(k) for k in ("scope", "area")})
    try:
        check_rule(rule)
    except AccessDenied:
        flask.g.cw_status = 403
        return
    except SQLAlchemyError:
        return  # the page itself says the database is unavailable
    if rule is None and path != "/404" and not path.startswith("/_") and "." not in path.rsplit("/", 1)[-1]:
        flask.g.cw_status = 404
        return
    named = code if code is not None else (args.get("scope") if path == "/" else None)
    if named is None or named == "":
        return
    if not iq.valid_code(named):
        flask.g.cw_status = 404
        return
    try:
        if not security.chain(named):
            flask.g.cw_status = 404
    except SQLAlchemyError:
        return
