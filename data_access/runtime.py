"""What a running app holds: its settings, its engine, its tick cache, its version and the lineage
of area codes (for scope checks). A plain value built once per app by ``build_runtime``; the web
layer keeps it on its server (pages/_runtime.py)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from data_access import heap
from data_access.areas import Lineage
from data_access.cache import NeverCache, TickCache, build_cache
from data_access.db import engine_from_settings
from data_access.scenarios import ChangePointsMemo
from data_access.settings import PROJECT_ROOT, Settings


@dataclass(frozen=True)
class CityWallRuntime:
    settings: Settings
    engine: Engine
    cache: TickCache | NeverCache
    version: str  # changes with any deployed code or asset: open walls reload once when it does
    lineage: Lineage  # area code -> its codes up to the city, nearest first (kept a few minutes)
    # the live scenario state's change points of the tick before (data_access/scenarios.py change_points)
    change_points: ChangePointsMemo = field(default_factory=ChangePointsMemo)


def build_version() -> str:
    """A fingerprint of the code and assets being served (computed once per app, at creation)."""
    digest = hashlib.blake2b(digest_size=6)
    for folder in ("pages", "components", "data_access", "actions", "assets"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".sql", ".js", ".css"):
                digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def build_runtime(settings: Settings) -> CityWallRuntime:
    heap.limit_arenas()  # before the request threads start (issue 16, item 4: data_access/heap.py)
    version = build_version()
    engine = engine_from_settings(settings)
    return CityWallRuntime(settings=settings, engine=engine, cache=build_cache(settings, version=version),
                           version=version, lineage=Lineage(engine))

