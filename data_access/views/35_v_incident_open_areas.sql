-- Open and overdue incidents per area at every level, from the open incidents only: the map's
-- per-tick colours (the same figures as v_incident_counts.open/overdue, without scanning the
-- 30 days of closed incidents that view needs for its other columns). One pass over the open
-- incidents (grouped by district and street), rolled up to the three levels. With the incident
-- roll-ups (rollup_watermarks 'incidents') the pass reads incident_open_counts instead, plus the
-- open incidents due between its overdue watermark and now (v_incident_counts says how).
CREATE VIEW v_incident_open_areas AS
WITH g AS (
    SELECT o.district_code, o.street_code, COUNT(*) AS n_open, SUM(o.overdue) AS n_overdue
    FROM (SELECT 1 AS plain WHERE NOT EXISTS (SELECT 1 FROM rollup_watermarks w WHERE w.rollup = 'incidents')) np CROSS JOIN v_open_incidents o
    
    GROUP BY o.district_code, o.street_code
    UNION ALL
    SELECT NULLIF(r.district_code, ''), NULLIF(r.street_code, ''), SUM(r.n_open), SUM(r.n_overdue)
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_open_counts r
    
    GROUP BY r.district_code, r.street_code
    UNION ALL
    SELECT i.district_code, i.street_code, 0, COUNT(*)
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i
    WHERE i.closed_at IS NULL
      AND i.due_at >= (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents')
      AND i.due_at < {{NOW_UTC}}
    GROUP BY i.district_code, i.street_code
    UNION ALL
    SELECT i.district_code, i.street_code, 0, -COUNT(*)
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i
    WHERE i.closed_at IS NULL
      AND i.due_at >= {{NOW_UTC}}
      AND i.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents')
    GROUP BY i.district_code, i.street_code
)
SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city') AS area_code, 'city' AS level,
       CAST(COALESCE(SUM(g.n_open), 0) AS BIGINT) AS open, CAST(COALESCE(SUM(g.n_overdue), 0) AS BIGINT) AS overdue
FROM g
UNION ALL
SELECT g.district_code, 'district', CAST(SUM(g.n_open) AS BIGINT), CAST(SUM(g.n_overdue) AS BIGINT)
FROM g WHERE g.district_code IS NOT NULL GROUP BY g.district_code HAVING SUM(g.n_open) > 0
UNION ALL
SELECT g.street_code, 'street', CAST(SUM(g.n_open) AS BIGINT), CAST(SUM(g.n_overdue) AS BIGINT)
FROM g WHERE g.street_code IS NOT NULL GROUP BY g.street_code HAVING SUM(g.n_open) > 0
