-- Minute averages of every indicator x area over the last 24 hours.
CREATE VIEW v_vitals_recent AS
SELECT r.indicator_id, r.area_code, {{MINUTE:r.ts}} AS minute, AVG(r.value) AS value
FROM readings r
WHERE r.ts >= {{SHIFT:{{NOW_UTC}}:-86400}}
GROUP BY r.indicator_id, r.area_code, {{MINUTE:r.ts}}
