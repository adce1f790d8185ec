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
--   month_complete    the period's calendar month is over by as_of: false
--                     only for as_of's own month when as_of is not its last
--                     day, whose customers and revenue are so far (on the
--                     6th, a month's activity looks like a fifth of a
--                     month's); the reports leave such a month out of their
--                     charts
-- Every period from 0 to as_of's month is listed, with 0 where nobody bought.
-- The cohorts' months come from cohort_activity.sql.
WITH sizes AS (
    -- a cohort's first month: all its customers bought, and its revenue is
    -- the base of revenue_retention
    SELECT cohort_month, active_customers AS cohort_size, revenue AS first_revenue,
        (date_part('year', {{ as_of }}) * 12 + date_part('month', {{ as_of }}))
          - (date_part('year', cohort_month) * 12 + date_part('month', cohort_month)) AS last_period
    FROM cohort_activity
    WHERE period = 0
),
grid AS (
    SELECT s.cohort_month, s.cohort_size, s.first_revenue, s.last_period, numbers.n AS period
    FROM sizes s
    JOIN numbers ON numbers.n <= s.last_period
)
SELECT
    g.cohort_month,
    g.period,
    g.cohort_size,
    COALESCE(a.active_customers, 0) AS active_customers,
    CAST(COALESCE(a.active_customers, 0) AS DOUBLE) / g.cohort_size AS retention_rate,
    COALESCE(a.revenue, 0) AS revenue,
    COALESCE(a.revenue, 0) / CASE WHEN g.first_revenue > 0 THEN g.first_revenue END AS revenue_retention,
    g.period < g.last_period
      OR date_part('day', {{ as_of }} + INTERVAL '1 day') = 1 AS month_complete
FROM grid g
LEFT JOIN cohort_activity a ON a.cohort_month = g.cohort_month AND a.period = g.period
-- COALESCE(a.period, g.period) is g.period; sorting on it (not on g.period
-- alone) keeps DataFusion 55 from pushing the sort below the join, where the
-- join's output order was seen scrambled.
ORDER BY g.cohort_month, COALESCE(a.period, g.period)
