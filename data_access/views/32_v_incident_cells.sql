-- Grid cells holding at least one open incident; priority 3 is the most urgent.
CREATE VIEW v_incident_cells AS
SELECT o.cell_id, g.street_code, g.district_code,
       COUNT(*) AS open, SUM(o.overdue) AS overdue, MAX(o.priority) AS max_priority
FROM v_open_incidents o
JOIN v_grid_cells g ON g.cell_id = o.cell_id
GROUP BY o.cell_id, g.street_code, g.district_code
