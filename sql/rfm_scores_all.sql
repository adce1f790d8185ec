-- rfm_scores_all: RFM scores at `as_of` (period 'current') and at the
-- previous period, as_of - `compare_days` (period 'previous'), for every
-- customer with a completed order by that date.
--
--   recency_days  days from the last completed order to the period's date
--   frequency     distinct completed orders
--   monetary      sum of amount, refunds included, cancelled orders excluded
--   r/f/m_score   quintiles 1-5 (5 best) of equal size, ties broken by
--                 customer_id: NTILE(5) computed so that it can spill (_rfm.sql)
{%- from "_rfm.sql" import scored %}
WITH metrics AS (
    SELECT 'current' AS period, customer_id,
        {{ as_of }} - last_order_date AS recency_days,
        orders AS frequency,
        monetary
    FROM customer_orders
    UNION ALL
    SELECT 'previous' AS period, customer_id,
        CAST({{ as_of }} - {{ compare_days | days }} AS DATE) - prev_last_order_date AS recency_days,
        prev_orders AS frequency,
        prev_monetary AS monetary
    FROM customer_orders
    WHERE prev_last_order_date IS NOT NULL
),
{{ scored(["current", "previous"]) }}
