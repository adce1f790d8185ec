-- retention_priority: the three-degree model's matrix: ABC contribution class
-- x satisfaction level (of the latest survey answer up to as_of; 'unknown'
-- for customers never surveyed): customers, window revenue, churned
-- customers and churn rate at as_of (churn as in customer_status.sql).
-- `priority` is where retention effort pays first, by the model's rule: rank
-- customers by contribution, then by satisfaction, since only complete
-- satisfaction makes loyalty likely:
--   1  class A, dissatisfied or neutral (CSAT 1-3)
--   2  class A never surveyed (ask them first), and class B dissatisfied or
--      neutral
--   3  the rest: satisfied A and B customers, B never surveyed, class C
-- The reports say this rule under the matrix (translations.yaml,
-- `priority_note`): change the two together.
-- Where surveys are absent this step is skipped.
WITH c AS (
    SELECT r.abc_class, r.revenue, st.churned,
        COALESCE(s.satisfaction_level, 'unknown') AS satisfaction_level
    FROM contribution_ranking r
    JOIN customer_status st ON st.customer_id = r.customer_id
    LEFT JOIN latest_survey s ON s.customer_id = r.customer_id
)
SELECT
    abc_class,
    satisfaction_level,
    CASE satisfaction_level
        WHEN 'dissatisfied' THEN 1 WHEN 'neutral' THEN 2 WHEN 'satisfied' THEN 3 ELSE 4
    END AS level_order,
    COUNT(*) AS customers,
    CAST(SUM(CAST(revenue AS DECIMAL(38, 6))) AS DOUBLE) AS revenue,
    COUNT(*) FILTER (WHERE churned) AS churned,
    AVG(CASE WHEN churned THEN 1.0 ELSE 0.0 END) AS churn_rate,
    CASE
        WHEN abc_class = 'A' AND satisfaction_level IN ('dissatisfied', 'neutral') THEN 1
        WHEN abc_class = 'A' AND satisfaction_level = 'unknown' THEN 2
        WHEN abc_class = 'B' AND satisfaction_level IN ('dissatisfied', 'neutral') THEN 2
        ELSE 3
    END AS priority
FROM c
GROUP BY abc_class, satisfaction_level
ORDER BY abc_class, level_order
