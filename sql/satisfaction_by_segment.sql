-- satisfaction_by_segment: satisfaction per RFM segment: the answers given
-- in the `survey_window_days` days up to and including `as_of`
-- (survey_answers.sql) by customers with a completed order, grouped by the
-- segment the customer is in at as_of (rfm_scores.sql). Per segment:
--   customers           the segment's customers
--   responses           answers with a CSAT
--   satisfaction_index  the weighted index on 0-100, as in
--                       satisfaction_index.sql: (average score - 1) * 25
--                       over the answers with all four dimension scores
--   csat                share of answers with CSAT 4-5
--   nps                 % promoters (9-10) - % detractors (0-6) among
--                       answers with an NPS
-- Every segment is listed, in the segments' order; one without answers has
-- no figures.
WITH answers AS (
    SELECT r.segment, a.csat, a.nps, a.score
    FROM survey_answers a
    JOIN rfm_scores r ON r.customer_id = a.customer_id
    WHERE a.survey_date > {{ as_of }} - {{ survey_window_days | days }}
),
per_segment AS (
    SELECT segment,
        COUNT(csat) AS responses,
        (CAST(SUM(score) AS DOUBLE) / NULLIF(COUNT(score), 0) - 1) * 25 AS satisfaction_index,
        AVG(CASE WHEN csat >= 4 THEN 1.0 WHEN csat IS NOT NULL THEN 0.0 END) AS csat,
        100.0 * (COUNT(*) FILTER (WHERE nps >= 9) - COUNT(*) FILTER (WHERE nps <= 6))
            / NULLIF(COUNT(nps), 0) AS nps
    FROM answers
    GROUP BY segment
)
-- rfm_segment_summary lists every segment, in order, with its customers.
SELECT s.segment_order, s.segment, s.customers,
    COALESCE(p.responses, 0) AS responses,
    p.satisfaction_index, p.csat, p.nps
FROM rfm_segment_summary s
LEFT JOIN per_segment p ON p.segment = s.segment
ORDER BY s.segment_order
