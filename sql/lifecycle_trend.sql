-- lifecycle_trend: customers per lifecycle stage over time, at
-- `lifecycle_trend_dates` dates: as_of and every `churn_days` days before it
-- (period 0 is as_of, period 1 as_of - churn_days, and so on). At each date,
-- every customer who had made a completed order by then is in the stage the
-- rules of lifecycle_stages.sql give from their orders up to that date: what
-- a run dated then gives. Per date and stage:
--   period, date      the date (period: how many churn_days back)
--   stage_order, stage   every stage, in lifecycle order (0 where empty)
--   customers         customers in the stage at the date
--   share             of the customers who had bought by the date (NULL
--                     where none had)
-- Period 0's counts are lifecycle_summary's.
--
-- The dates are churn_days apart so that each date's last churn_days days
-- (the rules' recent spend) are the days since the date before: the orders
-- are read once, by customer_summary, into one set of figures per date and
-- its period, and each date's stage is worked out from them here:
--   churned        by the last order by the date (it may be on the day
--                  before the period: churned is more than churn_days
--                  before the date)
--   came back      that last order is the only purchase day of its period
--                  (the period's first is the last), more than churn_days
--                  after the last purchase before the period (with two
--                  purchase days in the period, the gap before the last is
--                  under churn_days)
--   spend          monetary less the revenue of the periods after the date
{%- from "_figures.sql" import churned, lifecycle_stage, lifecycle_stage_order, earlier_avg_revenue %}
{%- set n = lifecycle_trend_dates %}
{#- the last completed order by date j (as_of - j * churn_days) #}
{%- macro last_by(j) -%}
    {% if j == 0 %}last_order_date{% else %}last_order_date_{{ j }}{% endif %}
{%- endmacro %}
{#- the revenue of period j (customer_summary's period 0 is recent_revenue) #}
{%- macro period_revenue(j) -%}
    {% if j == 0 %}recent_revenue{% else %}period_{{ j }}_revenue{% endif %}
{%- endmacro %}
{#- period j's last order (the last by date j, where the period has one) is
    its only purchase day, and more than churn_days after the last order
    before the period #}
{%- macro came_back_in(j) -%}
    (period_{{ j }}_first_date = {{ last_by(j) }}
        AND {{ last_by(j) }} - {{ last_by(j + 1) }} > {{ churn_days }})
{%- endmacro %}
WITH stages AS (
    {{ lifecycle_stage_order() }}
),
dates AS (
    SELECT * FROM (VALUES
    {%- for k in range(n) %}
        ({{ k }}, CAST({{ as_of }} - {{ (k * churn_days) | days }} AS DATE)){% if not loop.last %},{% endif %}
    {%- endfor %}
    ) AS t(period, date)
),
staged AS (
{%- for k in range(n) %}
{%- set day %}CAST({{ as_of }} - {{ (k * churn_days) | days }} AS DATE){% endset %}
    {%- if not loop.first %}
    UNION ALL
    {%- endif %}
    SELECT {{ k }} AS period,
        {{ lifecycle_stage("churned", "is_new", "recovered", "recent_revenue", "earlier_avg_revenue") }} AS stage
    FROM (
        SELECT churned, is_new, recovered, recent_revenue,
            {{ earlier_avg_revenue("spend", "recent_revenue", "first_order_date", day, churn_days) }} AS earlier_avg_revenue
        FROM (
            SELECT first_order_date,
                {{ churned(last_by(k), day, churn_days) }} AS churned,
                first_order_date > CAST({{ as_of }} - {{ ((k + 1) * churn_days) | days }} AS DATE) AS is_new,
                -- not churned: the last order is in the period, or on the day
                -- before it
                CASE WHEN period_{{ k }}_first_date IS NOT NULL THEN {{ came_back_in(k) }}
                    ELSE {{ came_back_in(k + 1) }} END AS recovered,
                {{ period_revenue(k) }} AS recent_revenue,
                ROUND(monetary{% for j in range(k) %} - {{ period_revenue(j) }}{% endfor %}, 6) AS spend
            FROM customer_summary
            WHERE first_order_date <= {{ day }}
        )
    )
{%- endfor %}
),
counts AS (SELECT period, stage, COUNT(*) AS customers FROM staged GROUP BY period, stage)
-- each date's total from its 6 rows (a window over them), not from staged
-- again: a CTE read twice is computed twice
SELECT d.period, d.date, s.stage_order, s.stage,
    COALESCE(c.customers, 0) AS customers,
    CAST(COALESCE(c.customers, 0) AS DOUBLE)
        / NULLIF(SUM(COALESCE(c.customers, 0)) OVER (PARTITION BY d.period), 0) AS share
FROM dates d CROSS JOIN stages s
LEFT JOIN counts c ON c.period = d.period AND c.stage = s.stage
ORDER BY d.period DESC, s.stage_order
