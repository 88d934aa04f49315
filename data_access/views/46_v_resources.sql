-- One row per field resource: its type, status (idle | en_route | on_site | off_duty), last
-- position (NULL lat/lon: none), area, when the position was reported and how often it reports.
CREATE VIEW v_resources AS
SELECT r.resource_id, r.resource_type AS type, r.name, r.name_en, r.status, r.lat, r.lon, r.area_code,
       r.updated_at, r.period_s, r.assigned_incident_id
FROM resources r
