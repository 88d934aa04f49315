-- Open and overdue incidents per area at every level, from the open incidents only: the map's
-- per-tick colours (the same figures as v_incident_counts.open/overdue, without scanning the
-- 30 days of closed incidents that view needs for its other columns). One pass over the open
-- incidents (grouped by district and street), rolled up to the three levels.
CREATE VIEW v_incident_open_areas AS
WITH g AS (
    SELECT o.district_code, o.street_code, COUNT(*) AS n_open, SUM(o.overdue) AS n_overdue
    FROM v_open_incidents o
    GROUP BY o.district_code, o.street_code
)
SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city') AS area_code, 'city' AS level,
       CAST(COALESCE(SUM(g.n_open), 0) AS BIGINT) AS open, CAST(COALESCE(SUM(g.n_overdue), 0) AS BIGINT) AS overdue
FROM g
UNION ALL
SELECT g.district_code, 'district', CAST(SUM(g.n_open) AS BIGINT), CAST(SUM(g.n_overdue) AS BIGINT)
FROM g WHERE g.district_code IS NOT NULL GROUP BY g.district_code
UNION ALL
SELECT g.street_code, 'street', CAST(SUM(g.n_open) AS BIGINT), CAST(SUM(g.n_overdue) AS BIGINT)
FROM g WHERE g.street_code IS NOT NULL GROUP BY g.street_code
