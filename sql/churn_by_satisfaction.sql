-- churn_by_satisfaction: churn at `as_of` by the CSAT (1-5) of each
-- customer's latest survey answer given more than `churn_days` days before
-- as_of, for customers with a completed order: customers, churned, churn
-- rate and its 95% Wilson score interval (z = 1.96), beside the textbook
-- benchmark. An answer that old leaves the customer the whole `churn_days`
-- up to as_of to buy again after it, so one not churned has bought again
-- since the answer. An answer of last week says nothing yet (its customer,
-- who has just bought, cannot have churned since), and counted it would pull
-- every rate towards 0. Answers off the CSAT scale (survey_answers.sql's)
-- are passed over, as in latest_survey.sql.
-- The benchmark (Kotler, in the domain brief): a firm may lose 80% of barely
-- satisfied customers, 30% of neutral ones, 10% of fairly satisfied ones and
-- 1-2% (1.5% here) of highly satisfied ones. CSAT 1 (very dissatisfied) has
-- no figure of its own there and takes the barely-satisfied one. Edit the
-- benchmark VALUES to use your own.
{%- from "_figures.sql" import wilson_interval, newest_per_customer %}
WITH benchmark AS (
    SELECT * FROM (VALUES
        (1, 'very dissatisfied', 'barely satisfied or worse', 0.80),
        (2, 'dissatisfied',      'barely satisfied',          0.80),
        (3, 'neutral',           'neutral',                   0.30),
        (4, 'satisfied',         'fairly satisfied',          0.10),
        (5, 'very satisfied',    'highly satisfied',          0.015)
    ) AS t(csat, label, benchmark_label, benchmark_churn_rate)
),
agg AS (
    SELECT s.csat, COUNT(*) AS customers, COUNT(*) FILTER (WHERE st.churned) AS churned
    FROM {% call newest_per_customer("survey_ts DESC, response_id DESC") %}
        SELECT customer_id, response_id, survey_ts, csat FROM survey_answers
        WHERE survey_date < {{ as_of }} - {{ churn_days | days }}
          AND csat IS NOT NULL
    {% endcall %} s
    JOIN customer_status st ON st.customer_id = s.customer_id
    GROUP BY s.csat
),
rates AS (
    SELECT b.*, COALESCE(a.customers, 0) AS customers, COALESCE(a.churned, 0) AS churned,
        CAST(a.churned AS DOUBLE) / NULLIF(a.customers, 0) AS p,
        CAST(a.customers AS DOUBLE) AS n
    FROM benchmark b LEFT JOIN agg a ON a.csat = b.csat
)
SELECT
    csat, label, customers, churned,
    p AS churn_rate,
    {{ wilson_interval("p", "n") }},
    benchmark_label,
    benchmark_churn_rate
FROM rates
ORDER BY csat
