-- Hourly averages of every indicator x area over the last 8 days (the explorer's 7-day chart).
-- Finished hours come from the roll-up readings_hourly; hours from its watermark on (the running
-- hour and the one the roll-up is still waiting on) are averaged from raw readings here. Without a
-- watermark every hour comes from raw readings.
CREATE VIEW v_vitals_hourly AS
SELECT h.indicator_id, h.area_code, h.hour, h.value
FROM readings_hourly h
WHERE h.hour >= {{SHIFT:{{NOW_UTC}}:-691200}}
  AND h.hour < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'hour')
UNION ALL
SELECT r.indicator_id, r.area_code, {{HOUR:r.ts}} AS hour, AVG(r.value) AS value
FROM readings r
WHERE r.ts >= {{SHIFT:{{NOW_UTC}}:-691200}}
  AND r.ts >= COALESCE((SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'hour'),
                       {{SHIFT:{{NOW_UTC}}:-691200}})
GROUP BY r.indicator_id, r.area_code, {{HOUR:r.ts}}
