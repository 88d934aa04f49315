-- Grid cells holding at least one open incident; priority 3 is the most urgent. The open
-- incidents are counted per cell first (one pass, index-only), then joined to the grid.
CREATE VIEW v_incident_cells AS
WITH c AS (
    SELECT o.cell_id, COUNT(*) AS n_open, SUM(o.overdue) AS n_overdue, MAX(o.priority) AS max_priority
    FROM v_open_incidents o
    WHERE o.cell_id IS NOT NULL
    GROUP BY o.cell_id
)
SELECT c.cell_id, g.street_code, g.district_code, c.n_open AS open, c.n_overdue AS overdue, c.max_priority
FROM c
JOIN v_grid_cells g ON g.cell_id = c.cell_id
