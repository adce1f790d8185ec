-- contribution_ranking: customers ranked by revenue over the contribution
-- window: the `contribution_window_days` days ending with `as_of` included
-- (365 days by default: as_of - 364 .. as_of).
--
--   revenue           purchases minus refunds in the window (cancelled excluded)
--   margin            the same for margin; null when the data has no margin
--   rank              1 = largest revenue; ties by customer_id
--   revenue_share     revenue / total window revenue
--   cumulative_share  share of the customers ranked up to and including this one
--   abc_class         A while the revenue ranked before this customer is
--                     under 80% of the total, B while under 95%, else C
-- Customers with no completed or refunded order in the window are not ranked,
-- and no one is when refunds outweigh purchases there (a net revenue of zero
-- or less has no shares: a lone refund would be "100% of revenue").
-- The running and total revenue are added up exactly, as DECIMAL(38, 6) (see
-- customer_summary.sql), and the classes compare them exactly (before * 5 <
-- total * 4 is "under 80%"): run after run the last customer's cumulative
-- share is exactly 1, and a customer with exactly 80% of the revenue ranked
-- before them is in B (as a float, 2.4 / 3 is 0.7999999999999999).
WITH w AS (
    SELECT customer_id, window_revenue AS revenue, window_margin AS margin,
        CAST(window_revenue AS DECIMAL(38, 6)) AS exact
    FROM customer_orders
    WHERE window_revenue IS NOT NULL
),
ranked AS (
    SELECT customer_id, revenue, margin, exact,
        ROW_NUMBER() OVER (ORDER BY revenue DESC, customer_id) AS rank,
        SUM(exact) OVER (ORDER BY revenue DESC, customer_id ROWS UNBOUNDED PRECEDING) AS running
    FROM w
),
total AS (SELECT SUM(exact) AS exact, CAST(SUM(exact) AS DOUBLE) AS revenue FROM w)
SELECT
    r.customer_id,
    r.revenue,
    r.margin,
    r.rank,
    r.revenue / NULLIF(t.revenue, 0) AS revenue_share,
    CAST(r.running AS DOUBLE) / NULLIF(t.revenue, 0) AS cumulative_share,
    CASE
        WHEN (r.running - r.exact) * 5 < t.exact * 4 THEN 'A'
        WHEN (r.running - r.exact) * 20 < t.exact * 19 THEN 'B'
        ELSE 'C'
    END AS abc_class
FROM ranked r CROSS JOIN total t
WHERE t.exact > 0
