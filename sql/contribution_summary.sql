-- contribution_summary: one row: ranked customers, their window revenue,
-- the revenue share of the top 1%, 5%, 10% and 20% of customers (the top X%
-- is the first CEIL(X% of customers) by rank, at least one customer), and the
-- customers and revenue share of each ABC class.
-- Grouped on the customer count alone, with the total revenue taken as MAX:
-- on a Ballista cluster each task computes `n` itself, and a float sum added
-- up in another order can differ in its last digit, which as a group key
-- split the one summary row in two (seen at 100k customers).
WITH n AS (SELECT COUNT(*) AS customers, SUM(revenue) AS revenue FROM contribution_ranking)
SELECT
    n.customers,
    MAX(n.revenue) AS revenue,
    SUM(c.revenue) FILTER (WHERE c.rank <= GREATEST(CEIL(n.customers * 0.01), 1)) / NULLIF(MAX(n.revenue), 0) AS top_1pct_share,
    SUM(c.revenue) FILTER (WHERE c.rank <= GREATEST(CEIL(n.customers * 0.05), 1)) / NULLIF(MAX(n.revenue), 0) AS top_5pct_share,
    SUM(c.revenue) FILTER (WHERE c.rank <= GREATEST(CEIL(n.customers * 0.10), 1)) / NULLIF(MAX(n.revenue), 0) AS top_10pct_share,
    SUM(c.revenue) FILTER (WHERE c.rank <= GREATEST(CEIL(n.customers * 0.20), 1)) / NULLIF(MAX(n.revenue), 0) AS top_20pct_share,
    COUNT(*) FILTER (WHERE c.abc_class = 'A') AS a_customers,
    COALESCE(SUM(c.revenue) FILTER (WHERE c.abc_class = 'A'), 0) / NULLIF(MAX(n.revenue), 0) AS a_revenue_share,
    COUNT(*) FILTER (WHERE c.abc_class = 'B') AS b_customers,
    COALESCE(SUM(c.revenue) FILTER (WHERE c.abc_class = 'B'), 0) / NULLIF(MAX(n.revenue), 0) AS b_revenue_share,
    COUNT(*) FILTER (WHERE c.abc_class = 'C') AS c_customers,
    COALESCE(SUM(c.revenue) FILTER (WHERE c.abc_class = 'C'), 0) / NULLIF(MAX(n.revenue), 0) AS c_revenue_share
FROM contribution_ranking c CROSS JOIN n
GROUP BY n.customers
