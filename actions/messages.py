"""The message keys an action answers with (``ActionResult.message_key``). Each has a label in zh
and en in components/labels_actions.py (tests/test_actions.py checks that every key here has one)."""
from __future__ import annotations

from dataclasses import dataclass

# Done (ok=True).
ACK_DONE = "action_ack_done"
STEP_DONE = "action_step_done"
STEP_SKIPPED = "action_step_skipped"
MANUAL_STARTED = "action_manual_started"
MANUAL_ENDED = "action_manual_ended"

# Refused (ok=False): nothing was written.
BAD_REQUEST = "action_bad_request"  # a value of the wrong type or shape (a forged callback)
COMMENT_TOO_LONG = "action_comment_too_long"
WALL_TOKEN = "action_wall_token"  # a wall's screen never acts
ROLE_TOO_LOW = "action_role_too_low"
TOKEN_FORGED = "action_token_forged"
TOKEN_STALE = "action_token_stale"
REPLAYED = "action_replayed"
UNKNOWN_SCENARIO = "action_unknown_scenario"
UNKNOWN_STEP = "action_unknown_step"
UNKNOWN_AREA = "action_unknown_area"
OUTSIDE_SCOPE = "action_outside_scope"
WRONG_LEVEL = "action_wrong_level"  # a manual start in an area of another level than the scenario's
NOT_ACTIVE = "action_not_active"
OTHER_ACTIVATION = "action_other_activation"  # a step's form issued for an earlier activation of the scenario
NOT_IN_WALL_SCOPE = "action_not_in_wall_scope"  # an acknowledgement for a wall the activation does not take over
ALREADY_ACKNOWLEDGED = "action_already_acknowledged"
ALREADY_ACTIVE = "action_already_active"
STEP_ALREADY_DONE = "action_step_already_done"
UNAVAILABLE = "action_unavailable"  # the database could not take it

DONE_KEYS = (ACK_DONE, STEP_DONE, STEP_SKIPPED, MANUAL_STARTED, MANUAL_ENDED)
REFUSAL_KEYS = (BAD_REQUEST, COMMENT_TOO_LONG, WALL_TOKEN, ROLE_TOO_LOW, TOKEN_FORGED, TOKEN_STALE, REPLAYED,
                UNKNOWN_SCENARIO, UNKNOWN_STEP, UNKNOWN_AREA, OUTSIDE_SCOPE, WRONG_LEVEL, NOT_ACTIVE, OTHER_ACTIVATION,
                NOT_IN_WALL_SCOPE, ALREADY_ACKNOWLEDGED, ALREADY_ACTIVE, STEP_ALREADY_DONE, UNAVAILABLE)
MESSAGE_KEYS = DONE_KEYS + REFUSAL_KEYS


@dataclass(frozen=True)
class ActionResult:
    """What an action answers: done (``action_id`` of its audit row) or refused (nothing written);
    ``message_key`` is a label of components.i18n, for the screen to say."""
    ok: bool
    message_key: str
    action_id: int | None = None


def refused(message_key: str) -> ActionResult:
    return ActionResult(ok=False, message_key=message_key, action_id=None)
