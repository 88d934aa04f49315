-- PostgreSQL only. Until the incident roll-ups (issue 16) these two indexes let PostgreSQL push one
-- area's code into a PostgreSQL variant of v_incident_counts that counted the incidents of one
-- district or street; v_incident_counts now reads the roll-ups (one file for both dialects), so
-- they only cost writes and disk (two wide indexes over every incident): dropped.
DROP INDEX IF EXISTS ix_incidents_district_closed
-- @@
DROP INDEX IF EXISTS ix_incidents_street_closed
