"""Sanity checks for the Shanghai demo pack catalogues (indicators.csv, categories.csv)."""

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from feeder.episodes import EPISODE_KINDS
from feeder.pack import read_resource_types

PACK = Path(__file__).resolve().parent.parent / "feeder/packs/shanghai"

DIMENSIONS = {"infrastructure", "environment", "traffic", "supply", "safety", "vitality"}
LEVELS = {"city", "district"}
PERIODS = {5, 10, 30, 60, 300, 900, 3600}
RHYTHMS = {"commute", "day", "evening", "night", "flat"}
KINDS = {"rate", "count", "gauge"}
AGGREGATES = {"sum", "mean"}
SOURCES = {"patrol", "hotline_12345", "sensor", "police_110", "citizen_app"}

INDICATOR_COLUMNS = [
    "indicator_id", "dimension", "name", "name_en", "wall_name", "wall_name_en", "unit", "unit_en", "level", "period_s",
    "warn_low", "warn_high", "alarm_low", "alarm_high", "higher_is_better", "on_wall",
    "sort_order", "aggregate", "sim_base", "sim_rhythm", "sim_night_ratio", "sim_noise",
    "sim_decimals", "sim_kind", "sim_rain_factor", "sim_crowd_factor", "sim_gas_factor",
]
FACTORS = ["sim_rain_factor", "sim_crowd_factor", "sim_gas_factor"]
CATEGORY_COLUMNS = [
    "category", "subcategory", "name", "name_en", "category_name", "category_name_en",
    "sla_hours", "priority", "daily_rate", "source", "sort_order",
]
THRESHOLDS = ["warn_low", "warn_high", "alarm_low", "alarm_high"]

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
CJK = re.compile(r"[\u3400-\u9fff]")


def _read(name: str) -> pd.DataFrame:
    # Only numeric columns may become NaN; text columns keep "" for empty cells.
    return pd.read_csv(PACK / name, encoding="utf-8", keep_default_na=False, na_values={
        c: [""] for c in THRESHOLDS
    })


@pytest.fixture(scope="module")
def ind() -> pd.DataFrame:
    return _read("indicators.csv")


@pytest.fixture(scope="module")
def cat() -> pd.DataFrame:
    return _read("categories.csv")


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


# ---------------------------------------------------------------- indicators


def test_indicator_columns_in_order(ind):
    assert list(ind.columns) == INDICATOR_COLUMNS


def test_indicator_count_and_dimensions(ind):
    assert len(ind) >= 60
    assert set(ind["dimension"]) == DIMENSIONS
    counts = ind["dimension"].value_counts()
    for dim in DIMENSIONS:
        assert counts[dim] >= 8, f"{dim} has only {counts[dim]} indicators"


def test_indicator_ids_unique_snake_case(ind):
    ids = ind["indicator_id"]
    assert ids.is_unique, ids[ids.duplicated()].tolist()
    bad = [i for i in ids if not (i.isascii() and SNAKE.match(i) and len(i) <= 40)]
    assert not bad, bad


def test_indicator_names(ind):
    for row in ind.itertuples():
        assert CJK.search(row.name), f"{row.indicator_id}: name should be Chinese"
        assert row.name_en.strip() and row.name_en.isascii(), f"{row.indicator_id}: bad name_en"


def test_units_are_short_and_in_both_languages(ind):
    """``unit`` is the Chinese wall's (issue 14, item 16: no "count", "pax/h" or "households" on it),
    ``unit_en`` the English one."""
    english_words = re.compile(r"[A-Za-z]{3,}")
    symbols = {"ppm", "NTU", "TEU", "kPa", "MPa"}  # international symbols, the same in both languages
    for row in ind.itertuples():
        assert not CJK.search(row.unit_en), f"{row.indicator_id}: unit_en {row.unit_en!r} contains CJK"
        assert len(row.unit_en) <= 12 and len(row.unit) <= 8, f"{row.indicator_id}: unit too long"
        words = set(english_words.findall(row.unit)) - symbols
        assert not words, f"{row.indicator_id}: Chinese unit {row.unit!r} has English words {words}"
        assert (row.unit == "") == (row.unit_en == ""), f"{row.indicator_id}: a unit in one language only"


def test_wall_names_are_short_in_both_languages(ind):
    """Issue 14, item 15: every indicator has a short wall name, Chinese and English."""
    for row in ind.itertuples():
        assert CJK.search(row.wall_name) or row.wall_name.isascii() and row.wall_name[:1].isalnum(), row.indicator_id
        assert row.wall_name_en.isascii() and row.wall_name_en.strip(), f"{row.indicator_id}: bad wall_name_en"
        width = sum(1.0 if CJK.search(c) else 0.55 for c in row.wall_name)  # in em: a Latin letter ~half a 字
        assert width <= 6 and len(row.wall_name_en) <= 20, (row.indicator_id, row.wall_name, row.wall_name_en)


def test_indicator_enums(ind):
    assert set(ind["level"]) <= LEVELS
    assert set(ind["period_s"]) <= PERIODS
    assert set(ind["sim_rhythm"]) <= RHYTHMS
    assert set(ind["sim_kind"]) <= KINDS
    assert set(ind["higher_is_better"]) <= {0, 1}
    assert set(ind["on_wall"]) <= {0, 1}
    assert set(ind["sim_decimals"]) <= {0, 1, 2}


def test_aggregate_matches_level(ind):
    for row in ind.itertuples():
        if row.level == "district":
            assert row.aggregate in AGGREGATES, f"{row.indicator_id}: district needs sum/mean"
        else:
            assert row.aggregate == "", f"{row.indicator_id}: city level must not aggregate"


def test_sort_order_unique_within_dimension(ind):
    for dim, grp in ind.groupby("dimension"):
        assert grp["sort_order"].is_unique, dim
        assert (grp["sort_order"] > 0).all(), dim


def test_thresholds_ordered(ind):
    for row in ind.itertuples():
        wl, wh, al, ah = (_num(getattr(row, c)) for c in THRESHOLDS)
        rid = row.indicator_id
        assert any(v is not None for v in (wl, wh, al, ah)), f"{rid}: no thresholds at all"
        # A warn bound needs a matching alarm bound on the same side, and vice versa.
        assert (wl is None) == (al is None), f"{rid}: low bounds incomplete"
        assert (wh is None) == (ah is None), f"{rid}: high bounds incomplete"
        if wl is not None:
            assert al <= wl, f"{rid}: alarm_low {al} > warn_low {wl}"
        if wh is not None:
            assert wh <= ah, f"{rid}: warn_high {wh} > alarm_high {ah}"
        if wl is not None and wh is not None:
            assert wl < wh, f"{rid}: warn_low {wl} >= warn_high {wh}"


def test_sim_base_in_normal_band(ind):
    for row in ind.itertuples():
        wl, wh = _num(row.warn_low), _num(row.warn_high)
        if wl is not None:
            assert wl < row.sim_base, f"{row.indicator_id}: base {row.sim_base} <= warn_low {wl}"
        if wh is not None:
            assert row.sim_base < wh, f"{row.indicator_id}: base {row.sim_base} >= warn_high {wh}"


def test_sim_base_keeps_noise_headroom(ind):
    """Base +/- 3 sigma of noise must stay inside the warn band, else 'normal' is not >95%."""
    for row in ind.itertuples():
        sigma = row.sim_base * row.sim_noise
        wl, wh = _num(row.warn_low), _num(row.warn_high)
        if row.sim_kind == "count":
            sigma = max(sigma, math.sqrt(max(row.sim_base, 0)))  # Poisson-like spread
        if wh is not None:
            assert row.sim_base + 3 * sigma < wh, row.indicator_id
        if wl is not None:
            assert row.sim_base - 3 * sigma > wl, row.indicator_id


def test_night_value_not_below_warn_low(ind):
    """At 3 am the expected value (base * night_ratio) must not sit in the warn band."""
    for row in ind.itertuples():
        night = row.sim_base * row.sim_night_ratio
        wl, wh = _num(row.warn_low), _num(row.warn_high)
        if wl is not None:
            assert night > wl, f"{row.indicator_id}: night value {night} below warn_low {wl}"
        if wh is not None:
            assert night < wh, f"{row.indicator_id}: night value {night} above warn_high {wh}"


def test_sim_parameters_ranges(ind):
    assert ind["sim_night_ratio"].between(0, 1.5).all()
    assert ind["sim_noise"].between(0, 0.6, inclusive="right").all()
    assert (ind[FACTORS] > 0).all().all()
    assert (ind.loc[ind["sim_kind"] != "gauge", "sim_base"] >= 0).all(), "rates and counts are non-negative"
    counts = ind[ind["sim_kind"] == "count"]
    assert (counts["sim_decimals"] == 0).all(), "counts are integers"
    flat = ind[ind["sim_rhythm"] == "flat"]
    assert (flat["sim_night_ratio"].between(0.9, 1.1)).all(), "flat rhythm should barely change at night"


def test_rain_sensitive_indicators(ind):
    by_id = ind.set_index("indicator_id")
    assert by_id.loc["waterlogging_points", "sim_rain_factor"] >= 10
    assert by_id.loc["rainfall_mm_h", "sim_rain_factor"] >= 10
    # A rainstorm must be able to push the waterlogging count past its alarm bound.
    wl = by_id.loc["waterlogging_points"]
    assert wl["sim_base"] * wl["sim_rain_factor"] > wl["alarm_high"]
    assert (ind["sim_rain_factor"] > 1).sum() >= 10


# The indicators each demo episode must drive past alarm in its district (the scenarios' triggers).
EPISODE_TRIGGERS = {
    "rainstorm": ["rainfall_mm_h", "waterlogging_points"],
    "crowd": ["crowd_density_p_m2", "metro_station_crowding_pct"],
    "gas": ["gas_leak_alarms"],
}


@pytest.mark.parametrize("kind", sorted(EPISODE_TRIGGERS))
def test_each_episode_kind_has_district_indicators_it_drives_past_alarm(ind, kind):
    by_id = ind.set_index("indicator_id")
    episode = EPISODE_KINDS[kind]
    for indicator_id in EPISODE_TRIGGERS[kind]:
        row = by_id.loc[indicator_id]
        assert row["level"] == "district" and _num(row["alarm_high"]) is not None, indicator_id
        # vitals._disturb lifts a district series with this large a factor past alarm_high.
        assert row[episode.factor_column] >= episode.alarm_min_factor, indicator_id


def test_periods_mix(ind):
    periods = ind["period_s"].value_counts()
    assert periods.get(5, 0) >= 8
    assert periods.get(3600, 0) >= 5
    assert len(periods) >= 5


def test_district_level(ind):
    district = ind[ind["level"] == "district"]
    assert 12 <= len(district) <= 24
    assert set(district["dimension"]) == DIMENSIONS
    assert set(district["aggregate"]) == AGGREGATES


def test_on_wall(ind):
    wall = ind[ind["on_wall"] == 1]
    assert len(wall) >= 36
    counts = wall["dimension"].value_counts()
    for dim in DIMENSIONS:
        assert counts.get(dim, 0) >= 6, f"only {counts.get(dim, 0)} {dim} indicators on the wall"


@pytest.mark.parametrize(
    "indicator_id, low, high",
    [
        ("power_load_mw", 28_000, 38_000),
        ("metro_entries_5min", 40_000, 90_000),  # commute peaks ~1.1e5-1.4e5
        ("hotline_12345_requests_1h", 800, 1_500),
        ("police_110_calls_1h", 900, 1_500),
        ("domestic_waste_t_d", 20_000, 28_000),
        ("water_supply_m3_h", 300_000, 420_000),  # ~8-9 million m3/d
        ("water_pressure_mpa", 0.28, 0.36),
        ("aqi", 45, 85),
        ("pm25", 20, 45),
        ("road_congestion_index", 1.0, 2.5),
        ("huangpu_tide_level_m", 3.0, 5.0),
        ("waterlogging_points", 0, 2),
    ],
)
def test_seed_magnitudes(ind, indicator_id, low, high):
    base = ind.set_index("indicator_id").loc[indicator_id, "sim_base"]
    assert low <= base <= high


# ---------------------------------------------------------------- categories


def test_category_columns_in_order(cat):
    assert list(cat.columns) == CATEGORY_COLUMNS


def test_thirteen_major_categories(cat):
    assert cat["category"].nunique() == 13
    assert all(SNAKE.match(c) for c in cat["category"].unique())
    sizes = cat.groupby("category").size()
    assert sizes.between(5, 15).all(), sizes[~sizes.between(5, 15)].to_dict()


def test_subcategories(cat):
    assert len(cat) >= 90
    subs = cat["subcategory"]
    assert subs.is_unique, subs[subs.duplicated()].tolist()
    assert all(s.isascii() and SNAKE.match(s) for s in subs)
    assert not set(subs) & set(cat["category"]), "subcategory ids must not reuse category ids"


def test_category_attributes_consistent(cat):
    per_cat = cat.groupby("category")[["category_name", "category_name_en", "sort_order"]].nunique()
    assert (per_cat == 1).all().all(), per_cat[(per_cat != 1).any(axis=1)]
    orders = cat.groupby("category")["sort_order"].first()
    assert orders.is_unique
    for row in cat.itertuples():
        assert CJK.search(row.name) and CJK.search(row.category_name), row.subcategory
        assert row.name_en.isascii() and row.category_name_en.isascii(), row.subcategory


def test_sla_priority_source(cat):
    assert (cat["sla_hours"] > 0).all()
    assert (cat["sla_hours"] <= 720).all()
    assert set(cat["priority"]) == {1, 2, 3}
    assert set(cat["source"]) <= SOURCES
    # Urgent items must have tight deadlines, routine ones not tighter than urgent ones on average.
    assert (cat.loc[cat["priority"] == 3, "sla_hours"] <= 24).all()
    mean_sla = cat.groupby("priority")["sla_hours"].mean()
    assert mean_sla[3] < mean_sla[2] < mean_sla[1]
    by_sub = cat.set_index("subcategory")
    assert by_sub.loc["road_waterlogging", "sla_hours"] <= 2
    assert (cat.loc[cat["category"] == "gas", "priority"] == 3).sum() >= 3


def test_daily_rate(cat):
    assert (cat["daily_rate"] >= 0).all()
    total = cat["daily_rate"].sum()
    assert 2_500 <= total <= 5_000, total
    per_cat = cat.groupby("category")["daily_rate"].sum()
    assert per_cat.idxmax() == "hotline_12345", "hotline requests should be the largest share"
    assert (per_cat > 0).all()


# ---------------------------------------------------------------- resource types


def test_resource_types_and_fleet():
    types = pd.read_csv(PACK / "resource_types.csv", encoding="utf-8", keep_default_na=False)
    assert list(types.columns) == ["resource_type", "name", "name_en", "sort_order", "fleet_level", "fleet_size",
                                   "period_s"]
    assert list(types["resource_type"]) == ["patrol_team", "pump_truck", "repair_crew", "emergency_team"]
    for row in types.itertuples():
        assert CJK.search(row.name) and row.name_en.isascii() and row.name_en, row.resource_type
        assert row.fleet_level in {"street", "district"} and row.fleet_size >= 1 and row.period_s in PERIODS
    assert types["sort_order"].is_unique


def test_a_broken_resource_types_file_is_refused_with_its_reason(tmp_path):
    assert read_resource_types(tmp_path).empty  # no file: no fleet
    (tmp_path / "resource_types.csv").write_text("resource_type,name,fleet_level,fleet_size\nboat,船,river,2\n")
    with pytest.raises(ValueError, match="fleet_level must be one of"):
        read_resource_types(tmp_path)
    (tmp_path / "resource_types.csv").write_text("resource_type,name\nboat,船\nboat,艇\n")
    with pytest.raises(ValueError, match="unique"):
        read_resource_types(tmp_path)
