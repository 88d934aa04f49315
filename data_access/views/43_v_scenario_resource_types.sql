-- One row per scenario x field resource type it deploys.
CREATE VIEW v_scenario_resource_types AS
SELECT sr.scenario_id, sr.resource_type
FROM scenario_resource_types sr
