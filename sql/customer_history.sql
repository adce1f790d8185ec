-- customer_history: per customer, what needs their last completed order
-- date first, in one pass over the orders joined to customer_orders:
--   previous_order_date  the latest purchase day before the last one (NULL
--                        for a customer who bought on one day only)
--   revenue_last_12m     purchases minus refunds in the 365 days up to and
--                        including the last order (last_order_date - 364 ..
--                        last_order_date)
-- Read by lifecycle_stages (the gap before the last order) and churn_summary
-- (revenue lost with churned customers).
SELECT
    o.customer_id,
    MAX(o.order_date) FILTER (
        WHERE o.status = 'completed' AND o.order_date < co.last_order_date
    ) AS previous_order_date,
    COALESCE(SUM(o.amount) FILTER (
        WHERE o.status <> 'cancelled'
          AND o.order_date > co.last_order_date - INTERVAL '365 days'
          AND o.order_date <= co.last_order_date
    ), 0) AS revenue_last_12m
FROM orders_asof o
JOIN customer_orders co ON co.customer_id = o.customer_id
GROUP BY o.customer_id
