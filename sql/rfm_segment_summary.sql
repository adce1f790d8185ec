-- rfm_segment_summary: per segment at `as_of`: customers and their share,
-- revenue (monetary: purchases minus refunds, all history up to as_of) and
-- its share, average recency/frequency/monetary, and the recommended action.
-- Every segment is listed, with 0 customers where none fall in it.
-- Revenue is added up exactly (see customer_summary.sql), and the average
-- monetary is that revenue over the customers, so the shares and averages are
-- the same run after run.
WITH per_segment AS (
    SELECT segment,
        COUNT(*) AS customers,
        CAST(SUM(CAST(monetary AS DECIMAL(38, 6))) AS DOUBLE) AS revenue,
        AVG(recency_days) AS avg_recency_days,
        AVG(frequency) AS avg_frequency
    FROM rfm_scores
    GROUP BY segment
),
totals AS (
    SELECT COUNT(*) AS customers, CAST(SUM(CAST(monetary AS DECIMAL(38, 6))) AS DOUBLE) AS revenue FROM rfm_scores
)
SELECT
    a.segment_order,
    a.segment,
    COALESCE(p.customers, 0) AS customers,
    COALESCE(CAST(p.customers AS DOUBLE) / NULLIF(t.customers, 0), 0) AS share_of_customers,
    COALESCE(p.revenue, 0) AS revenue,
    COALESCE(p.revenue / NULLIF(t.revenue, 0), 0) AS share_of_revenue,
    p.avg_recency_days,
    p.avg_frequency,
    p.revenue / p.customers AS avg_monetary,
    a.action
FROM rfm_segment_actions a
CROSS JOIN totals t
LEFT JOIN per_segment p ON p.segment = a.segment
ORDER BY a.segment_order
