-- lifecycle_summary: customers per lifecycle stage at `as_of` and their
-- share, and the same at the previous period (as_of - `compare_days`, from
-- lifecycle_stages.prev_stage: prev_customers, prev_share, over the customers
-- who had bought by then); every stage is listed (0 where empty), in
-- lifecycle order. A share is NULL where no customer had bought by that
-- date (a share of no one), not 0.
{%- from "_figures.sql" import lifecycle_stage_order %}
WITH stages AS (
    {{ lifecycle_stage_order() }}
),
counts AS (SELECT stage, COUNT(*) AS customers FROM lifecycle_stages GROUP BY stage),
prev_counts AS (
    SELECT prev_stage AS stage, COUNT(*) AS customers
    FROM lifecycle_stages
    WHERE prev_stage IS NOT NULL
    GROUP BY prev_stage
),
total AS (SELECT COUNT(*) AS n, COUNT(prev_stage) AS prev_n FROM lifecycle_stages)
SELECT s.stage_order, s.stage,
    COALESCE(c.customers, 0) AS customers,
    CAST(COALESCE(c.customers, 0) AS DOUBLE) / NULLIF(t.n, 0) AS share,
    COALESCE(p.customers, 0) AS prev_customers,
    CAST(COALESCE(p.customers, 0) AS DOUBLE) / NULLIF(t.prev_n, 0) AS prev_share
FROM stages s CROSS JOIN total t
LEFT JOIN counts c ON c.stage = s.stage
LEFT JOIN prev_counts p ON p.stage = s.stage
ORDER BY s.stage_order
