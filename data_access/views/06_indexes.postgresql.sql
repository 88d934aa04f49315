-- PostgreSQL only. Until the incident roll-ups (issue 16) these two indexes let PostgreSQL push one
-- area's code into a PostgreSQL variant of v_incident_counts that counted the incidents of one
-- district or street; v_incident_counts now reads the roll-ups (one file for both dialects), so
-- they only cost writes and disk (two wide indexes over every incident): dropped.
DROP INDEX IF EXISTS ix_incidents_district_closed
-- @@
DROP INDEX IF EXISTS ix_incidents_street_closed
-- @@
-- Open incidents by due time, covering the incident roll-ups' overdue ranges (the open incidents
-- due between the overdue watermark and now, a tick's worth). ix_incidents_open_by_due (05) leads
-- with closed_at for SQLite's planner; PostgreSQL drops that column's qual (implied by the partial
-- index's WHERE) and so cannot range-scan it on due_at: it bitmap-ANDed every open incident's entry
-- of ix_incidents_open_cell with ix_incidents_due instead (12 ms a read at 100,000 open; 0.1 ms here).
CREATE INDEX IF NOT EXISTS ix_incidents_open_due_at ON incidents (due_at)
    INCLUDE (district_code, street_code, cell_id, priority, category, source) WHERE closed_at IS NULL
