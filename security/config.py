"""The start-up safety check: an unsafe configuration is refused with one clear line."""
from __future__ import annotations

from data_access.settings import AUTH_MODES, Settings, SettingsError
from security.store import UserStore

KNOWN_DEFAULT_SECRETS = {"", "change-me", "changeme", "secret", "dev", "development", "citywall", "default"}
MIN_SECRET_LENGTH = 16
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
        if settings.auth == "header" and not (settings.proxy_secret or settings.trusted_proxies):
            raise SettingsError("CITYWALL_AUTH=header needs proof that a request came through the proxy: "
                                "CITYWALL_PROXY_SECRET (a header the proxy adds) and/or CITYWALL_TRUSTED_PROXIES "
                                "(the proxy's addresses); otherwise any client can name any user")
        if settings.auth == "header" and settings.proxy_secret and len(settings.proxy_secret) < MIN_SECRET_LENGTH:
            raise SettingsError(f"CITYWALL_PROXY_SECRET: at least {MIN_SECRET_LENGTH} characters")
        UserStore(settings.users_file).load()
    if settings.debug and (settings.auth != "off" or settings.host not in _LOOPBACK):
        raise SettingsError("CITYWALL_DEBUG=1 is for local development only (auth off, host 127.0.0.1); "
                            "it shows tracebacks to anyone who can reach the server")
