-- contribution_ranking: customers ranked by revenue over the contribution
-- window: the `contribution_window_days` days ending with `as_of` included
-- (365 days by default: as_of - 364 .. as_of).
--
--   revenue           purchases minus refunds in the window (cancelled excluded)
--   margin            the same for margin; null when the data has no margin
--   rank              1 = largest revenue; ties by customer_id
--   revenue_share     revenue / total window revenue
--   cumulative_share  share of the customers ranked up to and including this one
--   abc_class         A while the cumulative share before this customer is
--                     under 80%, B while under 95%, else C
-- Customers with no completed or refunded order in the window are not ranked.
WITH w AS (
    SELECT customer_id, window_revenue AS revenue, window_margin AS margin
    FROM customer_orders
    WHERE window_revenue IS NOT NULL
),
ranked AS (
    SELECT customer_id, revenue, margin,
        ROW_NUMBER() OVER (ORDER BY revenue DESC, customer_id) AS rank,
        SUM(revenue) OVER (ORDER BY revenue DESC, customer_id ROWS UNBOUNDED PRECEDING) AS running
    FROM w
),
total AS (SELECT SUM(revenue) AS revenue FROM w)
SELECT
    r.customer_id,
    r.revenue,
    r.margin,
    r.rank,
    r.revenue / NULLIF(t.revenue, 0) AS revenue_share,
    r.running / NULLIF(t.revenue, 0) AS cumulative_share,
    CASE
        WHEN (r.running - r.revenue) / NULLIF(t.revenue, 0) < 0.8 THEN 'A'
        WHEN (r.running - r.revenue) / NULLIF(t.revenue, 0) < 0.95 THEN 'B'
        ELSE 'C'
    END AS abc_class
FROM ranked r CROSS JOIN total t
