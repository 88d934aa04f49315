"""Who a request is: kiosk-token sessions, HTTP Basic against the users file, or the user named by
a trusted reverse proxy. Returns a Principal, or the response that refuses the request."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from urllib.parse import urlencode

import flask
from werkzeug.security import check_password_hash

from data_access.settings import Settings
from security.policy import ANONYMOUS, Principal
from security.store import UserRecord, UserStore

PROXY_SECRET_HEADER = "X-CityWall-Proxy-Secret"  # header mode: the proxy adds it, clients cannot know it
VERIFIED_TTL_S = 300.0  # a checked password is not re-hashed (scrypt) for this long


def refusal_response(status: int, reason: str, *, basic: bool) -> flask.Response:
    """A plain page for a request refused before the app runs (no data, no traceback)."""
    title = "401 Sign in required" if status == 401 else "403 Not allowed"
    body = (f"<!doctype html><meta charset=utf-8><title>CityWall</title><h1>{title}</h1>"
            f"<p>{reason}. 请登录或联系管理员。</p>")
    response = flask.Response(body, status=status, mimetype="text/html")
    if basic:
        response.headers["WWW-Authenticate"] = 'Basic realm="CityWall", charset="UTF-8"'
    return response


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = UserStore(settings.users_file) if settings.auth != "off" else None
        self._verified: dict[str, float] = {}  # sha256(user, password, hash) -> expiry

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
        self._verified[key] = now + VERIFIED_TTL_S
        return True

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
            session.clear()
            session["cw_token"] = record.session_id  # the token's own id: a name can be given again
            session.permanent = True
            if request.method == "GET":  # keep the token out of the address bar, history and logs
                args = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
                return flask.redirect(request.path + (("?" + urlencode(args)) if args else ""), code=302)
        session_id = session.get("cw_token")
        if session_id:
            record = store.session_token(session_id)
            if record is not None:
                return Principal(name=f"token:{record.name}", role=record.role, scope=record.scope, via="token")
            session.clear()  # a wall whose token was revoked: a clear page, not a browser password prompt
            return refusal_response(401, "this screen's kiosk token was revoked", basic=False)
        if self.settings.auth == "basic":
            auth = request.authorization
            if auth is not None and auth.type == "basic":
                user = store.users.get(auth.username or "")
                if user is not None and self._password_ok(user, auth.password or ""):
                    return Principal(name=user.name, role=user.role, scope=user.scope, via="basic")
            return refusal_response(401, "sign in required", basic=True)
        if not self._through_the_proxy(request):
            return refusal_response(403, "this server takes requests from its proxy only", basic=False)
        name = request.headers.get(self.settings.auth_header, "").strip()
        if not name:
            return refusal_response(401, f"no {self.settings.auth_header} header from the proxy", basic=False)
        user = store.users.get(name)
        if user is None:
            return refusal_response(403, "unknown user", basic=False)
        return Principal(name=user.name, role=user.role, scope=user.scope, via="header")
