-- PostgreSQL only: one district's or one street's incidents by close time, covering
-- v_incident_counts. A level page asks that view for one area (or for each child of one area,
-- through LATERAL) and PostgreSQL pushes the code down into the view (31_v_incident_counts
-- .postgresql.sql), so it reads that area's open and recently closed incidents only, not the
-- whole city's. (SQLite does not push the code into that view; it keeps 31_v_incident_counts.sql.)
CREATE INDEX IF NOT EXISTS ix_incidents_district_closed ON incidents
    (district_code, closed_at, street_code, due_at, resolved_at, reported_at, source)
-- @@
CREATE INDEX IF NOT EXISTS ix_incidents_street_closed ON incidents
    (street_code, closed_at, district_code, due_at, resolved_at, reported_at, source)
