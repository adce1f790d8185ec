-- cohort_retention: customers by the month of their first completed order
-- (cohort_month), followed month by month up to as_of's month:
--   period            months since the cohort month (0, 1, 2, ...)
--   cohort_size       customers in the cohort
--   active_customers  customers of the cohort with a completed order in that
--                     calendar month (up to as_of)
--   retention_rate    active_customers / cohort_size (1 at period 0)
--   revenue           the cohort's purchases minus refunds in that month
--   revenue_retention revenue / the cohort's revenue at period 0 (its first
--                     month): above 1 when the customers left spend more than
--                     the whole cohort did at first; NULL when the first
--                     month's revenue is 0 or less (refunds outweighed
--                     purchases), which gives no base to compare with
-- Every period from 0 to as_of's month is listed, with 0 where nobody bought.
WITH cohorts AS (
    SELECT customer_id, CAST(date_trunc('month', first_order_date) AS DATE) AS cohort_month
    FROM customer_orders
),
sizes AS (
    SELECT cohort_month, COUNT(*) AS cohort_size,
        (date_part('year', {{ as_of }}) * 12 + date_part('month', {{ as_of }}))
          - (date_part('year', cohort_month) * 12 + date_part('month', cohort_month)) AS last_period
    FROM cohorts
    GROUP BY cohort_month
),
grid AS (
    SELECT s.cohort_month, s.cohort_size, numbers.n AS period
    FROM sizes s
    JOIN numbers ON numbers.n <= s.last_period
),
activity AS (
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
)
SELECT
    g.cohort_month,
    g.period,
    g.cohort_size,
    COALESCE(a.active_customers, 0) AS active_customers,
    CAST(COALESCE(a.active_customers, 0) AS DOUBLE) / g.cohort_size AS retention_rate,
    COALESCE(a.revenue, 0) AS revenue,
    COALESCE(a.revenue, 0) / CASE WHEN first.revenue > 0 THEN first.revenue END AS revenue_retention
FROM grid g
LEFT JOIN activity a ON a.cohort_month = g.cohort_month AND a.period = g.period
LEFT JOIN activity first ON first.cohort_month = g.cohort_month AND first.period = 0
-- COALESCE(a.period, g.period) is g.period; sorting on it (not on g.period
-- alone) keeps DataFusion 55 from pushing the sort below the join, where the
-- join's output order was seen scrambled.
ORDER BY g.cohort_month, COALESCE(a.period, g.period)
