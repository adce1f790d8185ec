-- customer_orders: one row per customer with at least one completed order up
-- to `as_of`: first and last completed order, distinct completed orders, and
-- revenue (completed orders plus refunds; cancelled orders count nothing).
-- The shared per-customer summary that RFM, contribution and churn read.
SELECT
    customer_id,
    MIN(order_date) FILTER (WHERE status = 'completed') AS first_order_date,
    MAX(order_date) FILTER (WHERE status = 'completed') AS last_order_date,
    COUNT(DISTINCT order_id) FILTER (WHERE status = 'completed') AS orders,
    SUM(amount) FILTER (WHERE status <> 'cancelled') AS revenue
FROM orders_asof
GROUP BY customer_id
HAVING COUNT(*) FILTER (WHERE status = 'completed') > 0
