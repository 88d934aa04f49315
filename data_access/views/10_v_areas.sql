-- One row per area: the city, its districts, their streets.
CREATE VIEW v_areas AS
SELECT a.area_code, a.level, a.parent_code, a.name, a.name_en, a.geojson,
       a.center_lat, a.center_lon, a.sort_order, a.approximate,
       a.boundary_source, a.fit_west, a.fit_south, a.fit_east, a.fit_north
FROM areas a
