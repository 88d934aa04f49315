"""Settings: working defaults, every CITYWALL_* value validated with a message naming it."""
from __future__ import annotations

import pytest

from components.kpi_tile import create_incident_strip
from data_access.models import IncidentCounts
from data_access.settings import SettingsError, load_settings


def test_defaults_work_out_of_the_box() -> None:
    settings = load_settings({})
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("var/citywall.db")
    assert (settings.refresh_s, settings.timezone, settings.lang, settings.tile_url) == (5.0, "Asia/Shanghai", "zh", "")
    assert (settings.hotline_source, settings.hotline_name) == ("hotline_12345", "12345")
    assert settings.push_stream_max_s == 300.0  # a push stream's life: then the browser reconnects
    assert load_settings({"CITYWALL_PUSH_STREAM_MAX_S": "30"}).push_stream_max_s == 30.0


@pytest.mark.parametrize(("key", "value"), [
    ("CITYWALL_REFRESH_S", "abc"), ("CITYWALL_REFRESH_S", "0.1"), ("CITYWALL_TIMEZONE", "Mars/Olympus"),
    ("CITYWALL_LANG", "fr"), ("CITYWALL_FEEDER", "maybe"), ("CITYWALL_PORT", "0"),
    ("CITYWALL_HOTLINE_NAME", "x" * 65), ("CITYWALL_PUSH_STREAM_MAX_S", "0.5"), ("CITYWALL_PUSH_STREAM_MAX_S", "5m"),
])
def test_bad_values_name_the_variable(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        load_settings({key: value})


def test_hotline_is_configurable_and_labelled() -> None:
    settings = load_settings({"CITYWALL_HOTLINE_SOURCE": "hotline_311", "CITYWALL_HOTLINE_NAME": "311",
                              "CITYWALL_TIMEZONE": "America/New_York", "CITYWALL_LANG": "en"})
    assert (settings.hotline_source, settings.hotline_name, settings.lang) == ("hotline_311", "311", "en")
    counts = IncidentCounts(area_code="NYC", open=9, overdue=9, reported_today=0, closed_today=0,
                            closed_on_time_today=0, on_time_rate_30d=None)
    strip = create_incident_strip(counts, {"reported_today": 7}, "en", hotline_name="311")
    labels = [kpi.children[0].children for kpi in strip[1:-1]]  # (the last is the strip's error line)
    assert labels[-2:] == ["311 today", "311 on time"]
    assert strip[-3].children[1].children == "7"
