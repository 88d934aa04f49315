-- One row per management grid cell; district_code comes from the cell's street.
CREATE VIEW v_grid_cells AS
SELECT g.cell_id, g.street_code, s.parent_code AS district_code, g.geojson,
       g.center_lat, g.center_lon, g.name, g.name_en
FROM grid_cells g
JOIN areas s ON s.area_code = g.street_code
