"""What the city calls its levels (``v_level_names``): "service region" and "neighbourhood
council", 区 and 街道, borough and community district — singular and plural, zh and en.

Pages, breadcrumbs, rankings, exports and wall titles take the words from ``level_names``; the
city sets them with ``citywall new-city --district-level …`` or ``citywall level-names``.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

DEFAULT_LEVEL_NAMES: dict[str, tuple[str, str, str, str]] = {  # level -> name, plural, name_en, plural_en
    "city": ("市", "市", "city", "cities"),
    "district": ("区", "区", "district", "districts"),
    "street": ("街道", "街道", "street", "streets"),
    "cell": ("网格", "网格", "grid cell", "grid cells"),
}


@dataclass(frozen=True)
class LevelName:
    level: str  # city | district | street | cell
    name: str  # local language (zh), singular
    name_plural: str
    name_en: str
    name_en_plural: str

    def label(self, lang: str, *, plural: bool = False) -> str:
        """The level's word in ``lang`` ("zh" or "en"), e.g. label("en", plural=True) -> "service regions"."""
        if lang == "en":
            return self.name_en_plural if plural else self.name_en
        return self.name_plural if plural else self.name


def level_names(*, engine: Engine) -> dict[str, LevelName]:
    """level -> LevelName for city, district, street and cell, from v_level_names; CityWall's own
    words for a level the view does not list (a city's own database without the view's rows)."""
    names = {level: LevelName(level, *words) for level, words in DEFAULT_LEVEL_NAMES.items()}
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("v_level_names"):  # (views count as tables here)
            return names
        rows = conn.execute(sa.text(
            "SELECT level, name, name_plural, name_en, name_en_plural FROM v_level_names")).all()
    for r in rows:
        names[r.level] = LevelName(r.level, r.name, r.name_plural, r.name_en, r.name_en_plural)
    return names
