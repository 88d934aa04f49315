-- Indexes the per-tick reads need at city scale (1,000,000 incidents, 100,000 open), created
-- here because metadata.create_all() never adds an index to a table that already exists.
-- Idempotent on SQLite and PostgreSQL; the leading NN_ runs this file before the views.
-- Open incidents by area, in (district, street) order: v_incident_open_areas reads only this.
CREATE INDEX IF NOT EXISTS ix_incidents_open_areas ON incidents (district_code, street_code, due_at)
    WHERE closed_at IS NULL
-- @@
-- Open incidents by grid cell, covering v_incident_cells (count, overdue, top priority).
CREATE INDEX IF NOT EXISTS ix_incidents_open_cells ON incidents (cell_id, priority, due_at)
    WHERE closed_at IS NULL
-- @@
-- Incidents by close time (NULL = open first), covering every per-tick aggregate: the open
-- incidents and the 30-day/today figures of v_incident_counts and v_incident_sources are range
-- scans of this index instead of a table lookup per incident (SQLite's planner picks it).
CREATE INDEX IF NOT EXISTS ix_incidents_closed_cover ON incidents
    (closed_at, district_code, street_code, cell_id, priority, source, due_at, resolved_at, reported_at)
-- @@
-- Open incidents by due time, covering the incident roll-ups' overdue ranges: the views count the
-- open incidents due between the roll-ups' overdue watermark and now (a tick's worth) on it, and
-- data_access/incident_rollups.advance adds them to the roll-ups. closed_at leads (always NULL
-- here) so that SQLite's planner, which ranks an equality first, prefers it to
-- ix_incidents_closed_cover (closed_at IS NULL alone: every open incident).
DROP INDEX IF EXISTS ix_incidents_open_due
-- @@
CREATE INDEX IF NOT EXISTS ix_incidents_open_by_due ON incidents
    (closed_at, due_at, district_code, street_code, cell_id, priority, category, source) WHERE closed_at IS NULL
-- @@
-- The incident roll-ups' hours by time, covering: the views read the hours of today and of the 30
-- days' first (partial) day for every area at once.
DROP INDEX IF EXISTS ix_incident_hour_counts_hour
-- @@
CREATE INDEX IF NOT EXISTS ix_incident_hours_by_time ON incident_hour_counts
    (hour, source, area_code, n_reported, n_closed, n_closed_on_time)
