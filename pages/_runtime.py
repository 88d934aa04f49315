"""The runtime on the Flask server: attached by app.py, found by layouts and callbacks."""
from __future__ import annotations

import flask

import data_access.runtime as runtime_module
from data_access.areas import OutsideScope
from data_access.runtime import CityWallRuntime, build_runtime
from data_access.settings import Settings

EXTENSION_KEY = "citywall"


def attach_runtime(server: flask.Flask, settings: Settings) -> CityWallRuntime:
    runtime = build_runtime(settings)
    server.extensions[EXTENSION_KEY] = runtime
    return runtime


def current_runtime() -> CityWallRuntime:
    """The runtime of the app serving the current request (layouts and callbacks)."""
    return flask.current_app.extensions[EXTENSION_KEY]


def refuse_outside_scope(server: flask.Flask) -> None:
    """A reader's OutsideScope answers as the security layer's AccessDenied does (403, no data).
    Transitional: the security package should handle PermissionError itself (its error handler
    and its layout guard), then this goes."""
    from data_access.security import AccessDenied

    denied = server.error_handler_spec[None][None][AccessDenied]
    server.register_error_handler(OutsideScope, lambda exc: denied(AccessDenied(str(exc))))


if not runtime_module._provider:  # transitional: data_access/security.py asks data_access.runtime
    runtime_module._provider.append(current_runtime)
