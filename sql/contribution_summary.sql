-- contribution_summary: one row: ranked customers, their window revenue,
-- the revenue share of the top 1%, 5%, 10% and 20% of customers (the top X%
-- is the first CEIL(X% of customers) by rank, at least one customer), and the
-- customers and revenue share of each ABC class.
-- Revenue is added up exactly, as DECIMAL(38, 6) (see customer_summary.sql),
-- so the shares are the same run after run and the classes' add up to 1.
-- Grouped on the customer count alone, with the total revenue taken as MAX:
-- on a Ballista cluster each task computes `n` itself (a float sum, as this
-- once was, added up in another order had split the one row in two).
WITH c AS (
    SELECT rank, abc_class, CAST(revenue AS DECIMAL(38, 6)) AS revenue
    FROM contribution_ranking
),
n AS (SELECT COUNT(*) AS customers, CAST(SUM(revenue) AS DOUBLE) AS revenue FROM c)
SELECT
    n.customers,
    MAX(n.revenue) AS revenue,
    CAST(SUM(c.revenue) FILTER (WHERE c.rank <= GREATEST(CEIL(n.customers * 0.01), 1)) AS DOUBLE) / NULLIF(MAX(n.revenue), 0) AS top_1pct_share,
    CAST(SUM(c.revenue) FILTER (WHERE c.rank <= GREATEST(CEIL(n.customers * 0.05), 1)) AS DOUBLE) / NULLIF(MAX(n.revenue), 0) AS top_5pct_share,
    CAST(SUM(c.revenue) FILTER (WHERE c.rank <= GREATEST(CEIL(n.customers * 0.10), 1)) AS DOUBLE) / NULLIF(MAX(n.revenue), 0) AS top_10pct_share,
    CAST(SUM(c.revenue) FILTER (WHERE c.rank <= GREATEST(CEIL(n.customers * 0.20), 1)) AS DOUBLE) / NULLIF(MAX(n.revenue), 0) AS top_20pct_share,
    COUNT(*) FILTER (WHERE c.abc_class = 'A') AS a_customers,
    COALESCE(CAST(SUM(c.revenue) FILTER (WHERE c.abc_class = 'A') AS DOUBLE), 0) / NULLIF(MAX(n.revenue), 0) AS a_revenue_share,
    COUNT(*) FILTER (WHERE c.abc_class = 'B') AS b_customers,
    COALESCE(CAST(SUM(c.revenue) FILTER (WHERE c.abc_class = 'B') AS DOUBLE), 0) / NULLIF(MAX(n.revenue), 0) AS b_revenue_share,
    COUNT(*) FILTER (WHERE c.abc_class = 'C') AS c_customers,
    COALESCE(CAST(SUM(c.revenue) FILTER (WHERE c.abc_class = 'C') AS DOUBLE), 0) / NULLIF(MAX(n.revenue), 0) AS c_revenue_share
FROM c CROSS JOIN n
GROUP BY n.customers
