-- Incident figures for every area at every level (areas without incidents get zeros).
-- "today" is the city's local day (CITYWALL_TIMEZONE); on time = handled (resolved, or
-- closed when no resolution time is kept) no later than the deadline.
-- With the incident roll-ups (rollup_watermarks holds 'incidents'; data_access/incident_rollups.py)
-- the figures come from them plus a few index ranges of incidents (rolled_area); without, from the
-- incidents themselves (plain_area, the same figures). Only one of the two reads anything.
CREATE VIEW v_incident_counts AS
WITH raw AS (
    -- what the roll-ups do not hold yet: the open incidents due between the overdue watermark and
    -- now (+1; -1 for those due between now and a watermark ahead of the clock), and the incidents
    -- of the partial hours at the start of the 30 days and of today (index ranges; see hours)
    SELECT i.district_code, i.street_code, 0 AS n_open, 1 AS n_overdue, 0 AS n_rep, 0 AS n_closed,
           0 AS n_closed_on_time, 0 AS n_closed_30d, 0 AS n_on_time_30d
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i WHERE i.closed_at IS NULL AND i.due_at >= (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') AND i.due_at < {{NOW_UTC}}
    UNION ALL
    SELECT i.district_code, i.street_code, 0, -1, 0, 0, 0, 0, 0
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i WHERE i.closed_at IS NULL AND i.due_at >= {{NOW_UTC}} AND i.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents')
    UNION ALL
    SELECT i.district_code, i.street_code, 0, 0, 0, 0, 0, 1, CASE WHEN i.due_at IS NULL OR COALESCE(i.resolved_at, i.closed_at) <= i.due_at THEN 1 ELSE 0 END
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i WHERE i.closed_at >= {{SHIFT:{{NOW_UTC}}:-2592000}} AND i.closed_at < {{NEAR_HOUR:{{SHIFT:{{NOW_UTC}}:-2592000}}}}
    UNION ALL
    SELECT i.district_code, i.street_code, 0, 0, 0, 0, 0, -1, CASE WHEN i.due_at IS NULL OR COALESCE(i.resolved_at, i.closed_at) <= i.due_at THEN -1 ELSE 0 END
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i WHERE i.closed_at >= {{NEAR_HOUR:{{SHIFT:{{NOW_UTC}}:-2592000}}}} AND i.closed_at < {{SHIFT:{{NOW_UTC}}:-2592000}}
    UNION ALL
    SELECT i.district_code, i.street_code, 0, 0, 1, 0, 0, 0, 0
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i
    WHERE i.reported_at >= {{DAY_START_UTC}} AND i.reported_at < {{CEIL_HOUR:{{DAY_START_UTC}}}}
    UNION ALL
    SELECT i.district_code, i.street_code, 0, 0, 0, 1, CASE WHEN i.due_at IS NULL OR COALESCE(i.resolved_at, i.closed_at) <= i.due_at THEN 1 ELSE 0 END, 0, 0
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i
    WHERE i.closed_at >= {{DAY_START_UTC}} AND i.closed_at < {{CEIL_HOUR:{{DAY_START_UTC}}}}
    UNION ALL
    -- the open incidents, rolled up per street (NULL district / street kept as ''): a few hundred
    -- rows for the three aggregates below instead of every category, channel and priority
    SELECT NULLIF(o.district_code, ''), NULLIF(o.street_code, ''), SUM(o.n_open), SUM(o.n_overdue), 0, 0, 0, 0, 0
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_open_counts o
    GROUP BY o.district_code, o.street_code
),
hours AS {{NOT_MATERIALIZED}} (
    -- whole buckets from the roll-ups: today's hours from the first hour start at or after the
    -- day's start; the 30 days' hours from the hour start nearest to their start to the next UTC
    -- midnight, whole UTC days from there to today's, and today's UTC hours (raw adds the partial
    -- hour before today's first, and the closures between the 30 days' start and that nearest hour
    -- start, or takes out those before it: at most half an hour of closures, from an index range).
    -- NOT MATERIALIZED (PostgreSQL): inlined into each of its two reads, so a WHERE on the view's
    -- area reaches the roll-ups' primary key instead of aggregating every area's buckets.
    SELECT t.area_code, SUM(t.n_rep) AS n_rep, SUM(t.n_closed) AS n_closed, SUM(t.n_cot) AS n_closed_on_time,
           SUM(t.n_c30) AS n_closed_30d, SUM(t.n_ot30) AS n_on_time_30d
    FROM (
        SELECT h.area_code, h.n_reported AS n_rep, h.n_closed, h.n_closed_on_time AS n_cot, 0 AS n_c30,
               0 AS n_ot30
        FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_hour_counts h WHERE h.source = '' AND h.hour >= {{CEIL_HOUR:{{DAY_START_UTC}}}}
        UNION ALL
        SELECT h.area_code, 0, 0, 0, h.n_closed, h.n_closed_on_time
        FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_hour_counts h WHERE h.source = '' AND h.hour >= {{NEAR_HOUR:{{SHIFT:{{NOW_UTC}}:-2592000}}}} AND h.hour < {{NEXT_DAY:{{SHIFT:{{NOW_UTC}}:-2592000}}}}
        UNION ALL
        SELECT d.area_code, 0, 0, 0, d.n_closed, d.n_closed_on_time
        FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_day_counts d WHERE d.source = '' AND d.day >= {{NEXT_DAY:{{SHIFT:{{NOW_UTC}}:-2592000}}}} AND d.day < {{DAY:{{NOW_UTC}}}}
        UNION ALL
        SELECT h.area_code, 0, 0, 0, h.n_closed, h.n_closed_on_time
        FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_hour_counts h WHERE h.source = '' AND h.hour >= {{DAY:{{NOW_UTC}}}}
    ) t
    GROUP BY t.area_code
),
rolled_area AS (
    SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city') AS area_code, SUM(n_open) AS n_open, SUM(n_overdue) AS n_overdue, SUM(n_rep) AS n_rep,
           SUM(n_closed) AS n_closed, SUM(n_closed_on_time) AS n_closed_on_time, SUM(n_closed_30d) AS n_closed_30d,
           SUM(n_on_time_30d) AS n_on_time_30d
    FROM raw HAVING COUNT(*) > 0
    UNION ALL
    SELECT district_code, SUM(n_open), SUM(n_overdue), SUM(n_rep), SUM(n_closed), SUM(n_closed_on_time),
           SUM(n_closed_30d), SUM(n_on_time_30d)
    FROM raw WHERE district_code IS NOT NULL GROUP BY district_code
    UNION ALL
    SELECT street_code, SUM(n_open), SUM(n_overdue), SUM(n_rep), SUM(n_closed), SUM(n_closed_on_time),
           SUM(n_closed_30d), SUM(n_on_time_30d)
    FROM raw WHERE street_code IS NOT NULL GROUP BY street_code
    UNION ALL
    SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city'), 0, 0, n_rep, n_closed, n_closed_on_time, n_closed_30d, n_on_time_30d
    FROM hours WHERE area_code = '*'
    UNION ALL
    SELECT area_code, 0, 0, n_rep, n_closed, n_closed_on_time, n_closed_30d, n_on_time_30d
    FROM hours WHERE area_code <> '*'
),
flags AS (
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
    SELECT (SELECT c.area_code FROM areas c WHERE c.level = 'city') AS area_code,
           SUM(is_open) AS n_open, SUM(is_overdue) AS n_overdue, SUM(is_reported_today) AS n_rep,
           SUM(is_closed_today) AS n_closed, SUM(is_closed_on_time_today) AS n_closed_on_time,
           SUM(is_closed_30d) AS n_closed_30d, SUM(is_on_time_30d) AS n_on_time_30d
    FROM flags HAVING COUNT(*) > 0
    UNION ALL
    SELECT district_code, SUM(is_open), SUM(is_overdue), SUM(is_reported_today), SUM(is_closed_today),
           SUM(is_closed_on_time_today), SUM(is_closed_30d), SUM(is_on_time_30d)
    FROM flags WHERE district_code IS NOT NULL GROUP BY district_code
    UNION ALL
    SELECT street_code, SUM(is_open), SUM(is_overdue), SUM(is_reported_today), SUM(is_closed_today),
           SUM(is_closed_on_time_today), SUM(is_closed_30d), SUM(is_on_time_30d)
    FROM flags WHERE street_code IS NOT NULL GROUP BY street_code
),
by_area AS (
    SELECT area_code, CAST(SUM(n_open) AS BIGINT) AS n_open, CAST(SUM(n_overdue) AS BIGINT) AS n_overdue,
           CAST(SUM(n_rep) AS BIGINT) AS n_rep, CAST(SUM(n_closed) AS BIGINT) AS n_closed,
           CAST(SUM(n_closed_on_time) AS BIGINT) AS n_closed_on_time,
           CAST(SUM(n_closed_30d) AS BIGINT) AS n_closed_30d, CAST(SUM(n_on_time_30d) AS BIGINT) AS n_on_time_30d
    FROM (SELECT * FROM rolled_area UNION ALL SELECT * FROM plain_area) u
    GROUP BY area_code
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
