{#- Figures that more than one step computes, defined once here. Not a step:
    steps import them, e.g.
    {% from "_figures.sql" import wilson_interval %}
    Arguments are SQL expressions, written as given. -#}

{#- The 95% Wilson score interval (z = 1.96) of the rate `p` over `n` cases
    (a DOUBLE), as churn_rate_low and churn_rate_high; NULL where n is 0. -#}
{%- macro wilson_interval(p, n) -%}
    ({{ p | safe }} + 1.96 * 1.96 / (2 * {{ n | safe }}) - 1.96 * SQRT({{ p | safe }} * (1 - {{ p | safe }}) / {{ n | safe }} + 1.96 * 1.96 / (4 * {{ n | safe }} * {{ n | safe }})))
        / (1 + 1.96 * 1.96 / {{ n | safe }}) AS churn_rate_low,
    ({{ p | safe }} + 1.96 * 1.96 / (2 * {{ n | safe }}) + 1.96 * SQRT({{ p | safe }} * (1 - {{ p | safe }}) / {{ n | safe }} + 1.96 * 1.96 / (4 * {{ n | safe }} * {{ n | safe }})))
        / (1 + 1.96 * 1.96 / {{ n | safe }}) AS churn_rate_high
{%- endmacro %}

{#- Aggregates over survey answers (survey_answers.sql's csat, nps and score,
    qualified by `a`), as responses, satisfaction_index, csat and nps:
      responses           answers with a CSAT
      satisfaction_index  the weighted scores averaged over the answers with
                          all four dimensions, mapped to 0-100 by
                          (avg - 1) * 25 (mapped after averaging, on exact
                          sums, so the index is the same run after run)
      csat                share of answers with CSAT 4-5
      nps                 % promoters (9-10) - % detractors (0-6) among the
                          answers with an NPS, from -100 to 100 -#}
{%- macro satisfaction_figures(a) -%}
    COUNT({{ a | safe }}.csat) AS responses,
    (CAST(SUM({{ a | safe }}.score) AS DOUBLE) / NULLIF(COUNT({{ a | safe }}.score), 0) - 1) * 25 AS satisfaction_index,
    AVG(CASE WHEN {{ a | safe }}.csat >= 4 THEN 1.0 WHEN {{ a | safe }}.csat IS NOT NULL THEN 0.0 END) AS csat,
    100.0 * (COUNT(*) FILTER (WHERE {{ a | safe }}.nps >= 9) - COUNT(*) FILTER (WHERE {{ a | safe }}.nps <= 6))
        / NULLIF(COUNT({{ a | safe }}.nps), 0) AS nps
{%- endmacro %}

{#- Whether a customer has churned by `day`: their last completed order
    (`last_date`) more than `churn_days` days before it. Both are DATE
    expressions; pass the date param as `as_of | sql`. The one churn rule:
    customer_status, lifecycle_stages and customer_lifetime_value apply it,
    now and at the previous period. -#}
{%- macro churned(last_date, day, churn_days) -%}
    ({{ day | safe }} - {{ last_date | safe }}) > {{ churn_days }}
{%- endmacro %}

{#- A customer's lifecycle stage on a day, by the rules lifecycle_stages.sql
    states, from the figures of that day (boolean and number expressions):
    churned, new, came back after a gap of more than churn_days, and the
    spend of the last churn_days days (`recent`) against their earlier
    average for a period of that length (`earlier_avg`). The one set of
    rules: lifecycle_stages and lifecycle_trend apply it. -#}
{%- macro lifecycle_stage(churned, is_new, recovered, recent, earlier_avg) -%}
    CASE
        WHEN {{ churned | safe }} THEN 'churned'
        WHEN {{ is_new | safe }} THEN 'new'
        WHEN {{ recovered | safe }} THEN 'recovered'
        WHEN {{ recent | safe }} < 0.5 * {{ earlier_avg | safe }} THEN 'declining'
        WHEN {{ recent | safe }} > {{ earlier_avg | safe }} THEN 'growth'
        ELSE 'mature'
    END
{%- endmacro %}

{#- The stages lifecycle_stage gives, in lifecycle order, as a table of
    stage_order and stage: the summaries list every stage by it. -#}
{%- macro lifecycle_stage_order() -%}
    SELECT * FROM (VALUES
        (1, 'new'), (2, 'growth'), (3, 'mature'), (4, 'declining'), (5, 'churned'), (6, 'recovered')
    ) AS t(stage_order, stage)
{%- endmacro %}

{#- A customer's earlier average spend on `day` for a period of churn_days
    days: their spend up to the day less the last churn_days days' (`spend`
    and `recent`), over the days from their first order (`first_date`) to
    the start of those last days (at least 1), times churn_days. `day` is a
    DATE expression. -#}
{%- macro earlier_avg_revenue(spend, recent, first_date, day, churn_days) -%}
    ({{ spend | safe }} - {{ recent | safe }})
        / GREATEST(CAST({{ day | safe }} - {{ churn_days | days }} AS DATE) - {{ first_date | safe }} + 1, 1)
        * {{ churn_days }}
{%- endmacro %}

{#- Each customer's newest row among the rows the call block selects (which
    have a customer_id), newest by `newest_first`, for example:
      {% call newest_per_customer("survey_ts DESC, response_id DESC") %}
          SELECT * FROM survey_answers WHERE csat IS NOT NULL
      {% endcall %}
    A subquery, with the rows' columns and `n`, `previous_customer`. The rows
    are put in one order (customer, newest first) and a customer's first row
    is kept: the row that starts the table or follows another customer's.
    This is ROW_NUMBER() OVER (PARTITION BY customer_id ...) = 1 without the
    per-customer partitions, which cost DataFusion about 2 µs a row: at 500k
    customers (260k answers) latest_survey took 0.48 s that way, 0.17 s this;
    and its one sort can spill. -#}
{%- macro newest_per_customer(newest_first) -%}
(
    SELECT * FROM (
        SELECT *,
            ROW_NUMBER() OVER newest_first AS n,
            LAG(customer_id) OVER newest_first AS previous_customer
        FROM ({{ caller() }})
        WINDOW newest_first AS (ORDER BY customer_id, {{ newest_first | safe }})
    )
    WHERE n = 1 OR previous_customer IS DISTINCT FROM customer_id
)
{%- endmacro %}
