-- satisfaction_by_segment: satisfaction per RFM segment: the answers given
-- in the `survey_window_days` days up to and including `as_of`
-- (survey_answers.sql) by customers with a completed order, grouped by the
-- segment the customer is in at as_of (rfm_scores.sql). Per segment:
-- customers, and responses, satisfaction_index, csat and nps as in
-- satisfaction_index.sql (_figures.sql defines them for both).
-- Every segment is listed, in the segments' order; one without answers has
-- no figures.
{%- from "_figures.sql" import satisfaction_figures %}
WITH answers AS (
    SELECT r.segment, a.csat, a.nps, a.score
    FROM survey_answers a
    JOIN rfm_scores r ON r.customer_id = a.customer_id
    WHERE a.survey_date > {{ as_of }} - {{ survey_window_days | days }}
),
per_segment AS (
    SELECT a.segment,
        {{ satisfaction_figures("a") }}
    FROM answers a
    GROUP BY a.segment
)
-- rfm_segment_summary lists every segment, in order, with its customers.
SELECT s.segment_order, s.segment, s.customers,
    COALESCE(p.responses, 0) AS responses,
    p.satisfaction_index, p.csat, p.nps
FROM rfm_segment_summary s
LEFT JOIN per_segment p ON p.segment = s.segment
ORDER BY s.segment_order
