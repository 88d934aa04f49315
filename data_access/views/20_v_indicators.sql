-- One row per indicator of the catalogue.
CREATE VIEW v_indicators AS
SELECT i.indicator_id, i.dimension, i.name, i.name_en, i.unit, i.level, i.period_s,
       i.warn_low, i.warn_high, i.alarm_low, i.alarm_high, i.higher_is_better, i.on_wall,
       i.sort_order, i.decimals, i.wall_name, i.wall_name_en, i.unit_en
FROM indicators i
