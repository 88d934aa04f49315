-- Open and overdue incidents per area at every level, from the open incidents only: the map's
-- per-tick colours (the same figures as v_incident_counts.open/overdue, without scanning the
-- 30 days of closed incidents that view needs for its other columns).
CREATE VIEW v_incident_open_areas AS
SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city') AS area_code, 'city' AS level,
       COUNT(*) AS open, COALESCE(SUM(o.overdue), 0) AS overdue
FROM v_open_incidents o
UNION ALL
SELECT o.district_code, 'district', COUNT(*), SUM(o.overdue)
FROM v_open_incidents o WHERE o.district_code IS NOT NULL GROUP BY o.district_code
UNION ALL
SELECT o.street_code, 'street', COUNT(*), SUM(o.overdue)
FROM v_open_incidents o WHERE o.street_code IS NOT NULL GROUP BY o.street_code
