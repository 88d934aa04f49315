-- Open incidents per area (every level) and major category.
CREATE VIEW v_incident_categories AS
WITH names AS (
    SELECT category, MIN(category_name) AS category_name, MIN(category_name_en) AS category_name_en,
           MIN(sort_order) AS sort_order
    FROM incident_categories GROUP BY category
),
by_area AS (
    SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city') AS area_code, o.category,
           COUNT(*) AS n_open, SUM(o.overdue) AS n_overdue
    FROM v_open_incidents o GROUP BY o.category
    UNION ALL
    SELECT o.district_code, o.category, COUNT(*), SUM(o.overdue)
    FROM v_open_incidents o WHERE o.district_code IS NOT NULL GROUP BY o.district_code, o.category
    UNION ALL
    SELECT o.street_code, o.category, COUNT(*), SUM(o.overdue)
    FROM v_open_incidents o WHERE o.street_code IS NOT NULL GROUP BY o.street_code, o.category
)
SELECT b.area_code, b.category, COALESCE(n.category_name, b.category) AS category_name,
       COALESCE(n.category_name_en, b.category) AS category_name_en,
       b.n_open AS open, b.n_overdue AS overdue, COALESCE(n.sort_order, 0) AS sort_order
FROM by_area b
LEFT JOIN names n ON n.category = b.category
