-- The newest reading of every indicator x area, its threshold status, and the value at the
-- same time yesterday (the newest reading in the hour up to ts - 24 h).
CREATE VIEW v_vitals_latest AS
SELECT l.indicator_id, l.area_code, l.ts, l.value,
       CASE
           WHEN l.value IS NULL THEN NULL
           WHEN (i.alarm_low IS NOT NULL AND l.value < i.alarm_low)
             OR (i.alarm_high IS NOT NULL AND l.value > i.alarm_high) THEN 'alarm'
           WHEN (i.warn_low IS NOT NULL AND l.value < i.warn_low)
             OR (i.warn_high IS NOT NULL AND l.value > i.warn_high) THEN 'warn'
           ELSE 'normal'
       END AS status,
       (SELECT r.value FROM readings r
         WHERE r.indicator_id = l.indicator_id AND r.area_code = l.area_code
           AND r.ts <= {{SHIFT:l.ts:-86400}} AND r.ts > {{SHIFT:l.ts:-90000}}
         ORDER BY r.ts DESC LIMIT 1) AS prev_day_value
FROM readings_latest l
JOIN indicators i ON i.indicator_id = l.indicator_id
