"""The runtime on the Flask server: attached by app.py, found by layouts and callbacks."""
from __future__ import annotations

import flask

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
