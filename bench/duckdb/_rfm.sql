{#- RFM scoring, shared by rfm_scores_all.sql and rfm_scores_base.sql. Not a
    step: a step defines a CTE `metrics` (period, customer_id, recency_days,
    frequency, monetary), then imports and calls
    {% from "_rfm.sql" import scored %}
    {{ scored(["current", "previous"]) }}
    which adds the CTEs and the SELECT that score each period's customers:

      r/f/m_score   quintiles 1-5 (5 best) of equal size: customers are sorted
                    (recency descending, frequency and monetary ascending), ties
                    broken by customer_id, and cut into 5 groups whose sizes
                    differ by at most one, larger groups first. This is what
                    NTILE(5) gives, computed from ROW_NUMBER and the count so
                    that it streams over a sort that can spill, where NTILE
                    would hold every customer in memory.
      rfm_code, segment   from rfm_segment_codes -#}

{#- The quintile of 0-based position p among n = 5q + r: the first r groups hold q + 1. -#}
{%- macro quintile(pos) -%}
    CASE WHEN {{ pos | safe }} < s.r * (s.q + 1) THEN {{ pos | safe }} // (s.q + 1) + 1
         ELSE ({{ pos | safe }} - s.r * (s.q + 1)) // NULLIF(s.q, 0) + s.r + 1 END
{%- endmacro %}

{%- macro scored(periods) -%}
sizes AS (
    SELECT period, COUNT(*) AS n, COUNT(*) // 5 AS q, COUNT(*) % 5 AS r
    FROM metrics
    GROUP BY period
),
{#- Each period is ranked in a branch of its own, so that the periods'
    sorts run side by side (windows PARTITION BY period over both took
    1.57 s against 1.11 s at 500k customers). #}
positions AS (
    {%- for period in periods %}
    {%- if not loop.first %}
    UNION ALL
    {%- endif %}
    SELECT *,
        CAST(ROW_NUMBER() OVER (ORDER BY recency_days DESC, customer_id) AS BIGINT) - 1 AS r_pos,
        CAST(ROW_NUMBER() OVER (ORDER BY frequency, customer_id) AS BIGINT) - 1 AS f_pos,
        CAST(ROW_NUMBER() OVER (ORDER BY monetary, customer_id) AS BIGINT) - 1 AS m_pos
    FROM metrics
    WHERE period = {{ period }}
    {%- endfor %}
),
scored AS (
    SELECT p.period, p.customer_id, p.recency_days, p.frequency, p.monetary,
        CAST({{ quintile("p.r_pos") }} AS INT) AS r_score,
        CAST({{ quintile("p.f_pos") }} AS INT) AS f_score,
        CAST({{ quintile("p.m_pos") }} AS INT) AS m_score
    FROM positions p JOIN sizes s ON p.period = s.period
)
SELECT
    sc.*,
    c.rfm_code,
    c.segment
FROM scored sc
JOIN rfm_segment_codes c
  ON c.code = sc.r_score * 25 + sc.f_score * 5 + sc.m_score
{%- endmacro %}
