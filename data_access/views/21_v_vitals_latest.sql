-- The newest reading of every indicator x area, its threshold status, and the value at the
-- same time yesterday (the newest reading in the hour up to ts - 24 h). Thresholds are the
-- area's own (indicator_thresholds) where it has them, else the catalogue's.
CREATE VIEW v_vitals_latest AS
SELECT b.indicator_id, b.area_code, b.ts, b.value,
       CASE
           WHEN b.value IS NULL THEN NULL
           WHEN (b.alarm_low IS NOT NULL AND b.value < b.alarm_low)
             OR (b.alarm_high IS NOT NULL AND b.value > b.alarm_high) THEN 'alarm'
           WHEN (b.warn_low IS NOT NULL AND b.value < b.warn_low)
             OR (b.warn_high IS NOT NULL AND b.value > b.warn_high) THEN 'warn'
           ELSE 'normal'
       END AS status,
       (SELECT r.value FROM readings r
         WHERE r.indicator_id = b.indicator_id AND r.area_code = b.area_code
           AND r.ts <= {{SHIFT:b.ts:-86400}} AND r.ts > {{SHIFT:b.ts:-90000}}
         ORDER BY r.ts DESC LIMIT 1) AS prev_day_value,
       b.warn_low, b.warn_high, b.alarm_low, b.alarm_high
FROM (
    SELECT l.indicator_id, l.area_code, l.ts, l.value,
           COALESCE(t.warn_low, i.warn_low) AS warn_low, COALESCE(t.warn_high, i.warn_high) AS warn_high,
           COALESCE(t.alarm_low, i.alarm_low) AS alarm_low, COALESCE(t.alarm_high, i.alarm_high) AS alarm_high
    FROM readings_latest l
    JOIN indicators i ON i.indicator_id = l.indicator_id
    LEFT JOIN indicator_thresholds t ON t.indicator_id = l.indicator_id AND t.area_code = l.area_code
) b
