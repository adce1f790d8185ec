-- customer_history: per customer, what needs their last completed order
-- date first, from their months in customer_months:
--   previous_order_date  the latest purchase day before the last one (NULL
--                        for a customer who bought on one day only)
--   prev_previous_order_date  the same as of the previous period (as_of -
--                        `compare_days`): before the last purchase day by then
--   revenue_last_12m     purchases minus refunds in the 365 days up to and
--                        including the last order (last_order_date - 364 ..
--                        last_order_date)
-- Read by lifecycle_stages (the gap before the last order) and churn_summary
-- (revenue lost with churned customers).
SELECT
    customer_id,
    CAST(MAX(before_last_day_ts) AS DATE) AS previous_order_date,
    CAST(MAX(before_prev_last_day_ts) AS DATE) AS prev_previous_order_date,
    -- rounded as customer_orders' money sums are, for the same reason
    COALESCE(ROUND(SUM(last_year_revenue), 6), 0) AS revenue_last_12m
FROM customer_months
GROUP BY customer_id
