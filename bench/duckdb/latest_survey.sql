-- latest_survey: each customer's latest survey answer up to `as_of`, with the
-- satisfaction level it puts them in:
--   satisfied     CSAT 4-5
--   neutral       CSAT 3
--   dissatisfied  CSAT 1-2
-- Ties on survey_ts are broken by the larger response_id.
SELECT customer_id, response_id, survey_ts, csat, nps,
    CASE WHEN csat >= 4 THEN 'satisfied' WHEN csat = 3 THEN 'neutral' ELSE 'dissatisfied' END AS satisfaction_level
FROM (
    SELECT *,
        ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY survey_ts DESC, response_id DESC) AS rn
    FROM surveys
    WHERE CAST(survey_ts AS DATE) <= {{ as_of }}
)
WHERE rn = 1
