-- Keeps the incident count roll-ups (incident_open_counts, incident_open_cells,
-- incident_hour_counts, incident_day_counts; data_access/schema.py) current on every insert,
-- update and delete of an incident, whoever writes it (the feeder, the importers): each change
-- takes the old row's contribution out and puts the new row's in (an update: only the parts whose
-- columns changed). SQLite dialect; the three triggers are the same statements for OLD (-1) and NEW
-- (+1): keep them alike. An incident due before the watermark (rollup_watermarks 'incidents') is
-- counted overdue here; data_access/incident_rollups.py moves the watermark on and adds the open
-- incidents that fell due meanwhile.
DROP TRIGGER IF EXISTS trg_incident_rollups_insert
-- @@
CREATE TRIGGER trg_incident_rollups_insert AFTER INSERT ON incidents
BEGIN
    INSERT INTO incident_open_counts (district_code, street_code, category, source, priority, n_open, n_overdue)
    SELECT COALESCE(NEW.district_code, ''), COALESCE(NEW.street_code, ''), NEW.category, NEW.source, NEW.priority,
           1, CASE WHEN NEW.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') THEN 1 ELSE 0 END
    WHERE NEW.closed_at IS NULL
    ON CONFLICT (district_code, street_code, category, source, priority) DO UPDATE
        SET n_open = n_open + excluded.n_open, n_overdue = n_overdue + excluded.n_overdue;
    INSERT INTO incident_open_cells (cell_id, priority, n_open, n_overdue)
    SELECT NEW.cell_id, NEW.priority, 1, CASE WHEN NEW.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') THEN 1 ELSE 0 END
    WHERE NEW.closed_at IS NULL AND NEW.cell_id IS NOT NULL
    ON CONFLICT (cell_id, priority) DO UPDATE
        SET n_open = n_open + excluded.n_open, n_overdue = n_overdue + excluded.n_overdue;
    INSERT INTO incident_hour_counts (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d %H:00:00', NEW.reported_at), 1, 0, 0
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT NEW.district_code, '' UNION ALL SELECT NEW.street_code, ''
          UNION ALL SELECT '*', NEW.source UNION ALL SELECT NEW.district_code, NEW.source) a
    WHERE a.code IS NOT NULL AND NEW.reported_at IS NOT NULL
    ON CONFLICT (area_code, source, hour) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_day_counts (area_code, source, day, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d 00:00:00', NEW.reported_at), 1, 0, 0
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT NEW.district_code, '' UNION ALL SELECT NEW.street_code, ''
          UNION ALL SELECT '*', NEW.source UNION ALL SELECT NEW.district_code, NEW.source) a
    WHERE a.code IS NOT NULL AND NEW.reported_at IS NOT NULL
    ON CONFLICT (area_code, source, day) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_hour_counts (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d %H:00:00', NEW.closed_at), 0, 1, CASE WHEN NEW.due_at IS NULL OR COALESCE(NEW.resolved_at, NEW.closed_at) <= NEW.due_at THEN 1 ELSE 0 END
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT NEW.district_code, '' UNION ALL SELECT NEW.street_code, ''
          UNION ALL SELECT '*', NEW.source UNION ALL SELECT NEW.district_code, NEW.source) a
    WHERE a.code IS NOT NULL AND NEW.closed_at IS NOT NULL
    ON CONFLICT (area_code, source, hour) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_day_counts (area_code, source, day, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d 00:00:00', NEW.closed_at), 0, 1, CASE WHEN NEW.due_at IS NULL OR COALESCE(NEW.resolved_at, NEW.closed_at) <= NEW.due_at THEN 1 ELSE 0 END
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT NEW.district_code, '' UNION ALL SELECT NEW.street_code, ''
          UNION ALL SELECT '*', NEW.source UNION ALL SELECT NEW.district_code, NEW.source) a
    WHERE a.code IS NOT NULL AND NEW.closed_at IS NOT NULL
    ON CONFLICT (area_code, source, day) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
END
-- @@
DROP TRIGGER IF EXISTS trg_incident_rollups_delete
-- @@
CREATE TRIGGER trg_incident_rollups_delete AFTER DELETE ON incidents
BEGIN
    INSERT INTO incident_open_counts (district_code, street_code, category, source, priority, n_open, n_overdue)
    SELECT COALESCE(OLD.district_code, ''), COALESCE(OLD.street_code, ''), OLD.category, OLD.source, OLD.priority,
           -1, CASE WHEN OLD.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') THEN -1 ELSE 0 END
    WHERE OLD.closed_at IS NULL
    ON CONFLICT (district_code, street_code, category, source, priority) DO UPDATE
        SET n_open = n_open + excluded.n_open, n_overdue = n_overdue + excluded.n_overdue;
    INSERT INTO incident_open_cells (cell_id, priority, n_open, n_overdue)
    SELECT OLD.cell_id, OLD.priority, -1, CASE WHEN OLD.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') THEN -1 ELSE 0 END
    WHERE OLD.closed_at IS NULL AND OLD.cell_id IS NOT NULL
    ON CONFLICT (cell_id, priority) DO UPDATE
        SET n_open = n_open + excluded.n_open, n_overdue = n_overdue + excluded.n_overdue;
    INSERT INTO incident_hour_counts (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d %H:00:00', OLD.reported_at), -1, 0, 0
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT OLD.district_code, '' UNION ALL SELECT OLD.street_code, ''
          UNION ALL SELECT '*', OLD.source UNION ALL SELECT OLD.district_code, OLD.source) a
    WHERE a.code IS NOT NULL AND OLD.reported_at IS NOT NULL
    ON CONFLICT (area_code, source, hour) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_day_counts (area_code, source, day, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d 00:00:00', OLD.reported_at), -1, 0, 0
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT OLD.district_code, '' UNION ALL SELECT OLD.street_code, ''
          UNION ALL SELECT '*', OLD.source UNION ALL SELECT OLD.district_code, OLD.source) a
    WHERE a.code IS NOT NULL AND OLD.reported_at IS NOT NULL
    ON CONFLICT (area_code, source, day) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_hour_counts (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d %H:00:00', OLD.closed_at), 0, -1, CASE WHEN OLD.due_at IS NULL OR COALESCE(OLD.resolved_at, OLD.closed_at) <= OLD.due_at THEN -1 ELSE 0 END
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT OLD.district_code, '' UNION ALL SELECT OLD.street_code, ''
          UNION ALL SELECT '*', OLD.source UNION ALL SELECT OLD.district_code, OLD.source) a
    WHERE a.code IS NOT NULL AND OLD.closed_at IS NOT NULL
    ON CONFLICT (area_code, source, hour) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_day_counts (area_code, source, day, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d 00:00:00', OLD.closed_at), 0, -1, CASE WHEN OLD.due_at IS NULL OR COALESCE(OLD.resolved_at, OLD.closed_at) <= OLD.due_at THEN -1 ELSE 0 END
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT OLD.district_code, '' UNION ALL SELECT OLD.street_code, ''
          UNION ALL SELECT '*', OLD.source UNION ALL SELECT OLD.district_code, OLD.source) a
    WHERE a.code IS NOT NULL AND OLD.closed_at IS NOT NULL
    ON CONFLICT (area_code, source, day) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
END
-- @@
DROP TRIGGER IF EXISTS trg_incident_rollups_update
-- @@
CREATE TRIGGER trg_incident_rollups_update AFTER UPDATE OF closed_at, due_at, resolved_at, reported_at, district_code, street_code, cell_id, category, source, priority ON incidents
WHEN OLD.closed_at IS NOT NEW.closed_at
     OR OLD.due_at IS NOT NEW.due_at
     OR OLD.resolved_at IS NOT NEW.resolved_at
     OR OLD.reported_at IS NOT NEW.reported_at
     OR OLD.district_code IS NOT NEW.district_code
     OR OLD.street_code IS NOT NEW.street_code
     OR OLD.cell_id IS NOT NEW.cell_id
     OR OLD.category IS NOT NEW.category
     OR OLD.source IS NOT NEW.source
     OR OLD.priority IS NOT NEW.priority
BEGIN
    INSERT INTO incident_open_counts (district_code, street_code, category, source, priority, n_open, n_overdue)
    SELECT COALESCE(OLD.district_code, ''), COALESCE(OLD.street_code, ''), OLD.category, OLD.source, OLD.priority,
           -1, CASE WHEN OLD.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') THEN -1 ELSE 0 END
    WHERE OLD.closed_at IS NULL AND (OLD.closed_at IS NOT NEW.closed_at OR OLD.due_at IS NOT NEW.due_at OR OLD.district_code IS NOT NEW.district_code OR OLD.street_code IS NOT NEW.street_code OR OLD.cell_id IS NOT NEW.cell_id OR OLD.category IS NOT NEW.category OR OLD.source IS NOT NEW.source OR OLD.priority IS NOT NEW.priority)
    ON CONFLICT (district_code, street_code, category, source, priority) DO UPDATE
        SET n_open = n_open + excluded.n_open, n_overdue = n_overdue + excluded.n_overdue;
    INSERT INTO incident_open_cells (cell_id, priority, n_open, n_overdue)
    SELECT OLD.cell_id, OLD.priority, -1, CASE WHEN OLD.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') THEN -1 ELSE 0 END
    WHERE OLD.closed_at IS NULL AND OLD.cell_id IS NOT NULL AND (OLD.closed_at IS NOT NEW.closed_at OR OLD.due_at IS NOT NEW.due_at OR OLD.district_code IS NOT NEW.district_code OR OLD.street_code IS NOT NEW.street_code OR OLD.cell_id IS NOT NEW.cell_id OR OLD.category IS NOT NEW.category OR OLD.source IS NOT NEW.source OR OLD.priority IS NOT NEW.priority)
    ON CONFLICT (cell_id, priority) DO UPDATE
        SET n_open = n_open + excluded.n_open, n_overdue = n_overdue + excluded.n_overdue;
    INSERT INTO incident_hour_counts (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d %H:00:00', OLD.reported_at), -1, 0, 0
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT OLD.district_code, '' UNION ALL SELECT OLD.street_code, ''
          UNION ALL SELECT '*', OLD.source UNION ALL SELECT OLD.district_code, OLD.source) a
    WHERE a.code IS NOT NULL AND OLD.reported_at IS NOT NULL AND (OLD.reported_at IS NOT NEW.reported_at OR OLD.district_code IS NOT NEW.district_code OR OLD.street_code IS NOT NEW.street_code OR OLD.source IS NOT NEW.source)
    ON CONFLICT (area_code, source, hour) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_day_counts (area_code, source, day, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d 00:00:00', OLD.reported_at), -1, 0, 0
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT OLD.district_code, '' UNION ALL SELECT OLD.street_code, ''
          UNION ALL SELECT '*', OLD.source UNION ALL SELECT OLD.district_code, OLD.source) a
    WHERE a.code IS NOT NULL AND OLD.reported_at IS NOT NULL AND (OLD.reported_at IS NOT NEW.reported_at OR OLD.district_code IS NOT NEW.district_code OR OLD.street_code IS NOT NEW.street_code OR OLD.source IS NOT NEW.source)
    ON CONFLICT (area_code, source, day) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_hour_counts (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d %H:00:00', OLD.closed_at), 0, -1, CASE WHEN OLD.due_at IS NULL OR COALESCE(OLD.resolved_at, OLD.closed_at) <= OLD.due_at THEN -1 ELSE 0 END
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT OLD.district_code, '' UNION ALL SELECT OLD.street_code, ''
          UNION ALL SELECT '*', OLD.source UNION ALL SELECT OLD.district_code, OLD.source) a
    WHERE a.code IS NOT NULL AND OLD.closed_at IS NOT NULL AND (OLD.closed_at IS NOT NEW.closed_at OR OLD.resolved_at IS NOT NEW.resolved_at OR OLD.due_at IS NOT NEW.due_at OR OLD.district_code IS NOT NEW.district_code OR OLD.street_code IS NOT NEW.street_code OR OLD.source IS NOT NEW.source)
    ON CONFLICT (area_code, source, hour) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_day_counts (area_code, source, day, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d 00:00:00', OLD.closed_at), 0, -1, CASE WHEN OLD.due_at IS NULL OR COALESCE(OLD.resolved_at, OLD.closed_at) <= OLD.due_at THEN -1 ELSE 0 END
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT OLD.district_code, '' UNION ALL SELECT OLD.street_code, ''
          UNION ALL SELECT '*', OLD.source UNION ALL SELECT OLD.district_code, OLD.source) a
    WHERE a.code IS NOT NULL AND OLD.closed_at IS NOT NULL AND (OLD.closed_at IS NOT NEW.closed_at OR OLD.resolved_at IS NOT NEW.resolved_at OR OLD.due_at IS NOT NEW.due_at OR OLD.district_code IS NOT NEW.district_code OR OLD.street_code IS NOT NEW.street_code OR OLD.source IS NOT NEW.source)
    ON CONFLICT (area_code, source, day) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_open_counts (district_code, street_code, category, source, priority, n_open, n_overdue)
    SELECT COALESCE(NEW.district_code, ''), COALESCE(NEW.street_code, ''), NEW.category, NEW.source, NEW.priority,
           1, CASE WHEN NEW.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') THEN 1 ELSE 0 END
    WHERE NEW.closed_at IS NULL AND (OLD.closed_at IS NOT NEW.closed_at OR OLD.due_at IS NOT NEW.due_at OR OLD.district_code IS NOT NEW.district_code OR OLD.street_code IS NOT NEW.street_code OR OLD.cell_id IS NOT NEW.cell_id OR OLD.category IS NOT NEW.category OR OLD.source IS NOT NEW.source OR OLD.priority IS NOT NEW.priority)
    ON CONFLICT (district_code, street_code, category, source, priority) DO UPDATE
        SET n_open = n_open + excluded.n_open, n_overdue = n_overdue + excluded.n_overdue;
    INSERT INTO incident_open_cells (cell_id, priority, n_open, n_overdue)
    SELECT NEW.cell_id, NEW.priority, 1, CASE WHEN NEW.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') THEN 1 ELSE 0 END
    WHERE NEW.closed_at IS NULL AND NEW.cell_id IS NOT NULL AND (OLD.closed_at IS NOT NEW.closed_at OR OLD.due_at IS NOT NEW.due_at OR OLD.district_code IS NOT NEW.district_code OR OLD.street_code IS NOT NEW.street_code OR OLD.cell_id IS NOT NEW.cell_id OR OLD.category IS NOT NEW.category OR OLD.source IS NOT NEW.source OR OLD.priority IS NOT NEW.priority)
    ON CONFLICT (cell_id, priority) DO UPDATE
        SET n_open = n_open + excluded.n_open, n_overdue = n_overdue + excluded.n_overdue;
    INSERT INTO incident_hour_counts (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d %H:00:00', NEW.reported_at), 1, 0, 0
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT NEW.district_code, '' UNION ALL SELECT NEW.street_code, ''
          UNION ALL SELECT '*', NEW.source UNION ALL SELECT NEW.district_code, NEW.source) a
    WHERE a.code IS NOT NULL AND NEW.reported_at IS NOT NULL AND (OLD.reported_at IS NOT NEW.reported_at OR OLD.district_code IS NOT NEW.district_code OR OLD.street_code IS NOT NEW.street_code OR OLD.source IS NOT NEW.source)
    ON CONFLICT (area_code, source, hour) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_day_counts (area_code, source, day, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d 00:00:00', NEW.reported_at), 1, 0, 0
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT NEW.district_code, '' UNION ALL SELECT NEW.street_code, ''
          UNION ALL SELECT '*', NEW.source UNION ALL SELECT NEW.district_code, NEW.source) a
    WHERE a.code IS NOT NULL AND NEW.reported_at IS NOT NULL AND (OLD.reported_at IS NOT NEW.reported_at OR OLD.district_code IS NOT NEW.district_code OR OLD.street_code IS NOT NEW.street_code OR OLD.source IS NOT NEW.source)
    ON CONFLICT (area_code, source, day) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_hour_counts (area_code, source, hour, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d %H:00:00', NEW.closed_at), 0, 1, CASE WHEN NEW.due_at IS NULL OR COALESCE(NEW.resolved_at, NEW.closed_at) <= NEW.due_at THEN 1 ELSE 0 END
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT NEW.district_code, '' UNION ALL SELECT NEW.street_code, ''
          UNION ALL SELECT '*', NEW.source UNION ALL SELECT NEW.district_code, NEW.source) a
    WHERE a.code IS NOT NULL AND NEW.closed_at IS NOT NULL AND (OLD.closed_at IS NOT NEW.closed_at OR OLD.resolved_at IS NOT NEW.resolved_at OR OLD.due_at IS NOT NEW.due_at OR OLD.district_code IS NOT NEW.district_code OR OLD.street_code IS NOT NEW.street_code OR OLD.source IS NOT NEW.source)
    ON CONFLICT (area_code, source, hour) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
    INSERT INTO incident_day_counts (area_code, source, day, n_reported, n_closed, n_closed_on_time)
    SELECT a.code, a.src, strftime('%Y-%m-%d 00:00:00', NEW.closed_at), 0, 1, CASE WHEN NEW.due_at IS NULL OR COALESCE(NEW.resolved_at, NEW.closed_at) <= NEW.due_at THEN 1 ELSE 0 END
    FROM (SELECT '*' AS code, '' AS src UNION ALL SELECT NEW.district_code, '' UNION ALL SELECT NEW.street_code, ''
          UNION ALL SELECT '*', NEW.source UNION ALL SELECT NEW.district_code, NEW.source) a
    WHERE a.code IS NOT NULL AND NEW.closed_at IS NOT NULL AND (OLD.closed_at IS NOT NEW.closed_at OR OLD.resolved_at IS NOT NEW.resolved_at OR OLD.due_at IS NOT NEW.due_at OR OLD.district_code IS NOT NEW.district_code OR OLD.street_code IS NOT NEW.street_code OR OLD.source IS NOT NEW.source)
    ON CONFLICT (area_code, source, day) DO UPDATE SET n_reported = n_reported + excluded.n_reported,
        n_closed = n_closed + excluded.n_closed, n_closed_on_time = n_closed_on_time + excluded.n_closed_on_time;
END
