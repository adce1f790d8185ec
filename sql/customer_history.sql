-- customer_history: per customer, what needs their last completed order
-- date first, in one pass over the orders joined to customer_orders:
--   previous_order_date  the latest purchase day before the last one (NULL
--                        for a customer who bought on one day only)
--   revenue_last_12m     purchases minus refunds in the 365 days up to and
--                        including the last order (last_order_date - 364 ..
--                        last_order_date)
-- Read by lifecycle_stages (the gap before the last order) and churn_summary
-- (revenue lost with churned customers).
-- The day bounds are turned into timestamps once per customer, so the orders
-- are compared on order_ts without a date conversion per order.
WITH bounds AS (
    SELECT customer_id,
        CAST(last_order_date AS TIMESTAMP) AS last_day_start,
        CAST(last_order_date + INTERVAL '1 day' AS TIMESTAMP) AS last_day_end,
        CAST(last_order_date - INTERVAL '364 days' AS TIMESTAMP) AS year_start
    FROM customer_orders
)
SELECT
    o.customer_id,
    CAST(MAX(o.order_ts) FILTER (
        WHERE o.status = 'completed' AND o.order_ts < b.last_day_start
    ) AS DATE) AS previous_order_date,
    -- rounded as customer_orders' money sums are, for the same reason
    COALESCE(ROUND(SUM(o.amount) FILTER (
        WHERE o.status <> 'cancelled'
          AND o.order_ts >= b.year_start
          AND o.order_ts < b.last_day_end
    ), 6), 0) AS revenue_last_12m
FROM orders_asof o
JOIN bounds b ON b.customer_id = o.customer_id
GROUP BY o.customer_id
