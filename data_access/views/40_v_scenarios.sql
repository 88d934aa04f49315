-- One row per scenario of the catalogue (应用场景): names, description, the level its state is
-- evaluated at, the activation rule and the end rule (docs/views.md).
CREATE VIEW v_scenarios AS
SELECT s.scenario_id, s.name, s.name_en, s.description, s.description_en, s.area_level,
       s.activation_kind, s.activation_status, s.activation_minutes, s.activation_incidents,
       s.activation_window_minutes, s.end_normal_minutes, s.end_incidents_below, s.sort_order
FROM scenarios s
