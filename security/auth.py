"""Who a request is: kiosk-token sessions, HTTP Basic against the users file, or the user named by
a trusted reverse proxy. Returns a Principal, or the response that refuses the request."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from urllib.parse import urlencode

import flask
from werkzeug.security import check_password_hash

from data_access.settings import Settings
from security.limits import SlidingWindow
from security.policy import ANONYMOUS, Principal
from security.store import TokenRecord, UserRecord, UserStore

log = logging.getLogger("security")
PROXY_SECRET_HEADER = "X-CityWall-Proxy-Secret"  # header mode: the proxy adds it, clients cannot know it
VERIFIED_TTL_S = 300.0  # a checked password is not re-hashed (scrypt) for this long
PERSON_IDLE_S = 12 * 3600.0  # a token session of a person (leader and up) ends after this long unused
SEEN_STEP_S = 60.0  # how often a person's session notes that it was used (not a new cookie per request)


def refusal_response(status: int, reason: str, *, basic: bool) -> flask.Response:
    """A plain page for a request refused before the app runs (no data, no traceback)."""
    title = {401: "401 Sign in required", 429: "429 Too many attempts"}.get(status, "403 Not allowed")
    body = (f"<!doctype html><meta charset=utf-8><title>CityWall</title><h1>{title}</h1>"
            f"<p>{reason}. 请登录或联系管理员。</p>")
    response = flask.Response(body, status=status, mimetype="text/html")
    if basic:
        response.headers["WWW-Authenticate"] = 'Basic realm="CityWall", charset="UTF-8"'
    return response


class SignInThrottle:
    """Failed sign-ins per user and per address in a sliding window: past the limit, further
    attempts are refused (429) before any password is hashed, so guessing is slow and costs the
    server nothing. Per process: with N workers an attacker gets N times the limit, still bounded."""

    WINDOW_S = 300.0
    PER_USER = 5
    PER_ADDRESS = 20

    def __init__(self) -> None:
        self._failures = SlidingWindow(self.WINDOW_S)

    def retry_after(self, user: str, address: str) -> int:
        """Seconds until this user or address may try again (0: now)."""
        return max(self._failures.wait(f"u:{user}", self.PER_USER),
                   self._failures.wait(f"a:{address}", self.PER_ADDRESS))

    def failed(self, user: str, address: str) -> None:
        self._failures.add(f"u:{user}")
        self._failures.add(f"a:{address}")


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = UserStore(settings.users_file) if settings.auth != "off" else None
        self._verified: dict[str, float] = {}  # sha256(user, password, hash) -> expiry
        self.throttle = SignInThrottle()

    def _basic(self, request: flask.Request, store: UserStore) -> Principal | flask.Response:
        auth = request.authorization
        if auth is None or auth.type != "basic":
            return refusal_response(401, "sign in required", basic=True)
        name, password, address = auth.username or "", auth.password or "", request.remote_addr or "?"
        user = store.users.get(name)
        if user is not None and self._recently_verified(user, password):
            return Principal(name=user.name, role=user.role, scope=user.scope, via="basic")
        wait = self.throttle.retry_after(name, address)
        if wait:
            log.warning("sign-in throttled for user %r from %s (retry in %d s)", name[:64], address, wait)
            response = refusal_response(429, f"too many failed sign-ins: try again in {wait} s", basic=False)
            response.headers["Retry-After"] = str(wait)
            return response
        if user is not None and self._password_ok(user, password):
            return Principal(name=user.name, role=user.role, scope=user.scope, via="basic")
        self.throttle.failed(name, address)
        log.warning("failed sign-in for user %r from %s", name[:64], address)
        return refusal_response(401, "sign in required", basic=True)

    @staticmethod
    def _verified_key(user: UserRecord, password: str) -> str:
        return hashlib.sha256(f"{user.name}\0{password}\0{user.password_hash}".encode()).hexdigest()

    def _recently_verified(self, user: UserRecord, password: str) -> bool:
        """Checked correct in the last minutes: no scrypt, and no throttle for a user already signed in."""
        return bool(user.password_hash) and self._verified.get(self._verified_key(user, password), 0) > time.monotonic()

    def _password_ok(self, user: UserRecord, password: str) -> bool:
        if not user.password_hash:
            return False
        key = self._verified_key(user, password)
        now = time.monotonic()
        if not check_password_hash(user.password_hash, password):
            return False
        if len(self._verified) > 1000:
            self._verified.clear()
        self._verified[key] = now + VERIFIED_TTL_S
        return True

    @staticmethod
    def start_session(record: TokenRecord) -> None:
        """This browser is now the token's screen: the cookie names the token's own id."""
        session = flask.session
        session.clear()
        session["cw_token"] = record.session_id  # the token's own id: a name can be given again
        session["cw_seen"] = int(time.time())
        session.permanent = True

    def _through_the_proxy(self, request: flask.Request) -> bool:
        """Header mode: the request shows it came through the trusted proxy (its secret header, its address)."""
        settings = self.settings
        if settings.proxy_secret:
            sent = request.headers.get(PROXY_SECRET_HEADER, "")
            if not hmac.compare_digest(sent.encode("utf-8", "replace"), settings.proxy_secret.encode("utf-8")):
                return False
        if settings.trusted_proxies:
            try:
                address = ipaddress.ip_address(request.remote_addr or "")
            except ValueError:
                return False
            if not any(address in ipaddress.ip_network(net) for net in settings.trusted_proxies):
                return False
        return True

    def authenticate(self) -> Principal | flask.Response:
        """The principal of this request, or the response that refuses it (401/403/redirect)."""
        if self.settings.auth == "off" or self.store is None:
            return ANONYMOUS
        request, session = flask.request, flask.session
        store = self.store.load()
        token = request.args.get("token")
        if token is not None:
            record = store.find_token(token)
            if record is None:
                return refusal_response(401, "invalid or revoked token", basic=False)
            self.start_session(record)
            # The older way in (/_citywall/kiosk#token=… keeps the token out of every request line):
            # the token leaves the address bar at once, and the access logs redact it.
            if request.method == "GET":
                args = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
                return flask.redirect(request.path + (("?" + urlencode(args)) if args else ""), code=302)
        session_id = session.get("cw_token")
        if session_id:
            record = store.session_token(session_id)
            if record is not None and record.role != "wall":
                # a person at a desk, not a wall: the session ends after a working day unused
                now, seen = time.time(), session.get("cw_seen")
                if isinstance(seen, int | float) and now - seen > PERSON_IDLE_S:
                    session.clear()
                    return refusal_response(401, "signed out after 12 hours without use: open your sign-in link again",
                                            basic=False)
                if not isinstance(seen, int | float) or now - seen > SEEN_STEP_S:
                    session["cw_seen"] = int(now)
            if record is not None:
                return Principal(name=f"token:{record.name}", role=record.role, scope=record.scope, via="token")
            # A wall whose token was revoked: every later request says so (never a password prompt).
            session.clear()
            session["cw_revoked"] = True
            return refusal_response(401, "this screen's kiosk token was revoked", basic=False)
        if session.get("cw_revoked"):
            return refusal_response(401, "this screen's kiosk token was revoked", basic=False)
        if self.settings.auth == "basic":
            return self._basic(request, store)
        if not self._through_the_proxy(request):
            return refusal_response(403, "this server takes requests from its proxy only", basic=False)
        name = request.headers.get(self.settings.auth_header, "").strip()
        if not name:
            return refusal_response(401, f"no {self.settings.auth_header} header from the proxy", basic=False)
        user = store.users.get(name)
        if user is None:
            return refusal_response(403, "unknown user", basic=False)
        return Principal(name=user.name, role=user.role, scope=user.scope, via="header")
