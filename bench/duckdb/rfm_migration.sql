-- rfm_migration: how customers moved between segments since the previous
-- period (as_of - `compare_days`): customers per (previous segment, current
-- segment). Customers whose first completed order came after the previous
-- period have previous_segment 'New since previous period' (order 0).
-- previous_order/current_order follow rfm_segment_actions, for display.
WITH moves AS (
    SELECT
        COALESCE(prev.segment, 'New since previous period') AS previous_segment,
        cur.segment AS current_segment,
        COUNT(*) AS customers
    FROM rfm_scores_all cur
    LEFT JOIN rfm_scores_all prev
      ON prev.customer_id = cur.customer_id AND prev.period = 'previous'
    WHERE cur.period = 'current'
    GROUP BY 1, 2
)
SELECT m.previous_segment, m.current_segment, m.customers,
    COALESCE(p.segment_order, 0) AS previous_order,
    c.segment_order AS current_order
FROM moves m
LEFT JOIN rfm_segment_actions p ON p.segment = m.previous_segment
JOIN rfm_segment_actions c ON c.segment = m.current_segment
ORDER BY previous_order, current_order
