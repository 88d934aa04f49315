-- One row per incident reported in the last 24 hours, open or closed: what the incidents rule of
-- a scenario counts (N of its categories reported in an area within M minutes).
CREATE VIEW v_incident_reports_recent AS
SELECT i.incident_id, i.category, i.subcategory, i.district_code, i.street_code, i.reported_at, i.closed_at
FROM incidents i
WHERE i.reported_at >= {{SHIFT:{{NOW_UTC}}:-86400}}
