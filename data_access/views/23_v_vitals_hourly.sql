-- Hourly averages of every indicator x area over the last 8 days (the explorer's 7-day chart).
CREATE VIEW v_vitals_hourly AS
SELECT r.indicator_id, r.area_code, {{HOUR:r.ts}} AS hour, AVG(r.value) AS value
FROM readings r
WHERE r.ts >= {{SHIFT:{{NOW_UTC}}:-691200}}
GROUP BY r.indicator_id, r.area_code, {{HOUR:r.ts}}
