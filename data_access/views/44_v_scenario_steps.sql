-- One row per checklist step of a scenario, in order; role: the least role that may mark it.
CREATE VIEW v_scenario_steps AS
SELECT st.scenario_id, st.step_id, st.sort_order, st.text, st.text_en, st.role
FROM scenario_steps st
