"""The start-up safety check: an unsafe configuration is refused with one clear line."""
from __future__ import annotations

import sqlalchemy as sa

from data_access.settings import AUTH_MODES, Settings, SettingsError
from security.store import UserStore

KNOWN_DEFAULT_SECRETS = {"", "change-me", "changeme", "secret", "dev", "development", "citywall", "default"}
MIN_SECRET_LENGTH = 32  # characters: 32 random bytes in hex are 64
MIN_SECRET_VARIETY = 10  # distinct characters: refuses "aaaa…", "0000…", "change-me-change-me"
MAKE_ONE = "python -c 'import secrets; print(secrets.token_hex(32))'"


def guessable(secret: str) -> bool:
    """A secret too short, too uniform, repeating a short unit, or a known default."""
    if secret.lower() in KNOWN_DEFAULT_SECRETS or len(secret) < MIN_SECRET_LENGTH:
        return True
    if len(set(secret)) < MIN_SECRET_VARIETY:
        return True
    return any(secret == secret[:k] * (len(secret) // k) + secret[:len(secret) % k]
               for k in range(1, len(secret) // 2 + 1))
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_configuration(settings: Settings) -> None:
    """Refuse an unsafe configuration with one clear line (SettingsError): authentication without a
    real secret key or without a readable users file, debug mode outside local development, or an
    actions database URL that is no URL."""
    if settings.auth not in AUTH_MODES:
        raise SettingsError(f"CITYWALL_AUTH={settings.auth!r}: expected one of {', '.join(AUTH_MODES)}")
    if settings.actions_database_url:
        try:
            sa.make_url(settings.actions_database_url)
        except sa.exc.ArgumentError:
            raise SettingsError("CITYWALL_ACTIONS_DATABASE_URL: not a database URL (e.g. "
                                "postgresql+psycopg://citywall_actions@db/city)") from None
    if settings.auth != "off":
        if guessable(settings.secret_key or ""):
            raise SettingsError(
                f"CITYWALL_AUTH={settings.auth} needs CITYWALL_SECRET_KEY set to a long random value "
                f"(at least {MIN_SECRET_LENGTH} characters of {MIN_SECRET_VARIETY}+ different ones, not a default "
                f"or a repetition), e.g. {MAKE_ONE}")
        if settings.auth == "header" and not (settings.proxy_secret or settings.trusted_proxies):
            raise SettingsError("CITYWALL_AUTH=header needs proof that a request came through the proxy: "
                                "CITYWALL_PROXY_SECRET (a header the proxy adds) and/or CITYWALL_TRUSTED_PROXIES "
                                "(the proxy's addresses); otherwise any client can name any user")
        if settings.auth == "header" and settings.proxy_secret and guessable(settings.proxy_secret):
            raise SettingsError(f"CITYWALL_PROXY_SECRET: a long random value, e.g. {MAKE_ONE}")
        UserStore(settings.users_file).load()
    if settings.debug and (settings.auth != "off" or settings.host not in _LOOPBACK):
        raise SettingsError("CITYWALL_DEBUG=1 is for local development only (auth off, host 127.0.0.1); "
                            "it shows tracebacks to anyone who can reach the server")
