-- Keeps the incident count roll-ups (incident_open_counts, incident_open_cells,
-- incident_hour_counts, incident_day_counts; data_access/schema.py) current on every insert,
-- update and delete of incidents, whoever writes them (the feeder, the importers). PostgreSQL:
-- statement-level triggers over the statement's transition tables, so a statement writing a
-- thousand incidents (an import batch) moves each roll-up row once: the old rows' contributions
-- out (-1), the new rows' in (+1), summed per roll-up row, rows that sum to nothing skipped. The
-- same rules as 01_incident_rollups_trigger.sql (SQLite, row by row); the three functions are the
-- same statements over different transition tables: keep them alike. An incident due before the
-- watermark (rollup_watermarks 'incidents') is counted overdue; the watermark row is read FOR
-- SHARE, so the step that moves it (data_access/incident_rollups.py, FOR UPDATE) and a write never
-- miss each other's rows. Roll-up rows are written in key order (no deadlock between two writers).
DROP TRIGGER IF EXISTS trg_incident_rollups ON incidents
-- @@
DROP TRIGGER IF EXISTS trg_incident_rollups_update ON incidents
-- @@
DROP TRIGGER IF EXISTS trg_incident_rollups_insert ON incidents
-- @@
DROP TRIGGER IF EXISTS trg_incident_rollups_delete ON incidents
-- @@
DROP TRIGGER IF EXISTS trg_incident_rollups_truncate ON incidents
-- @@
DROP FUNCTION IF EXISTS citywall_incident_rollups()
-- @@
DROP FUNCTION IF EXISTS citywall_incident_rollup_apply(integer, timestamp, text, text, text, text, text, integer,
    timestamp, timestamp, timestamp, timestamp)
-- @@
DROP FUNCTION IF EXISTS citywall_incident_rollup_apply(integer, timestamp, text, text, text, text, text, integer,
    timestamp, timestamp, timestamp, timestamp, boolean, boolean, boolean)
-- @@
CREATE OR REPLACE FUNCTION citywall_incident_rollups_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    w timestamp;
BEGIN
    SELECT rolled_until INTO w FROM rollup_watermarks WHERE rollup = 'incidents' FOR SHARE;
    WITH ch AS (SELECT 1 AS s, n.* FROM new_rows n)
    INSERT INTO incident_open_counts AS c (district_code, street_code, category, source, priority, n_open, n_overdue)
    SELECT COALESCE(ch.district_code, ''), COALESCE(ch.street_code, ''), ch.category, ch.source, ch.priority,
           SUM(ch.s), SUM(CASE WHEN ch.due_at < w THEN ch.s ELSE 0 END)
    FROM ch WHERE ch.closed_at IS NULL
    GROUP BY COALESCE(ch.district_code, ''), COALESCE(ch.street_code, ''), ch.category, ch.source, ch.priority
    HAVING SUM(ch.s) <> 0 OR SUM(CASE WHEN ch.due_at < w THEN ch.s ELSE 0 END) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (district_code, street_code, category, source, priority) DO UPDATE
        SET n_open = c.n_open + EXCLUDED.n_open, n_overdue = c.n_overdue + EXCLUDED.n_overdue;
    WITH ch AS (SELECT 1 AS s, n.* FROM new_rows n)
    INSERT INTO incident_open_cells AS c (cell_id, priority, n_open, n_overdue)
    SELECT ch.cell_id, ch.priority, SUM(ch.s), SUM(CASE WHEN ch.due_at < w THEN ch.s ELSE 0 END)
    FROM ch WHERE ch.closed_at IS NULL AND ch.cell_id IS NOT NULL
    GROUP BY ch.cell_id, ch.priority
    HAVING SUM(ch.s) <> 0 OR SUM(CASE WHEN ch.due_at < w THEN ch.s ELSE 0 END) <> 0
    ORDER BY 1, 2
    ON CONFLICT (cell_id, priority) DO UPDATE
        SET n_open = c.n_open + EXCLUDED.n_open, n_overdue = c.n_overdue + EXCLUDED.n_overdue;
    WITH ch AS (SELECT 1 AS s, n.* FROM new_rows n)
    INSERT INTO incident_hour_counts AS h (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, b.t, SUM(b.rep), SUM(b.clo), SUM(b.ont)
    FROM ch
    CROSS JOIN LATERAL (VALUES ('*'::text, ''::text), (ch.district_code, ''), (ch.street_code, ''), ('*', ch.source),
                               (ch.district_code, ch.source)) a (code, src)
    CROSS JOIN LATERAL (
        SELECT date_trunc('hour', ch.reported_at), ch.s, 0, 0 WHERE ch.reported_at IS NOT NULL
        UNION ALL
        SELECT date_trunc('hour', ch.closed_at), 0, ch.s,
               CASE WHEN ch.due_at IS NULL OR COALESCE(ch.resolved_at, ch.closed_at) <= ch.due_at THEN ch.s ELSE 0 END
        WHERE ch.closed_at IS NOT NULL
    ) b (t, rep, clo, ont)
    WHERE a.code IS NOT NULL
    GROUP BY a.code, a.src, b.t
    HAVING SUM(b.rep) <> 0 OR SUM(b.clo) <> 0 OR SUM(b.ont) <> 0
    ORDER BY a.code, a.src, b.t
    ON CONFLICT (area_code, source, hour) DO UPDATE
        SET n_reported = h.n_reported + EXCLUDED.n_reported, n_closed = h.n_closed + EXCLUDED.n_closed,
            n_closed_on_time = h.n_closed_on_time + EXCLUDED.n_closed_on_time;
    WITH ch AS (SELECT 1 AS s, n.* FROM new_rows n)
    INSERT INTO incident_day_counts AS h (area_code, source, day, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, b.t, SUM(b.rep), SUM(b.clo), SUM(b.ont)
    FROM ch
    CROSS JOIN LATERAL (VALUES ('*'::text, ''::text), (ch.district_code, ''), (ch.street_code, ''), ('*', ch.source),
                               (ch.district_code, ch.source)) a (code, src)
    CROSS JOIN LATERAL (
        SELECT date_trunc('day', ch.reported_at), ch.s, 0, 0 WHERE ch.reported_at IS NOT NULL
        UNION ALL
        SELECT date_trunc('day', ch.closed_at), 0, ch.s,
               CASE WHEN ch.due_at IS NULL OR COALESCE(ch.resolved_at, ch.closed_at) <= ch.due_at THEN ch.s ELSE 0 END
        WHERE ch.closed_at IS NOT NULL
    ) b (t, rep, clo, ont)
    WHERE a.code IS NOT NULL
    GROUP BY a.code, a.src, b.t
    HAVING SUM(b.rep) <> 0 OR SUM(b.clo) <> 0 OR SUM(b.ont) <> 0
    ORDER BY a.code, a.src, b.t
    ON CONFLICT (area_code, source, day) DO UPDATE
        SET n_reported = h.n_reported + EXCLUDED.n_reported, n_closed = h.n_closed + EXCLUDED.n_closed,
            n_closed_on_time = h.n_closed_on_time + EXCLUDED.n_closed_on_time;
    RETURN NULL;
END
$$
-- @@
CREATE TRIGGER trg_incident_rollups_insert AFTER INSERT ON incidents
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION citywall_incident_rollups_insert()
-- @@
CREATE OR REPLACE FUNCTION citywall_incident_rollups_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    w timestamp;
BEGIN
    SELECT rolled_until INTO w FROM rollup_watermarks WHERE rollup = 'incidents' FOR SHARE;
    WITH ch AS (SELECT -1 AS s, o.* FROM old_rows o UNION ALL SELECT 1, n.* FROM new_rows n)
    INSERT INTO incident_open_counts AS c (district_code, street_code, category, source, priority, n_open, n_overdue)
    SELECT COALESCE(ch.district_code, ''), COALESCE(ch.street_code, ''), ch.category, ch.source, ch.priority,
           SUM(ch.s), SUM(CASE WHEN ch.due_at < w THEN ch.s ELSE 0 END)
    FROM ch WHERE ch.closed_at IS NULL
    GROUP BY COALESCE(ch.district_code, ''), COALESCE(ch.street_code, ''), ch.category, ch.source, ch.priority
    HAVING SUM(ch.s) <> 0 OR SUM(CASE WHEN ch.due_at < w THEN ch.s ELSE 0 END) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (district_code, street_code, category, source, priority) DO UPDATE
        SET n_open = c.n_open + EXCLUDED.n_open, n_overdue = c.n_overdue + EXCLUDED.n_overdue;
    WITH ch AS (SELECT -1 AS s, o.* FROM old_rows o UNION ALL SELECT 1, n.* FROM new_rows n)
    INSERT INTO incident_open_cells AS c (cell_id, priority, n_open, n_overdue)
    SELECT ch.cell_id, ch.priority, SUM(ch.s), SUM(CASE WHEN ch.due_at < w THEN ch.s ELSE 0 END)
    FROM ch WHERE ch.closed_at IS NULL AND ch.cell_id IS NOT NULL
    GROUP BY ch.cell_id, ch.priority
    HAVING SUM(ch.s) <> 0 OR SUM(CASE WHEN ch.due_at < w THEN ch.s ELSE 0 END) <> 0
    ORDER BY 1, 2
    ON CONFLICT (cell_id, priority) DO UPDATE
        SET n_open = c.n_open + EXCLUDED.n_open, n_overdue = c.n_overdue + EXCLUDED.n_overdue;
    WITH ch AS (SELECT -1 AS s, o.* FROM old_rows o UNION ALL SELECT 1, n.* FROM new_rows n)
    INSERT INTO incident_hour_counts AS h (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, b.t, SUM(b.rep), SUM(b.clo), SUM(b.ont)
    FROM ch
    CROSS JOIN LATERAL (VALUES ('*'::text, ''::text), (ch.district_code, ''), (ch.street_code, ''), ('*', ch.source),
                               (ch.district_code, ch.source)) a (code, src)
    CROSS JOIN LATERAL (
        SELECT date_trunc('hour', ch.reported_at), ch.s, 0, 0 WHERE ch.reported_at IS NOT NULL
        UNION ALL
        SELECT date_trunc('hour', ch.closed_at), 0, ch.s,
               CASE WHEN ch.due_at IS NULL OR COALESCE(ch.resolved_at, ch.closed_at) <= ch.due_at THEN ch.s ELSE 0 END
        WHERE ch.closed_at IS NOT NULL
    ) b (t, rep, clo, ont)
    WHERE a.code IS NOT NULL
    GROUP BY a.code, a.src, b.t
    HAVING SUM(b.rep) <> 0 OR SUM(b.clo) <> 0 OR SUM(b.ont) <> 0
    ORDER BY a.code, a.src, b.t
    ON CONFLICT (area_code, source, hour) DO UPDATE
        SET n_reported = h.n_reported + EXCLUDED.n_reported, n_closed = h.n_closed + EXCLUDED.n_closed,
            n_closed_on_time = h.n_closed_on_time + EXCLUDED.n_closed_on_time;
    WITH ch AS (SELECT -1 AS s, o.* FROM old_rows o UNION ALL SELECT 1, n.* FROM new_rows n)
    INSERT INTO incident_day_counts AS h (area_code, source, day, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, b.t, SUM(b.rep), SUM(b.clo), SUM(b.ont)
    FROM ch
    CROSS JOIN LATERAL (VALUES ('*'::text, ''::text), (ch.district_code, ''), (ch.street_code, ''), ('*', ch.source),
                               (ch.district_code, ch.source)) a (code, src)
    CROSS JOIN LATERAL (
        SELECT date_trunc('day', ch.reported_at), ch.s, 0, 0 WHERE ch.reported_at IS NOT NULL
        UNION ALL
        SELECT date_trunc('day', ch.closed_at), 0, ch.s,
               CASE WHEN ch.due_at IS NULL OR COALESCE(ch.resolved_at, ch.closed_at) <= ch.due_at THEN ch.s ELSE 0 END
        WHERE ch.closed_at IS NOT NULL
    ) b (t, rep, clo, ont)
    WHERE a.code IS NOT NULL
    GROUP BY a.code, a.src, b.t
    HAVING SUM(b.rep) <> 0 OR SUM(b.clo) <> 0 OR SUM(b.ont) <> 0
    ORDER BY a.code, a.src, b.t
    ON CONFLICT (area_code, source, day) DO UPDATE
        SET n_reported = h.n_reported + EXCLUDED.n_reported, n_closed = h.n_closed + EXCLUDED.n_closed,
            n_closed_on_time = h.n_closed_on_time + EXCLUDED.n_closed_on_time;
    RETURN NULL;
END
$$
-- @@
CREATE TRIGGER trg_incident_rollups_update AFTER UPDATE ON incidents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION citywall_incident_rollups_update()
-- @@
CREATE OR REPLACE FUNCTION citywall_incident_rollups_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    w timestamp;
BEGIN
    SELECT rolled_until INTO w FROM rollup_watermarks WHERE rollup = 'incidents' FOR SHARE;
    WITH ch AS (SELECT -1 AS s, o.* FROM old_rows o)
    INSERT INTO incident_open_counts AS c (district_code, street_code, category, source, priority, n_open, n_overdue)
    SELECT COALESCE(ch.district_code, ''), COALESCE(ch.street_code, ''), ch.category, ch.source, ch.priority,
           SUM(ch.s), SUM(CASE WHEN ch.due_at < w THEN ch.s ELSE 0 END)
    FROM ch WHERE ch.closed_at IS NULL
    GROUP BY COALESCE(ch.district_code, ''), COALESCE(ch.street_code, ''), ch.category, ch.source, ch.priority
    HAVING SUM(ch.s) <> 0 OR SUM(CASE WHEN ch.due_at < w THEN ch.s ELSE 0 END) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (district_code, street_code, category, source, priority) DO UPDATE
        SET n_open = c.n_open + EXCLUDED.n_open, n_overdue = c.n_overdue + EXCLUDED.n_overdue;
    WITH ch AS (SELECT -1 AS s, o.* FROM old_rows o)
    INSERT INTO incident_open_cells AS c (cell_id, priority, n_open, n_overdue)
    SELECT ch.cell_id, ch.priority, SUM(ch.s), SUM(CASE WHEN ch.due_at < w THEN ch.s ELSE 0 END)
    FROM ch WHERE ch.closed_at IS NULL AND ch.cell_id IS NOT NULL
    GROUP BY ch.cell_id, ch.priority
    HAVING SUM(ch.s) <> 0 OR SUM(CASE WHEN ch.due_at < w THEN ch.s ELSE 0 END) <> 0
    ORDER BY 1, 2
    ON CONFLICT (cell_id, priority) DO UPDATE
        SET n_open = c.n_open + EXCLUDED.n_open, n_overdue = c.n_overdue + EXCLUDED.n_overdue;
    WITH ch AS (SELECT -1 AS s, o.* FROM old_rows o)
    INSERT INTO incident_hour_counts AS h (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, b.t, SUM(b.rep), SUM(b.clo), SUM(b.ont)
    FROM ch
    CROSS JOIN LATERAL (VALUES ('*'::text, ''::text), (ch.district_code, ''), (ch.street_code, ''), ('*', ch.source),
                               (ch.district_code, ch.source)) a (code, src)
    CROSS JOIN LATERAL (
        SELECT date_trunc('hour', ch.reported_at), ch.s, 0, 0 WHERE ch.reported_at IS NOT NULL
        UNION ALL
        SELECT date_trunc('hour', ch.closed_at), 0, ch.s,
               CASE WHEN ch.due_at IS NULL OR COALESCE(ch.resolved_at, ch.closed_at) <= ch.due_at THEN ch.s ELSE 0 END
        WHERE ch.closed_at IS NOT NULL
    ) b (t, rep, clo, ont)
    WHERE a.code IS NOT NULL
    GROUP BY a.code, a.src, b.t
    HAVING SUM(b.rep) <> 0 OR SUM(b.clo) <> 0 OR SUM(b.ont) <> 0
    ORDER BY a.code, a.src, b.t
    ON CONFLICT (area_code, source, hour) DO UPDATE
        SET n_reported = h.n_reported + EXCLUDED.n_reported, n_closed = h.n_closed + EXCLUDED.n_closed,
            n_closed_on_time = h.n_closed_on_time + EXCLUDED.n_closed_on_time;
    WITH ch AS (SELECT -1 AS s, o.* FROM old_rows o)
    INSERT INTO incident_day_counts AS h (area_code, source, day, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, b.t, SUM(b.rep), SUM(b.clo), SUM(b.ont)
    FROM ch
    CROSS JOIN LATERAL (VALUES ('*'::text, ''::text), (ch.district_code, ''), (ch.street_code, ''), ('*', ch.source),
                               (ch.district_code, ch.source)) a (code, src)
    CROSS JOIN LATERAL (
        SELECT date_trunc('day', ch.reported_at), ch.s, 0, 0 WHERE ch.reported_at IS NOT NULL
        UNION ALL
        SELECT date_trunc('day', ch.closed_at), 0, ch.s,
               CASE WHEN ch.due_at IS NULL OR COALESCE(ch.resolved_at, ch.closed_at) <= ch.due_at THEN ch.s ELSE 0 END
        WHERE ch.closed_at IS NOT NULL
    ) b (t, rep, clo, ont)
    WHERE a.code IS NOT NULL
    GROUP BY a.code, a.src, b.t
    HAVING SUM(b.rep) <> 0 OR SUM(b.clo) <> 0 OR SUM(b.ont) <> 0
    ORDER BY a.code, a.src, b.t
    ON CONFLICT (area_code, source, day) DO UPDATE
        SET n_reported = h.n_reported + EXCLUDED.n_reported, n_closed = h.n_closed + EXCLUDED.n_closed,
            n_closed_on_time = h.n_closed_on_time + EXCLUDED.n_closed_on_time;
    RETURN NULL;
END
$$
-- @@
CREATE TRIGGER trg_incident_rollups_delete AFTER DELETE ON incidents
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION citywall_incident_rollups_delete()
-- @@
-- TRUNCATE fires no row trigger: it empties the roll-ups too.
CREATE OR REPLACE FUNCTION citywall_incident_rollups_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM incident_open_counts;
    DELETE FROM incident_open_cells;
    DELETE FROM incident_hour_counts;
    DELETE FROM incident_day_counts;
    RETURN NULL;
END
$$
-- @@
CREATE TRIGGER trg_incident_rollups_truncate AFTER TRUNCATE ON incidents
    FOR EACH STATEMENT EXECUTE FUNCTION citywall_incident_rollups_truncate()
