-- satisfaction_index: the weighted satisfaction index, CSAT and NPS for the
-- current period (the `compare_days` days ending with `as_of`) and the
-- previous one (the `compare_days` days before that), over the answers
-- dated in each (survey_answers.sql, which also holds the weight check).
--   satisfaction_index  the answers' weighted dimension scores averaged over
--                       the answers with all four, mapped to 0-100 by
--                       (avg - 1) * 25
--   csat                share of answers with CSAT 4-5
--   nps                 % promoters (9-10) - % detractors (0-6) among answers
--                       with an NPS, from -100 to 100
-- `responses` is the answers with a CSAT.
WITH periods AS (
    SELECT * FROM (VALUES
        ('current', {{ as_of }} - {{ compare_days | days }} + INTERVAL '1 day', {{ as_of }}),
        ('previous', {{ as_of }} - {{ (2 * compare_days) | days }} + INTERVAL '1 day', {{ as_of }} - {{ compare_days | days }})
    ) AS t(period, period_start, period_end)
),
answers AS (
    SELECT p.period, a.csat, a.nps, a.score
    FROM periods p
    JOIN survey_answers a ON a.survey_date BETWEEN p.period_start AND p.period_end
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
