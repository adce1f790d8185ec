-- lifecycle_summary: customers per lifecycle stage at `as_of` and their
-- share; every stage is listed (0 where empty), in lifecycle order.
WITH stages AS (
    SELECT * FROM (VALUES
        (1, 'new'), (2, 'growth'), (3, 'mature'), (4, 'declining'), (5, 'churned'), (6, 'recovered')
    ) AS t(stage_order, stage)
),
counts AS (SELECT stage, COUNT(*) AS customers FROM lifecycle_stages GROUP BY stage),
total AS (SELECT COUNT(*) AS n FROM lifecycle_stages)
SELECT s.stage_order, s.stage,
    COALESCE(c.customers, 0) AS customers,
    COALESCE(CAST(c.customers AS DOUBLE) / NULLIF(t.n, 0), 0) AS share
FROM stages s CROSS JOIN total t
LEFT JOIN counts c ON c.stage = s.stage
ORDER BY s.stage_order
