-- satisfaction_index: the weighted satisfaction index, CSAT and NPS for the
-- current period (the `compare_days` days ending with `as_of`) and the
-- previous one (the `compare_days` days before that).
--   satisfaction_index  per answer: the weighted sum of the four dimension
--                       scores (1-5), weights from the params (they must sum
--                       to 1), mapped to 0-100 by (x - 1) / 4 * 100; averaged
--                       over answers with all four scores. The weighted
--                       sums are added up exactly, as DECIMAL(38, 6), and
--                       mapped after averaging ((avg - 1) * 25), so the index
--                       is the same run after run (see customer_orders.sql)
--   csat                share of answers with CSAT 4-5
--   nps                 % promoters (9-10) - % detractors (0-6) among answers
--                       with an NPS, from -100 to 100
-- A value off its scale (CSAT or a dimension score outside 1-5, an NPS
-- outside 0-10) counts as not given: the source checks count such answers.
-- `responses` is the answers with a CSAT.
{%- set weight_sum = weight_product_quality + weight_service_quality + weight_price + weight_communication %}
{%- if (weight_sum - 1) | abs > 0.000001 %}
{{- raise("the satisfaction weights (weight_product_quality, weight_service_quality, weight_price, weight_communication) must sum to 1; they sum to " ~ weight_sum) }}
{%- endif %}
WITH periods AS (
    SELECT * FROM (VALUES
        ('current', {{ as_of }} - {{ compare_days | days }} + INTERVAL '1 day', {{ as_of }}),
        ('previous', {{ as_of }} - {{ (2 * compare_days) | days }} + INTERVAL '1 day', {{ as_of }} - {{ compare_days | days }})
    ) AS t(period, period_start, period_end)
),
answers AS (
    SELECT p.period, p.period_start, p.period_end,
        CASE WHEN s.csat BETWEEN 1 AND 5 THEN s.csat END AS csat,
        CASE WHEN s.nps BETWEEN 0 AND 10 THEN s.nps END AS nps,
        CASE WHEN s.product_quality BETWEEN 1 AND 5 AND s.service_quality BETWEEN 1 AND 5
                AND s.price BETWEEN 1 AND 5 AND s.communication BETWEEN 1 AND 5
            THEN CAST({{ weight_product_quality }} * s.product_quality
                + {{ weight_service_quality }} * s.service_quality
                + {{ weight_price }} * s.price
                + {{ weight_communication }} * s.communication AS DECIMAL(38, 6))
        END AS score
    FROM periods p
    JOIN surveys s
      ON CAST(s.survey_ts AS DATE) BETWEEN p.period_start AND p.period_end
)
SELECT p.period, p.period_start, p.period_end,
    COUNT(a.csat) AS responses,
    (CAST(SUM(a.score) AS DOUBLE) / COUNT(a.score) - 1) * 25 AS satisfaction_index,
    AVG(CASE WHEN a.csat >= 4 THEN 1.0 WHEN a.csat IS NOT NULL THEN 0.0 END) AS csat,
    100.0 * (COUNT(*) FILTER (WHERE a.nps >= 9) - COUNT(*) FILTER (WHERE a.nps <= 6))
        / NULLIF(COUNT(a.nps), 0) AS nps
FROM periods p
LEFT JOIN answers a ON a.period = p.period
GROUP BY p.period, p.period_start, p.period_end
ORDER BY p.period_end DESC
