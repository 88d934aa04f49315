-- One row: the newest change of any incident (a report or a closure), naive UTC; NULL without
-- incidents. The wall of a city without vital signs says its data is "as of" this moment. Two
-- index lookups (ix_incidents_reported, ix_incidents_closed), whatever the number of incidents.
CREATE VIEW v_incident_as_of AS
SELECT MAX(t) AS as_of FROM (
    SELECT MAX(reported_at) AS t FROM incidents
    UNION ALL
    SELECT MAX(closed_at) FROM incidents
) changes
