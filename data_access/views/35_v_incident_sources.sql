-- Incident figures per area (city and district) and source channel, e.g. the 12345 hotline.
-- Same definitions as v_incident_counts; only channels with incidents in the window appear.
CREATE VIEW v_incident_sources AS
WITH flags AS (
    SELECT i.district_code, i.source,
           CASE WHEN i.closed_at IS NULL THEN 1 ELSE 0 END AS is_open,
           CASE WHEN i.closed_at IS NULL AND i.due_at < {{NOW_UTC}} THEN 1 ELSE 0 END AS is_overdue,
           CASE WHEN i.reported_at >= {{DAY_START_UTC}} THEN 1 ELSE 0 END AS is_reported_today,
           CASE WHEN i.closed_at >= {{DAY_START_UTC}} THEN 1 ELSE 0 END AS is_closed_today,
           CASE WHEN i.closed_at >= {{SHIFT:{{NOW_UTC}}:-2592000}} THEN 1 ELSE 0 END AS is_closed_30d,
           CASE WHEN i.closed_at >= {{SHIFT:{{NOW_UTC}}:-2592000}}
                 AND (i.due_at IS NULL OR COALESCE(i.resolved_at, i.closed_at) <= i.due_at)
                THEN 1 ELSE 0 END AS is_on_time_30d
    FROM (
        -- three disjoint index range scans instead of one OR (which reads the table row by row)
        SELECT district_code, street_code, source, due_at, reported_at, resolved_at, closed_at
        FROM incidents WHERE closed_at IS NULL
        UNION ALL
        SELECT district_code, street_code, source, due_at, reported_at, resolved_at, closed_at
        FROM incidents WHERE closed_at >= {{SHIFT:{{NOW_UTC}}:-2592000}}
        UNION ALL
        SELECT district_code, street_code, source, due_at, reported_at, resolved_at, closed_at
        FROM incidents WHERE closed_at < {{SHIFT:{{NOW_UTC}}:-2592000}} AND reported_at >= {{DAY_START_UTC}}
    ) i
),
by_area AS (
    SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city') AS area_code, source,
           SUM(is_open) AS n_open, SUM(is_overdue) AS n_overdue, SUM(is_reported_today) AS n_rep,
           SUM(is_closed_today) AS n_closed, SUM(is_closed_30d) AS n_closed_30d, SUM(is_on_time_30d) AS n_on_time_30d
    FROM flags GROUP BY source
    UNION ALL
    SELECT district_code, source, SUM(is_open), SUM(is_overdue), SUM(is_reported_today), SUM(is_closed_today),
           SUM(is_closed_30d), SUM(is_on_time_30d)
    FROM flags WHERE district_code IS NOT NULL GROUP BY district_code, source
)
SELECT b.area_code, b.source,
       b.n_open AS open, b.n_overdue AS overdue, b.n_rep AS reported_today, b.n_closed AS closed_today,
       CASE WHEN b.n_closed_30d = 0 THEN NULL ELSE 1.0 * b.n_on_time_30d / b.n_closed_30d END AS on_time_rate_30d
FROM by_area b
