"""What a running app holds: its settings, its engine and its tick cache, kept on the Flask
server (``server.extensions``), so nothing lives in module-level mutable state."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import flask
from sqlalchemy.engine import Engine

from data_access.cache import TickCache
from data_access.db import engine_from_settings
from data_access.settings import PROJECT_ROOT, Settings

EXTENSION_KEY = "citywall"


@dataclass(frozen=True)
class CityWallRuntime:
    settings: Settings
    engine: Engine
    cache: TickCache
    version: str  # changes with any deployed code or asset: open walls reload once when it does


def build_version() -> str:
    """A fingerprint of the code and assets being served (computed once per app, at creation)."""
    digest = hashlib.blake2b(digest_size=6)
    for folder in ("pages", "components", "data_access", "assets"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".sql", ".js", ".css"):
                digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def attach_runtime(server: flask.Flask, settings: Settings) -> CityWallRuntime:
    version = build_version()
    runtime = CityWallRuntime(settings=settings, engine=engine_from_settings(settings),
                              cache=TickCache(server, settings, version=version), version=version)
    server.extensions[EXTENSION_KEY] = runtime
    return runtime


def current_runtime() -> CityWallRuntime:
    """The runtime of the app serving the current request (layouts and callbacks)."""
    return flask.current_app.extensions[EXTENSION_KEY]
