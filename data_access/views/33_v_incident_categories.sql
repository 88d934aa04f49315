-- Open incidents per area (every level) and major category. With the incident roll-ups
-- (rollup_watermarks 'incidents') from incident_open_counts, plus the open incidents due between
-- its overdue watermark and now (v_incident_counts says how); without, from the open incidents.
CREATE VIEW v_incident_categories AS
WITH names AS (
    SELECT category, MIN(category_name) AS category_name, MIN(category_name_en) AS category_name_en,
           MIN(sort_order) AS sort_order
    FROM incident_categories GROUP BY category
),
g AS (
    SELECT o.district_code, o.street_code, o.category, COUNT(*) AS n_open, SUM(o.overdue) AS n_overdue
    FROM (SELECT 1 AS plain WHERE NOT EXISTS (SELECT 1 FROM rollup_watermarks w WHERE w.rollup = 'incidents')) np CROSS JOIN v_open_incidents o
    
    GROUP BY o.district_code, o.street_code, o.category
    UNION ALL
    SELECT NULLIF(r.district_code, ''), NULLIF(r.street_code, ''), r.category, SUM(r.n_open), SUM(r.n_overdue)
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_open_counts r
    
    GROUP BY r.district_code, r.street_code, r.category
    UNION ALL
    SELECT i.district_code, i.street_code, i.category, 0, COUNT(*)
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i
    WHERE i.closed_at IS NULL
      AND i.due_at >= (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents')
      AND i.due_at < {{NOW_UTC}}
    GROUP BY i.district_code, i.street_code, i.category
    UNION ALL
    SELECT i.district_code, i.street_code, i.category, 0, -COUNT(*)
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i
    WHERE i.closed_at IS NULL
      AND i.due_at >= {{NOW_UTC}}
      AND i.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents')
    GROUP BY i.district_code, i.street_code, i.category
),
by_area AS (
    SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city') AS area_code, g.category,
           SUM(g.n_open) AS n_open, SUM(g.n_overdue) AS n_overdue
    FROM g GROUP BY g.category
    UNION ALL
    SELECT g.district_code, g.category, SUM(g.n_open), SUM(g.n_overdue)
    FROM g WHERE g.district_code IS NOT NULL GROUP BY g.district_code, g.category
    UNION ALL
    SELECT g.street_code, g.category, SUM(g.n_open), SUM(g.n_overdue)
    FROM g WHERE g.street_code IS NOT NULL GROUP BY g.street_code, g.category
)
SELECT b.area_code, b.category, COALESCE(n.category_name, b.category) AS category_name,
       COALESCE(n.category_name_en, b.category) AS category_name_en,
       CAST(b.n_open AS BIGINT) AS open, CAST(b.n_overdue AS BIGINT) AS overdue, COALESCE(n.sort_order, 0) AS sort_order
FROM by_area b
LEFT JOIN names n ON n.category = b.category
WHERE b.n_open > 0
