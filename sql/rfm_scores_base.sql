-- rfm_scores_base: RFM scores (period 'base', as rfm_scores_all.sql
-- defines them) at the start of the contribution window, as_of -
-- `contribution_window_days`, for every customer with a completed order by
-- then: the segments customer_lifetime_value.sql follows. Orders and revenue
-- by then are the totals less the window's (revenue rounded again to a
-- millionth, as customer_summary.sql rounds its sums). A step of its own, not
-- a third period of rfm_scores_all: under a memory limit steps run one at a
-- time, and the three periods' nine sorts side by side did not fit in 128 MiB
-- at 2M customers.
{%- from "_rfm.sql" import scored %}
WITH metrics AS (
    SELECT 'base' AS period, customer_id,
        CAST({{ as_of }} - {{ contribution_window_days | days }} AS DATE) - base_last_order_date AS recency_days,
        orders - window_orders AS frequency,
        ROUND(monetary - COALESCE(window_revenue, 0), 6) AS monetary
    FROM customer_orders
    WHERE base_last_order_date IS NOT NULL
),
{{ scored(["base"]) }}
