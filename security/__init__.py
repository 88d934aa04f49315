"""Who may see what. ``security.policy`` holds the rules as pure functions; ``security.web`` puts
them on a Flask/Dash server; ``security.store`` keeps users and kiosk tokens; ``security.cli`` is
their part of the ``citywall`` command. docs/security.md has the whole design.

    CITYWALL_AUTH=off      the local demo: everyone is a city-wide admin (the default)
    CITYWALL_AUTH=basic    HTTP Basic against the users file (hashed passwords)
    CITYWALL_AUTH=header   a trusted reverse proxy names the user in CITYWALL_AUTH_HEADER

Access is declared where the guarded thing is defined: a page passes ``**page_access(...)`` to
``dash.register_page`` (its least role and the URL argument naming its area), a server callback
is registered with ``security.callback(..., access=role)``. Nothing is inferred from ids or names.
"""
from data_access.settings import SettingsError
from security.config import check_configuration
from security.policy import (
    ANONYMOUS,
    CITY,
    ROLES,
    AccessDenied,
    PageAccess,
    Principal,
    page_access,
)
from security.store import TOKEN_PREFIX, UserStore, add_user, create_token, revoke_token, token_hash
from security.web import authenticate_again, callback, current_principal, install_security

__all__ = [
    "ANONYMOUS", "CITY", "ROLES", "TOKEN_PREFIX", "AccessDenied", "PageAccess", "Principal", "SettingsError",
    "UserStore", "add_user", "authenticate_again", "callback", "check_configuration", "create_token",
    "current_principal", "install_security", "page_access", "revoke_token", "token_hash",
]
