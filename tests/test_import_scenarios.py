"""A city's scenario catalogue from TOML (``citywall load-scenarios FILE``, and scenarios.toml in a
city pack): loaded into the views exactly, idempotently (the file replaces the catalogue), and every
bad file stops with one line naming the file, the scenario and the field, writing nothing. On
SQLite and PostgreSQL, through the command as a user meets it."""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import cli
from data_access.scenarios import scenario_catalogue
from tests.conftest import BACKENDS, POSTGRES_URL
from tests.fixtures import seed_scenario_city

DATA = Path(__file__).resolve().parent / "data" / "scenarios"
PACK = Path(__file__).resolve().parent.parent / "feeder" / "packs" / "shanghai"


def _rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def _catalogue(engine: Engine) -> dict[str, list[tuple]]:
    return {view: _rows(engine, f"SELECT * FROM {view} ORDER BY 1, 2")
            for view in ("v_scenarios", "v_scenario_indicators", "v_scenario_categories",
                         "v_scenario_resource_types", "v_scenario_steps")}


@pytest.fixture(params=BACKENDS)
def city(request: pytest.FixtureRequest, new_database, monkeypatch: pytest.MonkeyPatch) -> Engine:
    engine = new_database(request.param)
    seed_scenario_city(engine)
    monkeypatch.setenv("CITYWALL_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("CITYWALL_TIMEZONE", raising=False)
    return engine


def test_a_good_file_replaces_the_catalogue_and_again_changes_nothing(city: Engine, capsys) -> None:
    capsys.readouterr()
    assert cli.main(["load-scenarios", str(DATA / "good.toml")]) == 0
    out = capsys.readouterr().out.strip()
    assert out == f"{DATA / 'good.toml'}: 2 scenarios with 2 checklist steps loaded, 2 no longer in the file removed"
    assert _rows(city, "SELECT scenario_id, name, name_en, area_level, activation_kind, activation_status,"
                       " activation_minutes, activation_incidents, activation_window_minutes, end_normal_minutes,"
                       " end_incidents_below, sort_order FROM v_scenarios ORDER BY sort_order") == [
        ("crowd_reports", "人员聚集", None, "street", "incidents", None, None, 3, 10, None, None, 5),
        ("storm", "暴雨积水", "Rainstorm", "district", "indicators", "warn", 2, None, None, 10, 2, 10),
    ]
    assert [(s, i, bool(t), o) for s, i, t, o in _rows(city, "SELECT * FROM v_scenario_indicators ORDER BY 4")] == [
        ("storm", "rain_mm_h", True, 1), ("storm", "pump_load_pct", False, 2)]
    assert _rows(city, "SELECT * FROM v_scenario_categories ORDER BY 1") == [
        ("crowd_reports", "public_safety", "crowd_gathering"), ("storm", "waterlogging", None)]
    assert _rows(city, "SELECT * FROM v_scenario_resource_types") == [("storm", "pump_truck")]
    assert _rows(city, "SELECT * FROM v_scenario_steps ORDER BY 3") == [
        ("storm", "notify", 1, "通知", "Notify", "supervisor"), ("storm", "close_roads", 2, "封路", None, "leader")]
    before = _catalogue(city)
    assert cli.main(["load-scenarios", str(DATA / "good.toml")]) == 0
    assert capsys.readouterr().out.strip().endswith("2 scenarios with 2 checklist steps loaded")
    assert _catalogue(city) == before
    assert scenario_catalogue(engine=city).ids() == ("crowd_reports", "storm")


BAD_FILES = [
    ("unknown_indicator.toml", "scenario 'storm': indicators[1].id: unknown indicator 'rainfall'"),
    ("unknown_category.toml", "scenario 'storm': categories[1].category: unknown incident category 'flooding'"),
    ("bad_subcategory.toml", "categories[1].subcategory: 'crowd_gathering' is not a subcategory of 'waterlogging'"),
    ("missing_name.toml", "scenario 'storm': name: missing"),
    ("bad_kind.toml", "scenario 'storm': activation.kind: expected one of indicators, incidents, manual,"
                      " found 'sensors'"),
    ("bad_minutes.toml", "scenario 'storm': activation.minutes: expected a whole number >= 1, found 'two'"),
    ("misspelt_field.toml", "scenario 'storm': activation.windows_minutes: unknown field"),
    ("not_toml.toml", "not valid TOML"),
    ("duplicate_id.toml", "scenario 'storm': id given twice (scenario 2)"),
    ("bad_role.toml", "scenario 'storm': steps[1].role: expected one of supervisor, leader, admin, found 'operator'"),
    ("unknown_resource_type.toml", "scenario 'storm': resource_types[1]: unknown resource type 'helicopter'"),
    ("street_trigger.toml", "scenario 'storm': indicators[1].triggers: indicator 'rain_mm_h' is reported per"
                            " district, this scenario is evaluated per street"),
    ("ends_at_once.toml", "scenario 'crowd_reports': end.incidents_below: 5 is more than activation.incidents (3)"),
    ("bad_id.toml", "scenario 1: id: expected letters, digits and _ . : - (at most 64), found 'Storm Warning'"),
    ("no_scenarios.toml", "scenarios: unknown table"),
    ("missing.toml", "cannot read"),
]


@pytest.mark.parametrize(("name", "message"), BAD_FILES, ids=[n for n, _ in BAD_FILES])
def test_a_bad_file_says_where_and_writes_nothing(city: Engine, capsys, name: str, message: str) -> None:
    before = _catalogue(city)
    capsys.readouterr()
    assert cli.main(["load-scenarios", str(DATA / name)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith(f"citywall: {DATA / name}: ")
    assert message in lines[0]
    assert _catalogue(city) == before


def _pack_copy(tmp_path: Path, scenarios: Path) -> Path:
    pack = tmp_path / "pack"
    shutil.copytree(PACK, pack)
    shutil.copy(scenarios, pack / "scenarios.toml")
    return pack


def test_a_packs_bad_scenarios_file_loads_nothing_of_the_pack(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CITYWALL_DATABASE_URL", f"sqlite:///{tmp_path / 'pack.db'}")
    bad = tmp_path / "bad.toml"
    bad.write_text((DATA / "unknown_indicator.toml").read_text(encoding="utf-8").replace("rainfall", "rain_gauge"),
                   encoding="utf-8")
    pack = _pack_copy(tmp_path, bad)
    capsys.readouterr()
    assert cli.main(["load-pack", "--pack", str(pack)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"citywall: {pack / 'scenarios.toml'}: scenario 'storm': indicators[1].id: unknown indicator"
                   " 'rain_gauge' (not in the city's indicator catalogue)"]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'pack.db'}")
    assert _rows(engine, "SELECT COUNT(*) FROM areas") == [(0,)]  # checked before the first write
    engine.dispose()


OWN_SCENARIOS = """
[[scenario]]
id = "noise_wave"
name = "噪声投诉集中"
name_en = "Noise wave"
level = "street"

[scenario.activation]
kind = "incidents"
incidents = 3
window_minutes = 60

[[scenario.indicators]]
id = "pm25"
triggers = false

[[scenario.categories]]
category = "noise"
"""


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="CITYWALL_TEST_POSTGRES_URL is not set")
def test_a_city_on_its_own_database_loads_its_scenarios(tmp_path: Path, monkeypatch, capsys) -> None:
    """docs/own-database.md's SQL run as written; load-scenarios as the owner fills the catalogue
    and rebuilds none of the city's views; the state is computed as citywall_reader from the views."""
    from data_access.db import utc_now
    from data_access.scenarios import load_scenario_state
    from tests.test_import_own_database import DOC_SCHEMA, doc_sql_blocks

    name = f"cw_ownsc_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    tables, views, role, actions = doc_sql_blocks()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        conn.exec_driver_sql(f"SET LOCAL search_path TO {name}")
        for block in (tables, views, role.replace(f"SCHEMA {DOC_SCHEMA}", f"SCHEMA {name}"),
                      actions.replace(f"SCHEMA {DOC_SCHEMA}", f"SCHEMA {name}")):
            conn.exec_driver_sql(block)
        conn.exec_driver_sql("INSERT INTO gis_borough VALUES ('MN', 'Manhattan', NULL)")
        conn.exec_driver_sql("INSERT INTO gis_ward VALUES ('MN01', 'Ward MN-1', 'MN', NULL)")
        conn.exec_driver_sql("""INSERT INTO sr_request (request_no, complaint, state, opened, ward_no) VALUES
            (1, 'noise', 'NEW', now() - interval '30 minutes', 'MN01'),
            (2, 'noise', 'NEW', now() - interval '20 minutes', 'MN01'),
            (3, 'noise', 'DONE', now() - interval '10 minutes', 'MN01'),
            (4, 'pothole', 'NEW', now() - interval '5 minutes', 'MN01')""")
    owner = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={name}"})
    reader = owner.set(username="citywall_reader", password=None)
    file = tmp_path / "scenarios.toml"
    file.write_text(OWN_SCENARIOS, encoding="utf-8")
    monkeypatch.setenv("CITYWALL_DATABASE_URL", owner.render_as_string(hide_password=False))
    monkeypatch.setenv("CITYWALL_TIMEZONE", "America/New_York")
    engine = sa.create_engine(reader)
    try:
        capsys.readouterr()
        assert cli.main(["load-scenarios", str(file)]) == 0, capsys.readouterr().err
        with admin.connect() as conn:
            conn.exec_driver_sql(f"SET search_path TO {name}")
            assert not sa.inspect(conn).has_table("citywall_meta")  # no init_db on the city's database
            assert not sa.inspect(conn).has_table("areas")
        state = load_scenario_state(engine=engine, now=utc_now())
        assert [(a.scenario_id, a.area_code, a.reason, a.values) for a in state.active] == [
            ("noise_wave", "MN01", "incidents", (("noise", 3.0, None),))]
        bad = tmp_path / "bad.toml"
        bad.write_text(OWN_SCENARIOS.replace('category = "noise"', 'category = "graffiti"'), encoding="utf-8")
        assert cli.main(["load-scenarios", str(bad)]) == 2
        assert "categories[1].category: unknown incident category 'graffiti'" in capsys.readouterr().err
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
        admin.dispose()


def test_the_shanghai_pack_loads_its_scenarios(new_database) -> None:
    """The pack's scenarios.toml: the three episode-driven scenarios and a manual one, every id the
    pack's own; loading the pack again leaves the catalogue as it was."""
    from feeder.pack import load_city_pack

    engine = new_database("sqlite")
    load_city_pack(engine, pack_dir=PACK)
    catalogue = scenario_catalogue(engine=engine)
    assert catalogue.ids() == ("rainstorm_waterlogging", "large_crowd", "gas_safety", "typhoon_defence")
    kinds = dict(zip(catalogue.scenarios["scenario_id"], catalogue.scenarios["activation_kind"], strict=True))
    assert kinds == {"rainstorm_waterlogging": "indicators", "large_crowd": "indicators", "gas_safety": "indicators",
                     "typhoon_defence": "manual"}

    def triggering(sid: str) -> list[str]:
        ind = catalogue.of(catalogue.indicators, sid)
        return list(ind.loc[ind["triggers"], "indicator_id"])

    assert triggering("rainstorm_waterlogging") == ["rainfall_mm_h", "waterlogging_points", "pump_station_load_pct"]
    assert triggering("large_crowd") == ["crowd_density_p_m2", "metro_station_crowding_pct"]
    assert triggering("gas_safety") == ["gas_leak_alarms"]
    assert set(catalogue.of(catalogue.categories, "gas_safety")["category"]) == {"gas"}
    steps = catalogue.steps
    assert steps["text_en"].notna().all() and set(steps["role"]) == {"supervisor", "leader", "admin"}
    assert set(catalogue.resource_types["resource_type"]) == {"patrol_team", "pump_truck", "repair_crew",
                                                              "emergency_team"}
    before = _catalogue(engine)
    load_city_pack(engine, pack_dir=PACK)
    assert _catalogue(engine) == before
