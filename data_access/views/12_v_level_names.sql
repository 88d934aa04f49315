-- One row per level (city, district, street, cell = the grid): what the city calls it, singular
-- and plural, in the local language and in English; CityWall's words where the city set none.
CREATE VIEW v_level_names AS
WITH defaults AS (
    SELECT 'city' AS level, 1 AS level_order, '市' AS name, '市' AS name_plural, 'city' AS name_en,
           'cities' AS name_en_plural
    UNION ALL SELECT 'district', 2, '区', '区', 'district', 'districts'
    UNION ALL SELECT 'street', 3, '街道', '街道', 'street', 'streets'
    UNION ALL SELECT 'cell', 4, '网格', '网格', 'grid cell', 'grid cells'
)
SELECT d.level, d.level_order,
       COALESCE(n.name, d.name) AS name, COALESCE(n.name_plural, d.name_plural) AS name_plural,
       COALESCE(n.name_en, d.name_en) AS name_en, COALESCE(n.name_en_plural, d.name_en_plural) AS name_en_plural
FROM defaults d
LEFT JOIN level_names n ON n.level = d.level
