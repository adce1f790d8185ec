-- complaint_recovery: retention at `as_of` of customers (with a completed
-- order) by how their latest complaint opened up to as_of was handled:
--   1 never complained
--   2 resolved fast   resolved within `fast_resolution_hours` hours (the
--                     time that passed: a change of clocks in between counts)
--   3 resolved slow   resolved later
--   4 unresolved      not resolved by as_of
-- retention_rate = share not churned at as_of (customer_status.sql).
WITH latest AS (
    SELECT customer_id,
        CAST(opened_ts AS TIMESTAMP) AS opened_ts,
        CASE WHEN CAST(resolved_ts AS DATE) <= {{ as_of }} THEN CAST(resolved_ts AS TIMESTAMP) END AS resolved_ts
    -- Each customer's first row in one order (customer, newest first), as
    -- in latest_survey.sql: ROW_NUMBER() OVER (PARTITION BY customer_id ...)
    -- = 1 without per-customer partitions, which are slow in DataFusion.
    FROM (
        SELECT *,
            ROW_NUMBER() OVER newest_first AS n,
            LAG(customer_id) OVER newest_first AS previous_customer
        FROM complaints
        WHERE CAST(opened_ts AS DATE) <= {{ as_of }}
        WINDOW newest_first AS (ORDER BY customer_id, opened_ts DESC, complaint_id DESC)
    )
    WHERE n = 1 OR previous_customer IS DISTINCT FROM customer_id
),
grouped AS (
    SELECT st.churned,
        CASE
            WHEN l.customer_id IS NULL THEN 'never complained'
            WHEN l.resolved_ts IS NULL THEN 'unresolved'
            WHEN {{ seconds_between("l.opened_ts", "l.resolved_ts") }} <= {{ fast_resolution_hours }} * 3600 THEN 'resolved fast'
            ELSE 'resolved slow'
        END AS complaint_group
    FROM customer_status st
    LEFT JOIN latest l ON l.customer_id = st.customer_id
),
groups AS (
    SELECT * FROM (VALUES
        (1, 'never complained'), (2, 'resolved fast'), (3, 'resolved slow'), (4, 'unresolved')
    ) AS t(group_order, complaint_group)
),
agg AS (
    SELECT complaint_group, COUNT(*) AS customers, COUNT(*) FILTER (WHERE NOT churned) AS retained
    FROM grouped
    GROUP BY complaint_group
)
SELECT g.group_order, g.complaint_group,
    COALESCE(a.customers, 0) AS customers,
    COALESCE(a.retained, 0) AS retained,
    CAST(a.retained AS DOUBLE) / NULLIF(a.customers, 0) AS retention_rate,
    1 - CAST(a.retained AS DOUBLE) / NULLIF(a.customers, 0) AS churn_rate
FROM groups g LEFT JOIN agg a ON a.complaint_group = g.complaint_group
ORDER BY g.group_order
