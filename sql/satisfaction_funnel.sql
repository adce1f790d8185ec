-- satisfaction_funnel: from survey answer to loyalty, for customers who
-- answered a survey in the funnel's window: the `survey_window_days` days
-- ending `repurchase_days` days before as_of, so that every answer followed
-- has had its full `repurchase_days` to be followed by a purchase (an answer
-- of last week, with a week to buy again so far, would count as not bought
-- again and pull that stage down). Each customer is judged by their latest
-- answer in that window (latest by survey_ts, then response_id, among
-- answers with a CSAT on its scale, as latest_survey.sql picks):
--   1 surveyed     answered a survey in the window
--   2 satisfied    ... and that answer's CSAT is 4-5
--   3 repurchased  ... and they made a completed order after the answer,
--                  within `repurchase_days` days of it
--   4 retained     ... and they have not churned at as_of (customer_status.sql)
--   5 promoter     ... and that answer's NPS is 9-10 (an answer without
--                  an NPS is not a promoter's; where no answer followed has
--                  one, the stage's customers are NULL: not asked, not 0)
-- Each stage is a subset of the one before. Per stage: customers, share of
-- the surveyed, and conversion from the previous stage. window_start and
-- window_end are the first and last answer dates followed.
{%- from "_figures.sql" import newest_per_customer %}
{%- set window_start %}CAST({{ as_of }} - {{ repurchase_days | days }} - {{ survey_window_days | days }} + INTERVAL '1 day' AS DATE){% endset %}
{%- set window_end %}CAST({{ as_of }} - {{ repurchase_days | days }} AS DATE){% endset %}
WITH latest AS (
    SELECT customer_id, survey_ts,
        -- once per answer here, not once per order in the join below
        survey_ts + {{ repurchase_days | days }} AS repurchase_until,
        csat, nps
    FROM {% call newest_per_customer("survey_ts DESC, response_id DESC") %}
        SELECT customer_id, response_id, survey_ts, csat, nps
        FROM survey_answers
        WHERE survey_date >= {{ window_start }}
          AND survey_date <= {{ window_end }}
          AND csat IS NOT NULL
    {% endcall %}
),
repurchase AS (
    SELECT l.customer_id
    FROM latest l
    JOIN orders_asof o ON o.customer_id = l.customer_id
    WHERE o.status = 'completed'
      -- implied by the next line; stated so the orders are filtered before the join
      AND o.order_ts >= CAST({{ window_start }} AS TIMESTAMP)
      AND o.order_ts > l.survey_ts
      AND o.order_ts <= l.repurchase_until
    GROUP BY l.customer_id
),
flags AS (
    SELECT
        l.csat >= 4 AS satisfied,
        r.customer_id IS NOT NULL AS repurchased,
        COALESCE(NOT st.churned, FALSE) AS retained,
        COALESCE(l.nps >= 9, FALSE) AS promoter,
        l.nps IS NOT NULL AS has_nps
    FROM latest l
    LEFT JOIN repurchase r ON r.customer_id = l.customer_id
    LEFT JOIN customer_status st ON st.customer_id = l.customer_id
),
counts AS (
    SELECT
        COUNT(*) AS surveyed,
        COUNT(*) FILTER (WHERE satisfied) AS satisfied,
        COUNT(*) FILTER (WHERE satisfied AND repurchased) AS repurchased,
        COUNT(*) FILTER (WHERE satisfied AND repurchased AND retained) AS retained,
        -- unknown where no answer followed carries an NPS (none was asked)
        CASE WHEN BOOL_OR(has_nps) THEN
            COUNT(*) FILTER (WHERE satisfied AND repurchased AND retained AND promoter)
        END AS promoter
    FROM flags
),
stages AS (
    SELECT * FROM (VALUES
        (1, 'surveyed'), (2, 'satisfied'), (3, 'repurchased'), (4, 'retained'), (5, 'promoter')
    ) AS t(stage_order, stage)
),
picked AS (
    SELECT s.stage_order, s.stage,
        CASE s.stage_order
            WHEN 1 THEN c.surveyed WHEN 2 THEN c.satisfied WHEN 3 THEN c.repurchased
            WHEN 4 THEN c.retained ELSE c.promoter
        END AS customers,
        CASE s.stage_order
            WHEN 1 THEN c.surveyed WHEN 2 THEN c.surveyed WHEN 3 THEN c.satisfied
            WHEN 4 THEN c.repurchased ELSE c.retained
        END AS previous,
        c.surveyed AS first
    FROM stages s CROSS JOIN counts c
)
SELECT stage_order, stage, customers,
    CAST(customers AS DOUBLE) / NULLIF(first, 0) AS share_of_surveyed,
    CAST(customers AS DOUBLE) / NULLIF(previous, 0) AS conversion_from_previous,
    {{ window_start }} AS window_start,
    {{ window_end }} AS window_end
FROM picked
ORDER BY stage_order
