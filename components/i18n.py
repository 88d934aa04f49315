"""Every label CityWall shows, in Chinese and English, from one catalogue."""
from __future__ import annotations

from data_access.settings import LANGUAGES

LABELS: dict[str, dict[str, str]] = {
    "app_title": {"zh": "城市运行体征", "en": "City vital signs"},
    "data_as_of": {"zh": "数据时间", "en": "Data as of"},
    "live": {"zh": "在线", "en": "LIVE"},
    "offline": {"zh": "离线", "en": "OFFLINE"},
    "connecting": {"zh": "连接中", "en": "CONNECTING"},
    "db_unavailable": {"zh": "数据库不可用", "en": "DATABASE UNAVAILABLE"},
    "last_good_data": {"zh": "最后有效数据", "en": "last good data"},
    "no_data": {"zh": "暂无数据", "en": "No data yet"},
    "stale": {"zh": "数据过期", "en": "stale"},
    "ago_s": {"zh": "{n}秒前", "en": "{n} s ago"},
    "ago_min": {"zh": "{n}分钟前", "en": "{n} min ago"},
    "ago_h": {"zh": "{n}小时前", "en": "{n} h ago"},
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
}

DIMENSIONS = ("infrastructure", "environment", "traffic", "supply", "safety", "vitality")


def pick_language(requested: object, default: str) -> str:
    """``?lang=`` when it names a known language, otherwise the configured default."""
    return requested if isinstance(requested, str) and requested in LANGUAGES else default


def t(key: str, lang: str, **values: object) -> str:
    """The label ``key`` in ``lang``; unknown keys show the key itself, never crash."""
    entry = LABELS.get(key)
    text = entry.get(lang) or entry.get("en") or key if entry else key
    return text.format(**values) if values else text
