"""Labels of operator actions (merged into i18n.LABELS): every ``ActionResult.message_key`` of
actions/messages.py, done and refused. Every key is prefixed ``action_`` so none can collide."""
from __future__ import annotations

ACTION_LABELS: dict[str, dict[str, str]] = {
    # done
    "action_ack_done": {"zh": "已确认接管，大屏恢复轮播",
                        "en": "Takeover acknowledged: the wall returns to its rotation"},
    "action_step_done": {"zh": "步骤已标记为完成", "en": "Step marked done"},
    "action_step_skipped": {"zh": "步骤已标记为跳过", "en": "Step marked skipped"},
    "action_manual_started": {"zh": "场景已手动启动", "en": "Scenario started by hand"},
    "action_manual_ended": {"zh": "场景已手动结束", "en": "Scenario ended by hand"},
    # refused: nothing was written
    "action_bad_request": {"zh": "请求无效，未执行任何操作", "en": "Invalid request: nothing was done"},
    "action_comment_too_long": {"zh": "备注过长（最多500字），未执行任何操作",
                                "en": "Comment too long (at most 500 characters): nothing was done"},
    "action_wall_token": {"zh": "大屏终端不能执行操作，请用个人账号登录",
                          "en": "A wall screen cannot act: sign in with your own account"},
    "action_role_too_low": {"zh": "您的角色无权执行此操作", "en": "Your role may not do this"},
    "action_token_forged": {"zh": "操作凭证无效，未执行任何操作；请刷新页面后重试",
                            "en": "Invalid form token: nothing was done; reload the page and try again"},
    "action_token_stale": {"zh": "操作凭证已过期（10分钟），请刷新页面后重试",
                           "en": "This form expired (10 minutes): reload the page and try again"},
    "action_replayed": {"zh": "该请求已提交过，未重复执行", "en": "This request was already sent: not done again"},
    "action_unknown_scenario": {"zh": "未知场景，未执行任何操作", "en": "Unknown scenario: nothing was done"},
    "action_unknown_step": {"zh": "该场景没有这个步骤，未执行任何操作",
                            "en": "This scenario has no such step: nothing was done"},
    "action_unknown_area": {"zh": "未知区域，未执行任何操作", "en": "Unknown area: nothing was done"},
    "action_outside_scope": {"zh": "该区域不在您的权限范围内", "en": "This area is outside your scope"},
    "action_wrong_level": {"zh": "该场景不能在这一级区域启动",
                           "en": "This scenario cannot be started at this area's level"},
    "action_not_active": {"zh": "该场景当前未激活", "en": "This scenario is not active here"},
    "action_other_activation": {"zh": "该表单属于该场景的上一次响应，未保存；请在本次响应中重新标记",
                                "en": "This form was for an earlier activation of the scenario: nothing was saved;"
                                      " mark the step again in the current one"},
    "action_not_in_wall_scope": {"zh": "该场景未接管这块大屏", "en": "This scenario has not taken over this wall"},
    "action_already_acknowledged": {"zh": "该接管已被确认", "en": "This takeover was already acknowledged"},
    "action_already_active": {"zh": "该场景已处于激活状态", "en": "This scenario is already active here"},
    "action_step_already_done": {"zh": "该步骤在本次响应中已完成", "en": "This step is already done in this response"},
    "action_unavailable": {"zh": "数据库暂不可用，操作未保存，请稍后重试",
                           "en": "Database unavailable: the action was not saved; try again"},
}
