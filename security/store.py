"""The users file (JSON): users of ``CITYWALL_AUTH=basic|header`` and kiosk tokens, with only
password and token hashes stored. Re-read whenever it changes on disk, so a revoked token takes
effect on the next request."""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.security import generate_password_hash

from data_access.areas import valid_code
from data_access.settings import SettingsError
from security.policy import ROLES

TOKEN_PREFIX = "cw_"
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


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
    session_id: str  # what a wall's session cookie names: new for every token, never its name


def _scope_value(raw: object, where: str) -> str | None:
    if raw in (None, "", "*", "city"):
        return None
    if not valid_code(raw):
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
                                           revoked=entry.get("revoked"),
                                           # files written before ids existed: the hash is unique per token
                                           session_id=str(entry.get("id") or entry["hash"][7:39]))
            self.users, self.tokens, self._stamp = users, tokens, stamp
        return self

    def session_token(self, session_id: object) -> TokenRecord | None:
        """The live token a session cookie names (None: unknown, revoked, or replaced under the same name)."""
        if not isinstance(session_id, str) or not session_id:
            return None
        for record in self.tokens.values():
            if hmac.compare_digest(record.session_id, session_id):
                return None if record.revoked else record
        return None

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


def create_token(path: Path, *, name: str, scope: str | None, role: str = "wall", replace: bool = False) -> str:
    """A new kiosk token bound to ``scope``; only its hash is stored. Returns the token (shown once).

    A name once used is not taken again silently: ``replace`` must say so, and even then the new
    token has a new session id, so no cookie of the old one opens anything."""
    if not _NAME.match(name):
        raise SettingsError(f"token name {name!r}: letters, digits and _ . @ - only")
    role, scope = _role_value(role, "role"), _scope_value(scope, "scope")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with _editing(path) as data:
        old = data["tokens"].get(name)
        if old is not None and not old.get("revoked"):
            raise SettingsError(f"token {name!r} exists: revoke it first or pick another name")
        if old is not None and not replace:
            raise SettingsError(f"token {name!r} was revoked on {old.get('revoked')}: pick another name, "
                                "or pass --replace to issue a new token under it (the old one's walls stay locked out)")
        data["tokens"][name] = {"hash": token_hash(token), "id": secrets.token_hex(16), "role": role, "scope": scope,
                                "created": _now_text(), "revoked": None}
    return token


def revoke_token(path: Path, *, name: str) -> bool:
    """Revoke a token by name (it stays listed, marked revoked). False when there is no such token."""
    with _editing(path) as data:
        entry = data["tokens"].get(name)
        if entry is None:
            return False
        entry["revoked"] = entry.get("revoked") or _now_text()
    return True
