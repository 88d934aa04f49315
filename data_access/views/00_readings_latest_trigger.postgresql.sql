-- Keeps readings_latest current on every insert into readings (PostgreSQL dialect).
CREATE OR REPLACE FUNCTION citywall_readings_latest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO readings_latest (indicator_id, area_code, ts, value)
    VALUES (NEW.indicator_id, NEW.area_code, NEW.ts, NEW.value)
    ON CONFLICT (indicator_id, area_code) DO UPDATE
        SET ts = EXCLUDED.ts, value = EXCLUDED.value
        WHERE EXCLUDED.ts >= readings_latest.ts;
    RETURN NULL;
END
$$
-- @@
DROP TRIGGER IF EXISTS trg_readings_latest ON readings
-- @@
CREATE TRIGGER trg_readings_latest AFTER INSERT ON readings
    FOR EACH ROW EXECUTE FUNCTION citywall_readings_latest()
