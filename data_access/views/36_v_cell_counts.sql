-- One row per grid cell, every cell (zeros where nothing happened): the street page's ranking of
-- its cells. Same definitions as v_incident_counts (open = not closed; "today" = the city's local
-- day). Open and overdue are counted per cell on the open-incident index, so a read of one street
-- (WHERE street_code = ...) touches only that street's open incidents; today's reports and closures
-- come from the two time indexes (a day's worth of rows).
CREATE VIEW v_cell_counts AS
WITH today AS (
    SELECT i.cell_id, 1 AS is_reported_today, 0 AS is_closed_today
    FROM incidents i WHERE i.reported_at >= {{DAY_START_UTC}} AND i.cell_id IS NOT NULL
    UNION ALL
    SELECT i.cell_id, 0, 1
    FROM incidents i WHERE i.closed_at >= {{DAY_START_UTC}} AND i.cell_id IS NOT NULL
),
t AS (
    SELECT cell_id, SUM(is_reported_today) AS n_rep, SUM(is_closed_today) AS n_closed
    FROM today GROUP BY cell_id
)
SELECT g.cell_id, g.street_code, g.district_code, g.name, g.name_en,
       (SELECT COUNT(*) FROM incidents o WHERE o.cell_id = g.cell_id AND o.closed_at IS NULL) AS open,
       (SELECT COUNT(*) FROM incidents o
         WHERE o.cell_id = g.cell_id AND o.closed_at IS NULL AND o.due_at < {{NOW_UTC}}) AS overdue,
       COALESCE(t.n_rep, 0) AS reported_today, COALESCE(t.n_closed, 0) AS closed_today
FROM v_grid_cells g
LEFT JOIN t ON t.cell_id = g.cell_id
