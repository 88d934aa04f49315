"""Labels of the replay (issue 15, items 1, 2 and 5: ``?at=`` on the wall and the level pages, the
wall's replay control, the messages for a moment or speed the page cannot show), merged into
i18n.LABELS; every key starts with ``rpl_`` so none can collide with another label file's."""
from __future__ import annotations

REPLAY_LABELS: dict[str, dict[str, str]] = {
    "rpl_tag": {"zh": "回放", "en": "REPLAY"},
    "rpl_badge": {"zh": "回放 · 非实时", "en": "REPLAY · NOT LIVE"},
    "rpl_hint": {"zh": "历史画面，非实时数据", "en": "The city as it was: not live"},
    "rpl_as_of": {"zh": "回放时刻", "en": "Replaying"},
    "rpl_play": {"zh": "▶ 播放", "en": "▶ Play"},
    "rpl_pause": {"zh": "❚❚ 暂停", "en": "❚❚ Pause"},
    "rpl_live": {"zh": "返回实时", "en": "Back to live"},
    "rpl_speed": {"zh": "倍速", "en": "Speed"},
    "rpl_window": {"zh": "可回放 {start} 至 {end}", "en": "Replayable {start} to {end}"},
    "rpl_err_title": {"zh": "无法回放", "en": "Cannot replay"},
    "rpl_err_malformed": {"zh": "“{value}”不是有效的时间。请写成 2026-12-04T03:10 这样的格式（城市当地时间，"
                                "或带时区偏移）。",
                          "en": "“{value}” is not a time. Write it like 2026-12-04T03:10 (the city's time, "
                                "or with an offset)."},
    "rpl_err_future": {"zh": "{value} 还没有到来：回放只能显示过去。", "en": "{value} is in the future: a replay "
                                                                          "shows the past only."},
    "rpl_err_before_history": {"zh": "{value} 早于数据库保留的历史（最早 {oldest}）。",
                               "en": "{value} is before the history the database keeps (oldest: {oldest})."},
    "rpl_err_speed": {"zh": "回放速度“{value}”无效：可选 1×、10×、60×。",
                      "en": "Replay speed “{value}” is not offered: 1×, 10× or 60×."},
    "rpl_err_open_live": {"zh": "打开实时画面", "en": "Open the live page"},
    "rpl_err_open_oldest": {"zh": "从最早的历史开始回放", "en": "Replay from the oldest history"},
    "rpl_failed": {"zh": "回放数据读取失败，稍后自动重试", "en": "Replay data unavailable; retrying"},
    "rpl_wall_replay": {"zh": "在大屏上回放此时刻", "en": "Replay this moment on the wall"},
}
