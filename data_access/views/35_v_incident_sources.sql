-- Incident figures per area (city and district) and source channel, e.g. the 12345 hotline.
-- Same definitions as v_incident_counts; only channels with incidents in the window appear.
-- With the incident roll-ups (rollup_watermarks 'incidents') the figures come from them plus a few
-- index ranges of incidents (rolled_area, as in v_incident_counts); without, from the incidents.
CREATE VIEW v_incident_sources AS
WITH raw AS (
    SELECT i.district_code, i.source, 0 AS n_open, 1 AS n_overdue, 0 AS n_rep, 0 AS n_closed,
           0 AS n_closed_30d, 0 AS n_on_time_30d
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i WHERE i.closed_at IS NULL AND i.due_at >= (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') AND i.due_at < {{NOW_UTC}}
    UNION ALL
    SELECT i.district_code, i.source, 0, -1, 0, 0, 0, 0
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i WHERE i.closed_at IS NULL AND i.due_at >= {{NOW_UTC}} AND i.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents')
    UNION ALL
    SELECT i.district_code, i.source, 0, 0, 0, 0, 1, CASE WHEN i.due_at IS NULL OR COALESCE(i.resolved_at, i.closed_at) <= i.due_at THEN 1 ELSE 0 END
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i WHERE i.closed_at >= {{SHIFT:{{NOW_UTC}}:-2592000}} AND i.closed_at < {{NEAR_HOUR:{{SHIFT:{{NOW_UTC}}:-2592000}}}}
    UNION ALL
    SELECT i.district_code, i.source, 0, 0, 0, 0, -1, CASE WHEN i.due_at IS NULL OR COALESCE(i.resolved_at, i.closed_at) <= i.due_at THEN -1 ELSE 0 END
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i WHERE i.closed_at >= {{NEAR_HOUR:{{SHIFT:{{NOW_UTC}}:-2592000}}}} AND i.closed_at < {{SHIFT:{{NOW_UTC}}:-2592000}}
    UNION ALL
    SELECT i.district_code, i.source, 0, 0, 1, 0, 0, 0
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i WHERE i.reported_at >= {{DAY_START_UTC}} AND i.reported_at < {{CEIL_HOUR:{{DAY_START_UTC}}}}
    UNION ALL
    SELECT i.district_code, i.source, 0, 0, 0, 1, 0, 0
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i WHERE i.closed_at >= {{DAY_START_UTC}} AND i.closed_at < {{CEIL_HOUR:{{DAY_START_UTC}}}}
    UNION ALL
    SELECT NULLIF(o.district_code, ''), o.source, SUM(o.n_open), SUM(o.n_overdue), 0, 0, 0, 0
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_open_counts o  GROUP BY o.district_code, o.source
),
hours AS {{NOT_MATERIALIZED}} (
    -- whole buckets from the roll-ups: today's hours from the first hour start at or after the
    -- day's start; the 30 days' hours from the hour start nearest to their start to the next UTC
    -- midnight, whole UTC days from there to today's, and today's UTC hours (raw adds the partial
    -- hour before today's first, and the closures between the 30 days' start and that nearest hour
    -- start, or takes out those before it: at most half an hour of closures, from an index range).
    -- NOT MATERIALIZED (PostgreSQL): inlined into each of its two reads, so a WHERE on the view's
    -- area reaches the roll-ups' primary key instead of aggregating every area's buckets.
    SELECT t.area_code, t.source, SUM(t.n_rep) AS n_rep, SUM(t.n_closed) AS n_closed, SUM(t.n_cot) AS n_closed_on_time,
           SUM(t.n_c30) AS n_closed_30d, SUM(t.n_ot30) AS n_on_time_30d
    FROM (
        SELECT h.area_code, h.source, h.n_reported AS n_rep, h.n_closed, h.n_closed_on_time AS n_cot, 0 AS n_c30,
               0 AS n_ot30
        FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_hour_counts h WHERE h.source <> '' AND h.hour >= {{CEIL_HOUR:{{DAY_START_UTC}}}}
        UNION ALL
        SELECT h.area_code, h.source, 0, 0, 0, h.n_closed, h.n_closed_on_time
        FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_hour_counts h WHERE h.source <> '' AND h.hour >= {{NEAR_HOUR:{{SHIFT:{{NOW_UTC}}:-2592000}}}} AND h.hour < {{NEXT_DAY:{{SHIFT:{{NOW_UTC}}:-2592000}}}}
        UNION ALL
        SELECT d.area_code, d.source, 0, 0, 0, d.n_closed, d.n_closed_on_time
        FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_day_counts d WHERE d.source <> '' AND d.day >= {{NEXT_DAY:{{SHIFT:{{NOW_UTC}}:-2592000}}}} AND d.day < {{DAY:{{NOW_UTC}}}}
        UNION ALL
        SELECT h.area_code, h.source, 0, 0, 0, h.n_closed, h.n_closed_on_time
        FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_hour_counts h WHERE h.source <> '' AND h.hour >= {{DAY:{{NOW_UTC}}}}
    ) t
    GROUP BY t.area_code, t.source
),
rolled_rows AS (
    SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city') AS area_code, source, n_open, n_overdue, n_rep, n_closed, n_closed_30d, n_on_time_30d
    FROM raw
    UNION ALL
    SELECT district_code, source, n_open, n_overdue, n_rep, n_closed, n_closed_30d, n_on_time_30d
    FROM raw WHERE district_code IS NOT NULL
    UNION ALL
    SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city'), source, 0, 0, n_rep, n_closed, n_closed_30d, n_on_time_30d FROM hours WHERE area_code = '*'
    UNION ALL
    SELECT area_code, source, 0, 0, n_rep, n_closed, n_closed_30d, n_on_time_30d FROM hours WHERE area_code <> '*'
),
rolled_area AS (
    SELECT area_code, source, SUM(n_open) AS n_open, SUM(n_overdue) AS n_overdue, SUM(n_rep) AS n_rep,
           SUM(n_closed) AS n_closed, SUM(n_closed_30d) AS n_closed_30d, SUM(n_on_time_30d) AS n_on_time_30d
    FROM rolled_rows
    GROUP BY area_code, source
    HAVING SUM(n_open) > 0 OR SUM(n_closed_30d) > 0 OR SUM(n_rep) > 0
),
flags AS (
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
        FROM (SELECT 1 AS plain WHERE NOT EXISTS (SELECT 1 FROM rollup_watermarks w WHERE w.rollup = 'incidents')) np CROSS JOIN incidents WHERE closed_at IS NULL
        UNION ALL
        SELECT district_code, street_code, source, due_at, reported_at, resolved_at, closed_at
        FROM (SELECT 1 AS plain WHERE NOT EXISTS (SELECT 1 FROM rollup_watermarks w WHERE w.rollup = 'incidents')) np CROSS JOIN incidents WHERE closed_at >= {{SHIFT:{{NOW_UTC}}:-2592000}}
        UNION ALL
        SELECT district_code, street_code, source, due_at, reported_at, resolved_at, closed_at
        FROM (SELECT 1 AS plain WHERE NOT EXISTS (SELECT 1 FROM rollup_watermarks w WHERE w.rollup = 'incidents')) np CROSS JOIN incidents WHERE closed_at < {{SHIFT:{{NOW_UTC}}:-2592000}} AND reported_at >= {{DAY_START_UTC}}
    ) i
),
plain_area AS (
    SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city') AS area_code, source,
           SUM(is_open) AS n_open, SUM(is_overdue) AS n_overdue, SUM(is_reported_today) AS n_rep,
           SUM(is_closed_today) AS n_closed, SUM(is_closed_30d) AS n_closed_30d, SUM(is_on_time_30d) AS n_on_time_30d
    FROM flags GROUP BY source
    UNION ALL
    SELECT district_code, source, SUM(is_open), SUM(is_overdue), SUM(is_reported_today), SUM(is_closed_today),
           SUM(is_closed_30d), SUM(is_on_time_30d)
    FROM flags WHERE district_code IS NOT NULL GROUP BY district_code, source
),
by_area AS (
    SELECT area_code, source, CAST(n_open AS BIGINT) AS n_open, CAST(n_overdue AS BIGINT) AS n_overdue,
           CAST(n_rep AS BIGINT) AS n_rep, CAST(n_closed AS BIGINT) AS n_closed,
           CAST(n_closed_30d AS BIGINT) AS n_closed_30d, CAST(n_on_time_30d AS BIGINT) AS n_on_time_30d
    FROM rolled_area
    UNION ALL
    SELECT area_code, source, n_open, n_overdue, n_rep, n_closed, n_closed_30d, n_on_time_30d FROM plain_area
)
SELECT b.area_code, b.source,
       b.n_open AS open, b.n_overdue AS overdue, b.n_rep AS reported_today, b.n_closed AS closed_today,
       CASE WHEN b.n_closed_30d = 0 THEN NULL ELSE 1.0 * b.n_on_time_30d / b.n_closed_30d END AS on_time_rate_30d
FROM by_area b
