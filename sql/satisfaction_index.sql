-- satisfaction_index: the weighted satisfaction index, CSAT and NPS for the
-- current period (the `compare_days` days ending with `as_of`) and the
-- previous one (the `compare_days` days before that), over the answers
-- dated in each (survey_answers.sql, which also holds the weight check):
-- responses, satisfaction_index, csat and nps, as _figures.sql defines them.
{%- from "_figures.sql" import satisfaction_figures %}
WITH periods AS (
    SELECT * FROM (VALUES
        ('current', CAST({{ as_of }} - {{ compare_days | days }} + INTERVAL '1 day' AS DATE), {{ as_of }}),
        ('previous', CAST({{ as_of }} - {{ (2 * compare_days) | days }} + INTERVAL '1 day' AS DATE), CAST({{ as_of }} - {{ compare_days | days }} AS DATE))
    ) AS t(period, period_start, period_end)
),
answers AS (
    SELECT p.period, a.csat, a.nps, a.score
    FROM periods p
    JOIN survey_answers a ON a.survey_date BETWEEN p.period_start AND p.period_end
)
SELECT p.period, p.period_start, p.period_end,
    {{ satisfaction_figures("a") }}
FROM periods p
LEFT JOIN answers a ON a.period = p.period
GROUP BY p.period, p.period_start, p.period_end
ORDER BY p.period_end DESC
