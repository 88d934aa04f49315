-- The shift log's incidents gone overdue (issue 15): one range of v_incident_history's due times
-- (open or closed), whatever the number of incidents. Idempotent on SQLite and PostgreSQL.
CREATE INDEX IF NOT EXISTS ix_incidents_due ON incidents (due_at)
