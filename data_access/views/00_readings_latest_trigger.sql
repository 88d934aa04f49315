-- Keeps readings_latest current on every insert into readings, so v_vitals_latest reads
-- one row per series instead of scanning the history. SQLite dialect.
CREATE TRIGGER IF NOT EXISTS trg_readings_latest AFTER INSERT ON readings
BEGIN
    INSERT INTO readings_latest (indicator_id, area_code, ts, value)
    VALUES (NEW.indicator_id, NEW.area_code, NEW.ts, NEW.value)
    ON CONFLICT (indicator_id, area_code) DO UPDATE
        SET ts = excluded.ts, value = excluded.value
        WHERE excluded.ts >= readings_latest.ts;
END
