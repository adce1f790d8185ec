-- contribution_curve: the Pareto curve of contribution_ranking in at most
-- 100 points: for each percentile k = 1..100 of ranked customers, the share of
-- customers (the first CEIL(k% of n) by rank) and the cumulative share of
-- window revenue they bring.
WITH n AS (SELECT COUNT(*) AS customers FROM contribution_ranking),
points AS (
    SELECT DISTINCT CAST(CEIL(n.customers * k / 100.0) AS BIGINT) AS top_rank, n.customers
    FROM n CROSS JOIN (SELECT numbers.n AS k FROM numbers WHERE numbers.n BETWEEN 1 AND 100)
    WHERE n.customers > 0
)
SELECT
    CAST(p.top_rank AS DOUBLE) / p.customers AS customer_share,
    c.cumulative_share
FROM points p
JOIN contribution_ranking c ON c.rank = p.top_rank
ORDER BY customer_share
