-- Minute averages of every indicator x area over the last 24 hours, with the status that
-- average has against the series' thresholds (the same rule as v_vitals_latest).
-- Finished minutes come from the roll-up readings_minute (kept by the feeder, feeder/rollups.py);
-- minutes from the roll-up's watermark on (the running minute, and any not rolled yet) are
-- averaged from raw readings here, so the newest minutes never wait for the roll-up. Without a
-- watermark (nothing rolled) every minute comes from raw readings.
CREATE VIEW v_vitals_recent AS
SELECT g.indicator_id, g.area_code, g.minute, g.value,
       CASE
           WHEN g.value IS NULL THEN NULL
           WHEN (COALESCE(t.alarm_low, i.alarm_low) IS NOT NULL AND g.value < COALESCE(t.alarm_low, i.alarm_low))
             OR (COALESCE(t.alarm_high, i.alarm_high) IS NOT NULL AND g.value > COALESCE(t.alarm_high, i.alarm_high))
                THEN 'alarm'
           WHEN (COALESCE(t.warn_low, i.warn_low) IS NOT NULL AND g.value < COALESCE(t.warn_low, i.warn_low))
             OR (COALESCE(t.warn_high, i.warn_high) IS NOT NULL AND g.value > COALESCE(t.warn_high, i.warn_high))
                THEN 'warn'
           ELSE 'normal'
       END AS status
FROM (
    SELECT m.indicator_id, m.area_code, m.minute, m.value
    FROM readings_minute m
    WHERE m.minute >= {{SHIFT:{{NOW_UTC}}:-86400}}
      AND m.minute < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'minute')
    UNION ALL
    SELECT r.indicator_id, r.area_code, {{MINUTE:r.ts}} AS minute, AVG(r.value) AS value
    FROM readings r
    WHERE r.ts >= {{SHIFT:{{NOW_UTC}}:-86400}}
      AND r.ts >= COALESCE((SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'minute'),
                           {{SHIFT:{{NOW_UTC}}:-86400}})
    GROUP BY r.indicator_id, r.area_code, {{MINUTE:r.ts}}
) g
JOIN indicators i ON i.indicator_id = g.indicator_id
LEFT JOIN indicator_thresholds t ON t.indicator_id = g.indicator_id AND t.area_code = g.area_code
