-- headline: the run's top figures at `as_of` and at the previous period
-- (as_of - `compare_days`), for the change between them:
--   customers            customers with a completed order by that date
--   active_customers     of them, not churned (last completed order at most
--                        `churn_days` days before that date)
--   churn_rate           churned / customers
--   window_revenue       purchases minus refunds in the contribution window
--                        (`contribution_window_days` days) ending that date
--   orders, revenue      completed orders and all revenue up to as_of
-- Survey figures (satisfaction index, NPS) are in satisfaction_index.
SELECT
    COUNT(*) AS customers,
    COUNT(*) FILTER (WHERE NOT churned) AS active_customers,
    COUNT(*) FILTER (WHERE churned) AS churned_customers,
    AVG(CASE WHEN churned THEN 1.0 ELSE 0.0 END) AS churn_rate,
    COUNT(churned_prev) AS prev_customers,
    COUNT(*) FILTER (WHERE NOT churned_prev) AS prev_active_customers,
    AVG(CASE WHEN churned_prev THEN 1.0 WHEN NOT churned_prev THEN 0.0 END) AS prev_churn_rate,
    SUM(orders) AS orders,
    CAST(SUM(CAST(monetary AS DECIMAL(38, 6))) AS DOUBLE) AS revenue,
    (SELECT CAST(SUM(CAST(window_revenue AS DECIMAL(38, 6))) AS DOUBLE) FROM customer_orders) AS window_revenue,
    (SELECT CAST(SUM(CAST(prev_window_revenue AS DECIMAL(38, 6))) AS DOUBLE) FROM customer_orders) AS prev_window_revenue
FROM customer_status
