-- cohort_activity: per cohort (the month of a customer's first completed
-- order) and calendar month with an order: the cohort's customers with a
-- completed order that month and its revenue then (purchases minus refunds),
-- from customer_months. `period` is months since the cohort month. At
-- period 0 every customer of the cohort bought (their first completed
-- order), so that row's active_customers is the cohort's size.
-- Held in memory for cohort_retention, which reads it twice (the months, and
-- each cohort's first month): as a CTE there, DataFusion would aggregate the
-- customers' months once per reading.
WITH cohorts AS (
    SELECT customer_id, CAST(date_trunc('month', first_order_date) AS DATE) AS cohort_month
    FROM customer_orders
)
SELECT cohort_month,
    CAST((date_part('year', month_start) * 12 + date_part('month', month_start))
      - (date_part('year', cohort_month) * 12 + date_part('month', cohort_month)) AS BIGINT) AS period,
    active_customers, revenue
FROM (
    SELECT c.cohort_month, p.month_start,
        COUNT(*) FILTER (WHERE p.bought) AS active_customers, CAST(SUM(CAST(p.revenue AS DECIMAL(38, 6))) AS DOUBLE) AS revenue
    -- customer_months: one row per customer and month with an order, so
    -- the join sees customer-months, not orders
    FROM customer_months p
    JOIN cohorts c ON c.customer_id = p.customer_id
    GROUP BY 1, 2
)
