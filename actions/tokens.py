"""Form tokens for operator actions: an HMAC of the app's secret key over who may act (the
principal's name, role and scope), on what (the purpose: action kind, scenario, area, step, wall
scope, a step's activation) and the request id, with the time it was issued. The page that shows
an action's button issues one; the action checks it. A token of another user, another step or
area, an edited one, one older than ``TOKEN_TTL_S`` (10 minutes) or from the future is refused;
as it names its request id, which the audit table keeps UNIQUE, a token can be used once.

Pure: no database, no Flask. The key is ``signing_key(settings)``.
"""
from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from data_access.settings import Settings
from security.policy import Principal

TOKEN_TTL_S = 600  # a form older than 10 minutes is stale
CLOCK_SKEW_S = 30  # a token "issued" further in the future than this is forged (workers' clocks differ a little)
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_TOKEN = re.compile(r"^(\d{1,12})\.([A-Za-z0-9_-]{43})$")
_PROCESS_KEY = secrets.token_bytes(32)  # auth off without CITYWALL_SECRET_KEY: tokens of this process only

STALE = "action_token_stale"
FORGED = "action_token_forged"


@dataclass(frozen=True)
class Purpose:
    """What a token allows: one kind of action on one scenario in one area (a step, a wall's scope)."""
    kind: str  # ack_takeover | step | manual_start | manual_end
    scenario_id: str
    area_code: str
    step_id: str | None = None  # step marks: the step
    scope_code: str | None = None  # acknowledgements: the wall's area (None: the city wall)
    activation: str | None = None  # step marks: the activation the form was issued for (ScenarioActivation.key)

    def text(self) -> str:
        return "\x1f".join((self.kind, self.scenario_id, self.area_code, self.step_id or "", self.scope_code or "",
                            self.activation or ""))


def signing_key(settings: Settings) -> bytes:
    """The key tokens are signed with: derived from CITYWALL_SECRET_KEY (never the session cookie's key
    itself); without one (auth off, the local demo) a random key of this process, so tokens are not
    valid in another worker or after a restart (set CITYWALL_SECRET_KEY for several workers)."""
    if not settings.secret_key:
        return _PROCESS_KEY
    return hmac.new(settings.secret_key.encode("utf-8"), b"citywall operator actions v1", hashlib.sha256).digest()


def new_request_id() -> str:
    """A fresh request id (32 hex characters) for one rendering of an action's form."""
    return secrets.token_hex(16)


def _epoch(moment: datetime) -> int:
    """Seconds since 1970 of a naive-UTC datetime."""
    return calendar.timegm(moment.utctimetuple())


def _mac(key: bytes, principal: Principal, purpose: Purpose, request_id: str, issued: int) -> str:
    message = "\x1e".join(("citywall-action", principal.name, principal.role, principal.scope or "",
                           purpose.text(), request_id, str(issued)))
    digest = hmac.new(key, message.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def issue_token(*, key: bytes, principal: Principal, purpose: Purpose, request_id: str, now: datetime) -> str:
    """A token allowing ``principal`` the action ``purpose`` once, as request ``request_id``, for
    TOKEN_TTL_S seconds from ``now`` (naive UTC)."""
    if not REQUEST_ID.match(request_id):
        raise ValueError("request_id: 16 to 64 of A-Z a-z 0-9 _ -")
    issued = _epoch(now)
    return f"{issued}.{_mac(key, principal, purpose, request_id, issued)}"


def check_token(token: object, *, key: bytes, principal: Principal, purpose: Purpose, request_id: str,
                now: datetime) -> str | None:
    """None when ``token`` allows this action now; else the message key of the refusal: FORGED
    (malformed, another principal, purpose or request, another key, from the future) or STALE."""
    found = _TOKEN.match(token) if isinstance(token, str) else None
    if found is None or not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
        return FORGED
    issued = int(found.group(1))
    expected = _mac(key, principal, purpose, request_id, issued)
    if not hmac.compare_digest(expected, found.group(2)):
        return FORGED
    age = _epoch(now) - issued
    if age < -CLOCK_SKEW_S:
        return FORGED
    if age > TOKEN_TTL_S:
        return STALE
    return None


def action_form(*, key: bytes, principal: Principal, purpose: Purpose, now: datetime) -> dict[str, str]:
    """What a page puts beside an action's button: a new request id and its token
    (``{"request_id": …, "token": …}``), passed back unchanged to the action."""
    request_id = new_request_id()
    return {"request_id": request_id,
            "token": issue_token(key=key, principal=principal, purpose=purpose, request_id=request_id, now=now)}
