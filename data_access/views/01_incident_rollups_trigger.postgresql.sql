-- Keeps the incident count roll-ups (incident_open_counts, incident_open_cells,
-- incident_hour_counts; data_access/schema.py) current on every insert, update and delete of an
-- incident, whoever writes it (the feeder, the importers): each change takes the old row's
-- contribution out and puts the new row's in (PostgreSQL dialect; the same rules as
-- 01_incident_rollups_trigger.sql). An incident due before the watermark (rollup_watermarks
-- 'incidents') is counted overdue; the watermark row is read FOR SHARE, so the feeder's step that
-- moves it (data_access/incident_rollups.py, FOR UPDATE) and a write never miss each other's rows.
CREATE OR REPLACE FUNCTION citywall_incident_rollup_apply(
    s integer, w timestamp, p_district text, p_street text, p_cell text, p_category text, p_source text,
    p_priority integer, p_reported timestamp, p_closed timestamp, p_due timestamp, p_resolved timestamp
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    od integer := CASE WHEN p_due < w THEN s ELSE 0 END;
BEGIN
    IF p_closed IS NULL THEN
        INSERT INTO incident_open_counts AS c (district_code, street_code, category, source, priority, n_open, n_overdue)
        VALUES (COALESCE(p_district, ''), COALESCE(p_street, ''), p_category, p_source, p_priority, s, od)
        ON CONFLICT (district_code, street_code, category, source, priority) DO UPDATE
            SET n_open = c.n_open + EXCLUDED.n_open, n_overdue = c.n_overdue + EXCLUDED.n_overdue;
        IF p_cell IS NOT NULL THEN
            INSERT INTO incident_open_cells AS c (cell_id, priority, n_open, n_overdue)
            VALUES (p_cell, p_priority, s, od)
            ON CONFLICT (cell_id, priority) DO UPDATE
                SET n_open = c.n_open + EXCLUDED.n_open, n_overdue = c.n_overdue + EXCLUDED.n_overdue;
        END IF;
    END IF;
    INSERT INTO incident_hour_counts AS h (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, b.hour, SUM(b.rep), SUM(b.clo), SUM(b.ont)
    FROM (VALUES ('*'::text, ''::text), (p_district, ''), (p_street, ''), ('*', p_source), (p_district, p_source)) a (code, src)
    CROSS JOIN (
        SELECT date_trunc('hour', p_reported) AS hour, s AS rep, 0 AS clo, 0 AS ont WHERE p_reported IS NOT NULL
        UNION ALL
        SELECT date_trunc('hour', p_closed), 0, s,
               CASE WHEN p_due IS NULL OR COALESCE(p_resolved, p_closed) <= p_due THEN s ELSE 0 END
        WHERE p_closed IS NOT NULL
    ) b
    WHERE a.code IS NOT NULL
    GROUP BY a.code, a.src, b.hour
    ON CONFLICT (area_code, source, hour) DO UPDATE
        SET n_reported = h.n_reported + EXCLUDED.n_reported, n_closed = h.n_closed + EXCLUDED.n_closed,
            n_closed_on_time = h.n_closed_on_time + EXCLUDED.n_closed_on_time;
END
$$
-- @@
CREATE OR REPLACE FUNCTION citywall_incident_rollups() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    w timestamp;
BEGIN
    SELECT rolled_until INTO w FROM rollup_watermarks WHERE rollup = 'incidents' FOR SHARE;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM citywall_incident_rollup_apply(-1, w, OLD.district_code, OLD.street_code, OLD.cell_id, OLD.category,
            OLD.source, OLD.priority, OLD.reported_at, OLD.closed_at, OLD.due_at, OLD.resolved_at);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM citywall_incident_rollup_apply(1, w, NEW.district_code, NEW.street_code, NEW.cell_id, NEW.category,
            NEW.source, NEW.priority, NEW.reported_at, NEW.closed_at, NEW.due_at, NEW.resolved_at);
    END IF;
    RETURN NULL;
END
$$
-- @@
-- TRUNCATE fires no row trigger: it empties the roll-ups too.
CREATE OR REPLACE FUNCTION citywall_incident_rollups_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM incident_open_counts;
    DELETE FROM incident_open_cells;
    DELETE FROM incident_hour_counts;
    RETURN NULL;
END
$$
-- @@
DROP TRIGGER IF EXISTS trg_incident_rollups ON incidents
-- @@
DROP TRIGGER IF EXISTS trg_incident_rollups_update ON incidents
-- @@
DROP TRIGGER IF EXISTS trg_incident_rollups_truncate ON incidents
-- @@
CREATE TRIGGER trg_incident_rollups AFTER INSERT OR DELETE ON incidents
    FOR EACH ROW EXECUTE FUNCTION citywall_incident_rollups()
-- @@
CREATE TRIGGER trg_incident_rollups_update
    AFTER UPDATE OF closed_at, due_at, resolved_at, reported_at, district_code, street_code, cell_id, category,
                    source, priority ON incidents
    FOR EACH ROW
    WHEN (OLD.closed_at IS DISTINCT FROM NEW.closed_at OR OLD.due_at IS DISTINCT FROM NEW.due_at
          OR OLD.resolved_at IS DISTINCT FROM NEW.resolved_at OR OLD.reported_at IS DISTINCT FROM NEW.reported_at
          OR OLD.district_code IS DISTINCT FROM NEW.district_code OR OLD.street_code IS DISTINCT FROM NEW.street_code
          OR OLD.cell_id IS DISTINCT FROM NEW.cell_id OR OLD.category IS DISTINCT FROM NEW.category
          OR OLD.source IS DISTINCT FROM NEW.source OR OLD.priority IS DISTINCT FROM NEW.priority)
    EXECUTE FUNCTION citywall_incident_rollups()
-- @@
CREATE TRIGGER trg_incident_rollups_truncate AFTER TRUNCATE ON incidents
    FOR EACH STATEMENT EXECUTE FUNCTION citywall_incident_rollups_truncate()
