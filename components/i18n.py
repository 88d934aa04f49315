"""Every label CityWall shows, in Chinese and English, from one catalogue."""
from __future__ import annotations

from components.labels_actions import ACTION_LABELS
from components.labels_fleet import FLEET_LABELS
from components.labels_log import LOG_LABELS
from components.labels_map import MAP_LABELS
from components.labels_replay import REPLAY_LABELS
from components.labels_scenario import SCENARIO_LABELS
from components.labels_takeover import TAKEOVER_LABELS
from data_access.models import LANGUAGES

WALL_LABELS: dict[str, dict[str, str]] = {
    "app_title": {"zh": "城市运行体征", "en": "City vital signs"},
    "data_as_of": {"zh": "数据时间", "en": "Data as of"},
    "newest_incident_change": {"zh": "事件最新变动", "en": "Newest incident change"},
    "live": {"zh": "在线", "en": "LIVE"},
    "offline": {"zh": "离线", "en": "OFFLINE"},
    "access_revoked": {"zh": "此屏幕的访问权限已被撤销", "en": "THIS SCREEN'S ACCESS WAS REVOKED"},
    "connecting": {"zh": "连接中", "en": "CONNECTING"},
    "db_unavailable": {"zh": "数据库不可用", "en": "DATABASE UNAVAILABLE"},
    "last_good_data": {"zh": "最后有效数据", "en": "last good data"},
    "no_data": {"zh": "暂无数据", "en": "No data yet"},
    "stale": {"zh": "数据过期", "en": "stale"},
    "just_now": {"zh": "刚刚", "en": "just now"},
    "ago_s": {"zh": "{n}秒前", "en": "{n} s ago"},
    "ago_min": {"zh": "{n}分钟前", "en": "{n} min ago"},
    "ago_h": {"zh": "{n}小时前", "en": "{n} h ago"},
    "ago_d": {"zh": "{n}天前", "en": "{n} d ago"},
    "dur_h_min": {"zh": "{h}小时{m}分", "en": "{h} h {m} min"},
    "dur_over_day": {"zh": "超过24小时", "en": "over 24 h"},
    "health": {"zh": "城市体征健康度", "en": "City health"},
    "tile_pages_hint": {"zh": "本组最后一格的指标每{s}秒轮换；全部指标见体征指标页，告警指标均列于告警栏",
                        "en": "The last place of this panel turns every {s} s; every indicator is in the vitals "
                              "explorer, and any in alarm in the alarm list"},
    # A district's or street's wall: titled with what the city calls the level (v_level_names).
    "level_vital_signs": {"zh": "{level}运行体征", "en": "{level} vital signs"},
    "level_health": {"zh": "{level}体征健康度", "en": "{level} health"},
    "level_incidents": {"zh": "{level}事件", "en": "{level} incidents"},
    "health_hint": {"zh": "正常指标占比", "en": "share of indicators normal"},
    "alarms": {"zh": "告警与预警", "en": "Alarms & warnings"},
    "no_alarms": {"zh": "所有指标正常", "en": "All indicators normal"},
    "in_state_for": {"zh": "持续", "en": "for"},
    "city_value": {"zh": "市级", "en": "city"},
    "district_value": {"zh": "区级", "en": "district"},
    "hotline": {"zh": "12345热线", "en": "12345 hotline"},
    "hotline_today": {"zh": "{name}今日受理", "en": "{name} today"},
    "hotline_on_time": {"zh": "{name}按时率", "en": "{name} on time"},
    "nav_wall": {"zh": "大屏", "en": "Wall"},
    "nav_city": {"zh": "全市事件", "en": "City map"},
    "nav_incidents": {"zh": "事件列表", "en": "Incidents"},
    "nav_vitals": {"zh": "体征指标", "en": "Vitals explorer"},
    "explorer_title": {"zh": "体征指标浏览", "en": "Vitals explorer"},
    "search_placeholder": {"zh": "搜索指标…", "en": "Search indicators…"},
    "range_1h": {"zh": "1小时", "en": "1 h"},
    "range_24h": {"zh": "24小时", "en": "24 h"},
    "range_7d": {"zh": "7天", "en": "7 d"},
    "area": {"zh": "区域", "en": "Area"},
    "warn_band": {"zh": "预警线", "en": "warning"},
    "alarm_band": {"zh": "告警线", "en": "alarm"},
    "pick_indicator": {"zh": "请选择左侧指标", "en": "Pick an indicator on the left"},
    "query_failed": {"zh": "数据读取失败，稍后自动重试", "en": "Could not read data; retrying"},
    "vs_yesterday": {"zh": "较昨日", "en": "vs yesterday"},
    "status_normal": {"zh": "正常", "en": "normal"},
    "status_warn": {"zh": "预警", "en": "warning"},
    "status_alarm": {"zh": "告警", "en": "alarm"},
    "status_none": {"zh": "无值", "en": "no value"},
    "dim_infrastructure": {"zh": "城市设施", "en": "Infrastructure"},
    "dim_environment": {"zh": "生态环境", "en": "Environment"},
    "dim_traffic": {"zh": "交通运行", "en": "Traffic"},
    "dim_supply": {"zh": "能源保障", "en": "Supply"},
    "dim_safety": {"zh": "公共安全", "en": "Safety"},
    "dim_vitality": {"zh": "经济活力", "en": "Vitality"},
    "incidents": {"zh": "城市事件", "en": "Incidents"},
    "open": {"zh": "在办", "en": "Open"},
    "overdue": {"zh": "超期", "en": "Overdue"},
    "reported_today": {"zh": "今日上报", "en": "Reported today"},
    "closed_today": {"zh": "今日结案", "en": "Closed today"},
    "on_time_rate_30d": {"zh": "按时处置率(30天)", "en": "On time (30 d)"},
    "not_found_title": {"zh": "找不到这个页面", "en": "Page not found"},
    "not_found_body": {"zh": "这个地址没有页面。", "en": "There is no page at this address."},
    "unknown_area": {"zh": "未知区域代码：{code}", "en": "Unknown area code: {code}"},
    "back_to_city": {"zh": "返回全市", "en": "Back to the city"},
    "panel_failed": {"zh": "事件数据读取失败，稍后自动重试", "en": "Incident figures unavailable; retrying"},
    "access_denied_title": {"zh": "无权查看", "en": "Not allowed"},
    "access_denied_body": {"zh": "您的账号无权查看这个页面或区域（{code}）。",
                           "en": "Your account may not see this page or area ({code})."},
    "access_denied_back": {"zh": "返回我的大屏", "en": "Back to my wall"},
}

# The one catalogue: every label file's entries merged (keys must not collide; a test checks).
LABELS: dict[str, dict[str, str]] = {**WALL_LABELS, **MAP_LABELS, **SCENARIO_LABELS, **ACTION_LABELS,
                                     **TAKEOVER_LABELS, **REPLAY_LABELS, **FLEET_LABELS, **LOG_LABELS}

DIMENSIONS = ("infrastructure", "environment", "traffic", "supply", "safety", "vitality")


LevelWords = dict[str, tuple[str, str]]  # level -> (singular, plural) in one language, from v_level_names


def level_label(key: str, level: str, lang: str, words: LevelWords | None) -> str:
    """Label ``key`` of a level in the city's own words: ``lvl`` (the level, "District", "服务区"),
    ``children`` (a ranking's title), ``legend`` (the map's), ``click`` (the map's hint). Without
    ``words`` for the level: CityWall's own label (``lvl_district``, ``lvl_children_street``, …)."""
    fallback = {"lvl": f"lvl_{level}", "children": f"lvl_children_{level}", "legend": f"map_legend_{level}",
                "click": f"map_legend_click_{level}"}[key]
    found = (words or {}).get(level)
    if not found or level == "city" and key == "lvl":  # the city's page says 全市 / City
        return t(fallback, lang)
    one, many = found

    def cap(word: str) -> str:
        return word[:1].upper() + word[1:] if lang == "en" else word

    if key == "lvl":
        return cap(one)
    if key == "children":
        return t("lvl_children_of", lang, levels=cap(many))
    article = "an" if lang == "en" and one[:1].lower() in "aeiou" else "a"
    return t("map_legend_of" if key == "legend" else "map_legend_click_of", lang, level=one, levels=many,
             a=article)


def pick_language(requested: object, default: str) -> str:
    """``?lang=`` when it names a known language, otherwise the configured default."""
    return requested if isinstance(requested, str) and requested in LANGUAGES else default


def t(key: str, lang: str, **values: object) -> str:
    """The label ``key`` in ``lang``; unknown keys show the key itself, never crash."""
    entry = LABELS.get(key)
    text = entry.get(lang) or entry.get("en") or key if entry else key
    return text.format(**values) if values else text
