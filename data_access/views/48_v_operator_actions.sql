-- Every operator action (acknowledged takeovers, checklist marks, manual starts and ends), as audited.
CREATE VIEW v_operator_actions AS
SELECT a.action_id, a.at, a.principal, a.role, a.screen, a.kind, a.scenario_id, a.area_code, a.scope_code,
       a.step_id, a.step_state, a.comment, a.activation_since, a.request_id
FROM operator_actions a
