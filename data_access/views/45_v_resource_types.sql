-- One row per field resource type (patrol team, pump truck, ...).
CREATE VIEW v_resource_types AS
SELECT rt.resource_type, rt.name, rt.name_en, rt.sort_order
FROM resource_types rt
