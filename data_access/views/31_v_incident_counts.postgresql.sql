-- Incident figures for every area at every level (areas without incidents get zeros).
-- "today" is the city's local day (CITYWALL_TIMEZONE); on time = handled (resolved, or
-- closed when no resolution time is kept) no later than the deadline.
-- PostgreSQL: a query for one area (WHERE area_code = ..., also per row through LATERAL) reads
-- only that area's incidents: the CTEs are NOT MATERIALIZED and every level's area code is a
-- grouping column, so the planner pushes the code down to the index scans of
-- 06_indexes.postgresql.sql (the level pages ask for one district or street at a time). The same
-- rows and columns as 31_v_incident_counts.sql; a read of every area costs ~1.5x (three passes).
CREATE VIEW v_incident_counts AS
WITH flags AS NOT MATERIALIZED (
    SELECT i.district_code, i.street_code,
           CASE WHEN i.closed_at IS NULL THEN 1 ELSE 0 END AS is_open,
           CASE WHEN i.closed_at IS NULL AND i.due_at < {{NOW_UTC}} THEN 1 ELSE 0 END AS is_overdue,
           CASE WHEN i.reported_at >= {{DAY_START_UTC}} THEN 1 ELSE 0 END AS is_reported_today,
           CASE WHEN i.closed_at >= {{DAY_START_UTC}} THEN 1 ELSE 0 END AS is_closed_today,
           CASE WHEN i.closed_at >= {{DAY_START_UTC}}
                 AND (i.due_at IS NULL OR COALESCE(i.resolved_at, i.closed_at) <= i.due_at)
                THEN 1 ELSE 0 END AS is_closed_on_time_today,
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
by_area AS NOT MATERIALIZED (
    SELECT c.area_code,
           SUM(is_open) AS n_open, SUM(is_overdue) AS n_overdue, SUM(is_reported_today) AS n_rep,
           SUM(is_closed_today) AS n_closed, SUM(is_closed_on_time_today) AS n_closed_on_time,
           SUM(is_closed_30d) AS n_closed_30d, SUM(is_on_time_30d) AS n_on_time_30d
    FROM (SELECT area_code FROM areas WHERE level = 'city') c CROSS JOIN flags
    GROUP BY c.area_code
    UNION ALL
    SELECT district_code, SUM(is_open), SUM(is_overdue), SUM(is_reported_today), SUM(is_closed_today),
           SUM(is_closed_on_time_today), SUM(is_closed_30d), SUM(is_on_time_30d)
    FROM flags WHERE district_code IS NOT NULL GROUP BY district_code
    UNION ALL
    SELECT street_code, SUM(is_open), SUM(is_overdue), SUM(is_reported_today), SUM(is_closed_today),
           SUM(is_closed_on_time_today), SUM(is_closed_30d), SUM(is_on_time_30d)
    FROM flags WHERE street_code IS NOT NULL GROUP BY street_code
)
SELECT a.area_code, a.level,
       COALESCE(b.n_open, 0) AS open,
       COALESCE(b.n_overdue, 0) AS overdue,
       COALESCE(b.n_rep, 0) AS reported_today,
       COALESCE(b.n_closed, 0) AS closed_today,
       COALESCE(b.n_closed_on_time, 0) AS closed_on_time_today,
       CASE WHEN COALESCE(b.n_closed_30d, 0) = 0 THEN NULL
            ELSE 1.0 * b.n_on_time_30d / b.n_closed_30d END AS on_time_rate_30d
FROM areas a
LEFT JOIN by_area b ON b.area_code = a.area_code
