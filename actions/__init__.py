"""Operator actions — the only writes the app itself makes (issue 13, item 6): acknowledge a
takeover, mark a checklist step done or skipped, start or end a scenario by hand. One module with
its own role checks (``service``), form tokens (``tokens``) and one INSERT into the audit table
``operator_actions`` through its own engine (``store``); never through the views the pages read.

Pages may import this package; data_access and components must not, and it imports no Dash,
Flask, pages or components (tests/test_architecture.py). docs/security.md, "Operator actions".
"""
from actions.messages import MESSAGE_KEYS, ActionResult
from actions.service import MINIMUM_ROLE, acknowledge_takeover, end_manual, mark_step, start_manual
from actions.store import actions_engine
from actions.tokens import TOKEN_TTL_S, Purpose, action_form, issue_token, new_request_id, signing_key

__all__ = [
    "MESSAGE_KEYS", "MINIMUM_ROLE", "TOKEN_TTL_S", "ActionResult", "Purpose", "acknowledge_takeover", "action_form",
    "actions_engine", "end_manual", "issue_token", "mark_step", "new_request_id", "signing_key", "start_manual",
]
