-- churn_summary: churn at `as_of` per cohort month and overall (the row with
-- cohort_month NULL and scope 'all'): customers, churned customers, churn
-- rate, and revenue lost: what the churned customers spent (purchases minus
-- refunds) in the 12 months up to and including their last completed order
-- (last_order_date - 364 days .. last_order_date).
-- Churned: last completed order more than `churn_days` days before as_of.
-- too_recent: the cohort's month starts no more than `churn_days` days before
-- as_of, so none of its customers can have churned yet (a last order is no
-- older than the first): its churn_rate of 0 says nothing, and reports show
-- no rate for it. Always false on the overall row.
WITH c AS (
    SELECT st.customer_id, st.churned, st.last_order_date,
        CAST(date_trunc('month', st.first_order_date) AS DATE) AS cohort_month
    FROM customer_status st
),
per_customer AS (
    -- customer_history holds each customer's last-12-months revenue
    SELECT c.*, CASE WHEN c.churned THEN COALESCE(h.revenue_last_12m, 0) ELSE 0 END AS revenue_lost
    FROM c LEFT JOIN customer_history h ON h.customer_id = c.customer_id
)
-- One grouping per cohort month and one over everyone, in a single pass.
SELECT
    CASE WHEN GROUPING(cohort_month) = 1 THEN 'all' ELSE 'cohort' END AS scope,
    cohort_month,
    COUNT(*) AS customers,
    COUNT(*) FILTER (WHERE churned) AS churned,
    AVG(CASE WHEN churned THEN 1.0 ELSE 0.0 END) AS churn_rate,
    GROUPING(cohort_month) = 0
        AND cohort_month >= {{ as_of }} - {{ churn_days | days }} AS too_recent,
    CAST(SUM(CAST(revenue_lost AS DECIMAL(38, 6))) AS DOUBLE) AS revenue_lost
FROM per_customer
GROUP BY GROUPING SETS ((cohort_month), ())
ORDER BY GROUPING(cohort_month), cohort_month
