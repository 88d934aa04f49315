-- One row per scenario x incident category (subcategory NULL: the whole category).
CREATE VIEW v_scenario_categories AS
SELECT sc.scenario_id, sc.category, sc.subcategory
FROM scenario_categories sc
