-- One row per grid cell, every cell (zeros where nothing happened): the street page's ranking of
-- its cells. Same definitions as v_incident_counts (open = not closed; "today" = the city's local
-- day), counted per cell from three index range scans. The street is a grouping column (an incident's
-- cell lies in its street), so a read of one street (WHERE street_code = ...) can stay in that street.
CREATE VIEW v_cell_counts AS
WITH events AS (
    SELECT o.cell_id, o.street_code, 1 AS is_open, o.overdue AS is_overdue, 0 AS is_reported_today,
           0 AS is_closed_today
    FROM v_open_incidents o WHERE o.cell_id IS NOT NULL
    UNION ALL
    SELECT i.cell_id, i.street_code, 0, 0, 1, 0
    FROM incidents i WHERE i.reported_at >= {{DAY_START_UTC}} AND i.cell_id IS NOT NULL
    UNION ALL
    SELECT i.cell_id, i.street_code, 0, 0, 0, 1
    FROM incidents i WHERE i.closed_at >= {{DAY_START_UTC}} AND i.cell_id IS NOT NULL
),
c AS (
    SELECT cell_id, street_code, SUM(is_open) AS n_open, SUM(is_overdue) AS n_overdue,
           SUM(is_reported_today) AS n_rep, SUM(is_closed_today) AS n_closed
    FROM events GROUP BY cell_id, street_code
)
SELECT g.cell_id, g.street_code, g.district_code, g.name, g.name_en,
       COALESCE(c.n_open, 0) AS open, COALESCE(c.n_overdue, 0) AS overdue,
       COALESCE(c.n_rep, 0) AS reported_today, COALESCE(c.n_closed, 0) AS closed_today
FROM v_grid_cells g
LEFT JOIN c ON c.cell_id = g.cell_id AND c.street_code = g.street_code
