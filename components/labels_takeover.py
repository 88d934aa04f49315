"""Labels of the wall's takeover (issue 13, item 4), merged into i18n.LABELS; every key starts
with ``tko_`` so none can collide with another label file's."""
from __future__ import annotations

TAKEOVER_LABELS: dict[str, dict[str, str]] = {
    "tko_title": {"zh": "场景接管", "en": "Scenario takeover"},
    "tko_active": {"zh": "场景进行中", "en": "Scenario active"},
    "tko_since": {"zh": "{time} 起", "en": "since {time}"},
    "tko_since_window": {"zh": "24小时以上", "en": "over 24 h"},
    "tko_reason_indicators": {"zh": "指标触发", "en": "Indicators"},
    "tko_reason_incidents": {"zh": "事件触发", "en": "Incidents"},
    "tko_reason_manual": {"zh": "手动启动", "en": "Started manually"},
    "tko_incident_count": {"zh": "{category} {n}起", "en": "{category}: {n}"},
    "tko_manual_by": {"zh": "手动启动（{who}）", "en": "Started manually ({who})"},
    "tko_more_values": {"zh": "等{n}项", "en": "+{n} more"},
    "tko_more": {"zh": "另有{n}个场景进行中", "en": "{n} more scenarios active"},
    "tko_acked": {"zh": "已确认", "en": "acknowledged"},
    "tko_ack": {"zh": "确认接管", "en": "Acknowledge"},
    "tko_ack_done": {"zh": "已确认 {n} 项接管", "en": "{n} takeover(s) acknowledged"},
    "tko_ack_none": {"zh": "没有待确认的接管", "en": "Nothing to acknowledge"},
    "tko_ack_failed": {"zh": "确认失败：{why}", "en": "Not acknowledged: {why}"},
    "tko_ack_unavailable": {"zh": "暂时无法确认，请稍后再试", "en": "Cannot acknowledge now; try again"},
    "tko_board_back": {"zh": "场景结束或已确认，返回大屏", "en": "Scenario over or acknowledged: back to the wall"},
}
