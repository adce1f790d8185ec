-- rfm_migration: how customers moved between segments since the previous
-- period (as_of - `compare_days`): customers per (previous segment, current
-- segment). Customers whose first completed order came after the previous
-- period have previous_segment 'New since previous period'.
SELECT
    COALESCE(prev.segment, 'New since previous period') AS previous_segment,
    cur.segment AS current_segment,
    COUNT(*) AS customers
FROM rfm_scores_all cur
LEFT JOIN rfm_scores_all prev
  ON prev.customer_id = cur.customer_id AND prev.period = 'previous'
WHERE cur.period = 'current'
GROUP BY 1, 2
ORDER BY 1, 2
