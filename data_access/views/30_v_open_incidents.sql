-- Every incident not yet closed (resolved ones wait for verification and stay open).
CREATE VIEW v_open_incidents AS
SELECT i.incident_id, i.category, i.subcategory, i.source, i.priority, i.status,
       i.reported_at, i.due_at,
       CASE WHEN i.due_at IS NOT NULL AND i.due_at < {{NOW_UTC}} THEN 1 ELSE 0 END AS overdue,
       i.lat, i.lon, i.cell_id, i.street_code, i.district_code, i.title, i.address
FROM incidents i
WHERE i.closed_at IS NULL
