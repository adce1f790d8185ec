-- survey_answers: every survey answer up to `as_of`, its values on their
-- scales, and its weighted score: what satisfaction_index and
-- satisfaction_by_segment average, defined once.
--   survey_ts   the answer's instant, as a timestamp (latest_survey.sql and
--               the steps picking each customer's newest answer order by it)
--   csat, nps   the answer's values; a value off its scale (CSAT not a
--               whole number from 1 to 5, NPS not one from 0 to 10: either
--               may be written as float64) counts as not given (the source
--               checks count such answers)
--   score       the weighted sum of the four dimension scores (1-5), weights
--               from the params (they must sum to 1), as DECIMAL(38, 6) so
--               that averages of it are the same run after run (see
--               customer_summary.sql); NULL unless all four are on 1-5. The
--               satisfaction index of a set of answers is
--               (average score - 1) * 25, on 0-100.
{%- set weight_sum = weight_product_quality + weight_service_quality + weight_price + weight_communication %}
{%- if (weight_sum - 1) | abs > 0.000001 %}
{{- raise("the satisfaction weights (weight_product_quality, weight_service_quality, weight_price, weight_communication) must sum to 1; they sum to " ~ weight_sum) }}
{%- endif %}
SELECT
    response_id,
    customer_id,
    CAST(survey_ts AS TIMESTAMP) AS survey_ts,
    CAST(survey_ts AS DATE) AS survey_date,
    CASE WHEN csat IN (1, 2, 3, 4, 5) THEN csat END AS csat,
    CASE WHEN nps IN (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) THEN nps END AS nps,
    CASE WHEN product_quality BETWEEN 1 AND 5 AND service_quality BETWEEN 1 AND 5
            AND price BETWEEN 1 AND 5 AND communication BETWEEN 1 AND 5
        THEN CAST({{ weight_product_quality }} * product_quality
            + {{ weight_service_quality }} * service_quality
            + {{ weight_price }} * price
            + {{ weight_communication }} * communication AS DECIMAL(38, 6))
    END AS score
FROM surveys
WHERE CAST(survey_ts AS DATE) <= {{ as_of }}
