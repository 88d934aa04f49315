-- The closed-loop funnel: open incidents per area (every level) and lifecycle status, with the
-- overdue among them and the report time of the oldest (how long the stage has been holding it).
CREATE VIEW v_incident_funnel AS
WITH by_area AS (
    SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city') AS area_code, o.status,
           COUNT(*) AS n_open, SUM(o.overdue) AS n_overdue, MIN(o.reported_at) AS oldest
    FROM v_open_incidents o GROUP BY o.status
    UNION ALL
    SELECT o.district_code, o.status, COUNT(*), SUM(o.overdue), MIN(o.reported_at)
    FROM v_open_incidents o WHERE o.district_code IS NOT NULL GROUP BY o.district_code, o.status
    UNION ALL
    SELECT o.street_code, o.status, COUNT(*), SUM(o.overdue), MIN(o.reported_at)
    FROM v_open_incidents o WHERE o.street_code IS NOT NULL GROUP BY o.street_code, o.status
)
SELECT b.area_code, b.status, b.n_open AS open, b.n_overdue AS overdue, b.oldest AS oldest_reported_at,
       CASE b.status WHEN 'reported' THEN 1 WHEN 'dispatched' THEN 2 WHEN 'in_progress' THEN 3
                     WHEN 'resolved' THEN 4 ELSE 5 END AS stage_order
FROM by_area b
