-- headline: the run's top figures at `as_of` and at the previous period
-- (as_of - `compare_days`), for the change between them:
--   customers            customers with a completed order by that date
--   active_customers     of them, not churned (last completed order at most
--                        `churn_days` days before that date)
--   churn_rate           churned / customers
--   window_revenue       purchases minus refunds in the contribution window
--                        (`contribution_window_days` days) ending that date
--   repeat_rate          of the customers, the share with two or more
--                        completed orders by that date (repeat purchase:
--                        loyalty as behaviour)
--   tenure_years         of the active customers, the average time since
--                        their first completed order, in years of 365 days
--                        (the length of the relationship)
--   new_customers        customers whose first completed order is after the
--                        previous period (none had bought by then)
--   returned_customers   churned at the previous period, active now
--   lost_customers       churned now, not churned at the previous period
--                        (active then, or new since)
--                        The flows of the period: active_customers -
--                        prev_active_customers = new_customers +
--                        returned_customers - lost_customers.
--   orders, revenue      completed orders and all revenue up to as_of
-- Each figure but the flows, orders and revenue has a prev_ twin at the
-- previous period.
-- Survey figures (satisfaction index, NPS) are in satisfaction_index.
{%- set prev_day %}CAST({{ as_of }} - {{ compare_days | days }} AS DATE){% endset %}
SELECT
    COUNT(*) AS customers,
    COUNT(*) FILTER (WHERE NOT churned) AS active_customers,
    COUNT(*) FILTER (WHERE churned) AS churned_customers,
    AVG(CASE WHEN churned THEN 1.0 ELSE 0.0 END) AS churn_rate,
    COUNT(churned_prev) AS prev_customers,
    COUNT(*) FILTER (WHERE NOT churned_prev) AS prev_active_customers,
    AVG(CASE WHEN churned_prev THEN 1.0 WHEN NOT churned_prev THEN 0.0 END) AS prev_churn_rate,
    AVG(CASE WHEN orders >= 2 THEN 1.0 ELSE 0.0 END) AS repeat_rate,
    -- prev_orders is 0 for a customer who had not bought by then
    AVG(CASE WHEN prev_orders >= 2 THEN 1.0 WHEN prev_orders = 1 THEN 0.0 END) AS prev_repeat_rate,
    AVG({{ as_of }} - first_order_date) FILTER (WHERE NOT churned) / 365.0 AS tenure_years,
    AVG({{ prev_day }} - first_order_date) FILTER (WHERE NOT churned_prev) / 365.0 AS prev_tenure_years,
    COUNT(*) FILTER (WHERE churned_prev IS NULL) AS new_customers,
    COUNT(*) FILTER (WHERE churned_prev AND NOT churned) AS returned_customers,
    COUNT(*) FILTER (WHERE churned AND churned_prev IS NOT TRUE) AS lost_customers,
    SUM(orders) AS orders,
    CAST(SUM(CAST(monetary AS DECIMAL(38, 6))) AS DOUBLE) AS revenue,
    (SELECT CAST(SUM(CAST(window_revenue AS DECIMAL(38, 6))) AS DOUBLE) FROM customer_orders) AS window_revenue,
    (SELECT CAST(SUM(CAST(prev_window_revenue AS DECIMAL(38, 6))) AS DOUBLE) FROM customer_orders) AS prev_window_revenue
FROM customer_status
