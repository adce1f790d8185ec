-- latest_survey: each customer's latest survey answer up to `as_of` with a
-- usable CSAT (1-5), with the satisfaction level it puts them in:
--   satisfied     CSAT 4-5
--   neutral       CSAT 3
--   dissatisfied  CSAT 1-2
-- Ties on survey_ts are broken by the larger response_id. An answer whose
-- CSAT is missing or off the scale (not a whole number from 1 to 5: a CSAT
-- written as float64, as pandas writes an integer column with gaps, may be
-- 4.5) says nothing of the customer's satisfaction and is passed over (the
-- source checks count such answers); an NPS off its scale (a whole number
-- from 0 to 10) reads as no NPS. Both scales are survey_answers.sql's.
--
-- The newest answer: _figures.sql's newest_per_customer.
{%- from "_figures.sql" import newest_per_customer %}
SELECT customer_id, response_id, survey_ts, csat, nps,
    CASE WHEN csat >= 4 THEN 'satisfied' WHEN csat = 3 THEN 'neutral' ELSE 'dissatisfied' END AS satisfaction_level
FROM {% call newest_per_customer("survey_ts DESC, response_id DESC") %}
    SELECT customer_id, response_id, survey_ts, csat, nps FROM survey_answers
    WHERE csat IS NOT NULL
{% endcall %}
