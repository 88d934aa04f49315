"""What a running app holds: its settings, its engine and its tick cache, kept on the Flask
server (``server.extensions``), so nothing lives in module-level mutable state."""
from __future__ import annotations

from dataclasses import dataclass

import flask
from sqlalchemy.engine import Engine

from data_access.cache import TickCache
from data_access.db import engine_from_settings
from data_access.settings import Settings

EXTENSION_KEY = "citywall"


@dataclass(frozen=True)
class CityWallRuntime:
    settings: Settings
    engine: Engine
    cache: TickCache


def attach_runtime(server: flask.Flask, settings: Settings) -> CityWallRuntime:
    runtime = CityWallRuntime(settings=settings, engine=engine_from_settings(settings),
                              cache=TickCache(server, settings))
    server.extensions[EXTENSION_KEY] = runtime
    return runtime


def current_runtime() -> CityWallRuntime:
    """The runtime of the app serving the current request (layouts and callbacks)."""
    return flask.current_app.extensions[EXTENSION_KEY]
