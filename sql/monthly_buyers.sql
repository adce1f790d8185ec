-- monthly_buyers: the leaky bucket, month by month. Per calendar month, from
-- the month of the first customer's first completed order to as_of's month:
-- the customers who bought (a completed order that month), split into new
-- ones (their first completed order) and returning ones (they had bought
-- before), and the month's revenue. A business whose returning buyers do not
-- grow is pouring new customers into a bucket that leaks.
--   month             the calendar month (its first day)
--   buyers            customers with a completed order that month
--   new_buyers        of them, those whose first completed order it was
--   returning_buyers  of them, those who had bought in an earlier month
--   revenue           purchases minus refunds that month (cancelled orders
--                     nothing) of the customers with a completed order up
--                     to as_of
--   new_revenue       of it, the new buyers'
--   month_complete    false only for as_of's month when as_of is not its
--                     last day: that month's figures are so far
-- Every month is listed, 0 where nobody bought. Each cohort's row of
-- cohort_retention.sql for the month, added up: a cohort's period 0 is its
-- customers' first month (all new), its later periods are returning buyers.
WITH cells AS (
    SELECT
        -- months since year 0: the cohort's month, and `period` months on
        CAST(date_part('year', cohort_month) * 12 + date_part('month', cohort_month) - 1 AS BIGINT)
          + period AS month_index,
        period, active_customers, revenue, month_complete
    FROM cohort_retention
)
SELECT
    make_date(CAST(month_index / 12 AS INT), CAST(month_index % 12 + 1 AS INT), 1) AS month,
    SUM(active_customers) AS buyers,
    COALESCE(SUM(active_customers) FILTER (WHERE period = 0), 0) AS new_buyers,
    COALESCE(SUM(active_customers) FILTER (WHERE period > 0), 0) AS returning_buyers,
    -- added up exactly, as customer_summary.sql explains
    CAST(SUM(CAST(revenue AS DECIMAL(38, 6))) AS DOUBLE) AS revenue,
    COALESCE(CAST(SUM(CAST(revenue AS DECIMAL(38, 6))) FILTER (WHERE period = 0) AS DOUBLE), 0) AS new_revenue,
    BOOL_AND(month_complete) AS month_complete
FROM cells
GROUP BY month_index
ORDER BY month_index
