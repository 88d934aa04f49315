-- One row per incident, open or closed, with every lifecycle timestamp (naive UTC): what the
-- as-of reads (?at=, the replay) and the shift log rebuild a past moment from. Open at T:
-- reported_at <= T AND (closed_at IS NULL OR closed_at > T). Query it as two halves, "closed_at IS
-- NULL AND reported_at <= T" UNION ALL "closed_at > T AND reported_at <= T", so each is one index
-- range (the open incidents; the closures since T) instead of an OR over the whole table.
CREATE VIEW v_incident_history AS
SELECT i.incident_id, i.category, i.subcategory, i.source, i.priority, i.status,
       i.reported_at, i.dispatched_at, i.started_at, i.resolved_at, i.closed_at, i.due_at, i.reopened,
       i.lat, i.lon, i.cell_id, i.street_code, i.district_code, i.title, i.address
FROM incidents i
