-- customer_orders: the per-customer order summary every analysis reads, one
-- row per customer with at least one completed order up to `as_of`:
-- customer_id, first_order_date, last_order_date, orders, monetary, margin,
-- window_orders, window_revenue, window_margin, recent_revenue,
-- prev_last_order_date, prev_orders, prev_monetary, prev_window_revenue,
-- base_last_order_date and prev_recent_revenue, as customer_summary.sql
-- defines and computes them. Its other columns, the lifecycle trend's (one
-- set per date), are left for lifecycle_trend.sql, so that this table, and
-- tables/customer_orders, have the same columns whatever the params.
SELECT
    customer_id,
    first_order_date,
    last_order_date,
    orders,
    monetary,
    margin,
    window_orders,
    window_revenue,
    window_margin,
    recent_revenue,
    prev_last_order_date,
    prev_orders,
    prev_monetary,
    prev_window_revenue,
    base_last_order_date,
    prev_recent_revenue
FROM customer_summary
