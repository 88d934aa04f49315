"""What the city calls its levels (issue 14, item 4, data side), on SQLite and PostgreSQL: CityWall's
words by default, the city's own — zh and en, singular and plural — set at ``citywall new-city`` or
later with ``citywall level-names``, read through v_level_names by data_access.levels.level_names."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

import cli
from data_access.db import make_engine
from data_access.levels import level_names
from importers.areas import english_plural
from tests.conftest import BACKENDS, create_database


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    db_url, cleanup = create_database(request.param, tmp_path)
    monkeypatch.setenv("CITYWALL_DATABASE_URL", db_url)
    monkeypatch.delenv("CITYWALL_TIMEZONE", raising=False)
    yield db_url
    cleanup()


def _names(url: str) -> dict[str, tuple[str, str, str, str]]:
    engine: Engine = make_engine(url)
    try:
        return {lv: (n.name, n.name_plural, n.name_en, n.name_en_plural)
                for lv, n in level_names(engine=engine).items()}
    finally:
        engine.dispose()


def test_defaults_then_the_city_s_own_words(url: str, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["new-city", "--code", "LA", "--name", "洛杉矶", "--name-en", "Los Angeles",
                     "--timezone", "America/Los_Angeles"]) == 0
    assert _names(url) == {"city": ("市", "市", "city", "cities"), "district": ("区", "区", "district", "districts"),
                           "street": ("街道", "街道", "street", "streets"),
                           "cell": ("网格", "网格", "grid cell", "grid cells")}
    assert cli.main(["level-names", "--district-level", "服务区", "--district-level-en", "service region",
                     "--street-level-en", "neighbourhood council/neighbourhood councils"]) == 0
    names = _names(url)
    assert names["district"] == ("服务区", "服务区", "service region", "service regions")
    assert names["street"] == ("街道", "街道", "neighbourhood council", "neighbourhood councils")
    assert cli.main(["level-names", "--street-level", "社区委员会"]) == 0  # English kept
    assert _names(url)["street"] == ("社区委员会", "社区委员会", "neighbourhood council", "neighbourhood councils")
    assert "neighbourhood council/neighbourhood councils" in capsys.readouterr().out


def test_new_city_sets_them_and_bad_words_get_one_line(url: str, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["new-city", "--code", "PAR", "--name", "Paris", "--timezone", "Europe/Paris",
                     "--district-level", "区/区", "--district-level-en", "arrondissement",
                     "--street-level-en", "quartier"]) == 0
    names = _names(url)
    assert names["district"] == ("区", "区", "arrondissement", "arrondissements")
    assert names["street"][2:] == ("quartier", "quartiers")
    capsys.readouterr()
    assert cli.main(["level-names", "--district-level-en", "a/b/c"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--district-level-en 'a/b/c'" in err[0]
    assert _names(url)["district"][2] == "arrondissement"


def test_english_plurals() -> None:
    assert [english_plural(w) for w in ("borough", "community", "parish", "day", "ward")] == [
        "boroughs", "communities", "parishes", "days", "wards"]


def test_a_database_without_the_view_gets_citywall_s_words(url: str) -> None:
    engine = make_engine(url)
    try:
        assert level_names(engine=engine)["street"].label("en", plural=True) == "streets"
    finally:
        engine.dispose()
