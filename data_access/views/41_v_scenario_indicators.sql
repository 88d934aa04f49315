-- One row per scenario x indicator; triggers = false: shown on its board only, never fires it.
CREATE VIEW v_scenario_indicators AS
SELECT si.scenario_id, si.indicator_id, si.triggers, si.sort_order
FROM scenario_indicators si
