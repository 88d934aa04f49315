-- Grid cells holding at least one open incident; priority 3 is the most urgent. The open
-- incidents are counted per cell first (one pass, index-only), then joined to the grid. With the
-- incident roll-ups (rollup_watermarks 'incidents') the counts come from incident_open_cells, plus
-- the open incidents due between its overdue watermark and now (v_incident_counts says how).
CREATE VIEW v_incident_cells AS
WITH p AS (
    SELECT o.cell_id, o.priority, COUNT(*) AS n_open, SUM(o.overdue) AS n_overdue
    FROM (SELECT 1 AS plain WHERE NOT EXISTS (SELECT 1 FROM rollup_watermarks w WHERE w.rollup = 'incidents')) np CROSS JOIN v_open_incidents o
    WHERE o.cell_id IS NOT NULL
    GROUP BY o.cell_id, o.priority
    UNION ALL
    SELECT r.cell_id, r.priority, r.n_open, r.n_overdue
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incident_open_cells r
    WHERE r.n_open > 0
    UNION ALL
    SELECT i.cell_id, i.priority, 0, COUNT(*)
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i
    WHERE i.closed_at IS NULL AND i.cell_id IS NOT NULL
      AND i.due_at >= (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents')
      AND i.due_at < {{NOW_UTC}}
    GROUP BY i.cell_id, i.priority
    UNION ALL
    SELECT i.cell_id, i.priority, 0, -COUNT(*)
    FROM (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents') wm CROSS JOIN incidents i
    WHERE i.closed_at IS NULL AND i.cell_id IS NOT NULL AND i.due_at >= {{NOW_UTC}}
      AND i.due_at < (SELECT w.rolled_until FROM rollup_watermarks w WHERE w.rollup = 'incidents')
    GROUP BY i.cell_id, i.priority
),
c AS (
    SELECT p.cell_id, CAST(SUM(p.n_open) AS BIGINT) AS n_open, CAST(SUM(p.n_overdue) AS BIGINT) AS n_overdue,
           MAX(CASE WHEN p.n_open > 0 THEN p.priority END) AS max_priority
    FROM p
    GROUP BY p.cell_id
    HAVING SUM(p.n_open) > 0
)
SELECT c.cell_id, g.street_code, g.district_code, c.n_open AS open, c.n_overdue AS overdue, c.max_priority
FROM c
JOIN v_grid_cells g ON g.cell_id = c.cell_id
