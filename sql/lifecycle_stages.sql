-- lifecycle_stages: the lifecycle stage of each customer with a completed
-- order, from their order history as of `as_of`. The first rule that holds wins:
--   1 churned    last completed order more than `churn_days` days before as_of
--   2 new        first completed order within the last `churn_days` days
--   3 recovered  came back: the gap before their latest completed order was
--                longer than `churn_days` days
--   4 declining  spend in the last `churn_days` days is under half their own
--                earlier average for a period of that length
--   5 growth     repeat purchases with rising spend: spend in the last
--                `churn_days` days above their earlier average
--   6 mature     the rest: repeat buyers spending steadily
-- Spend is purchases minus refunds. The earlier average is the spend before
-- the last period scaled to its length: (monetary - recent_revenue) /
-- (days from the first order to the start of the last period) * churn_days.
-- The gap before the latest order comes from customer_history (the latest
-- purchase day before the last one), not from a window over every purchase,
-- which would sort all orders.
-- prev_stage is the stage by the same rules at the previous period,
-- as_of - `compare_days`, from the orders up to then: what a run dated then
-- gives (NULL for a customer who had not bought by then).
{%- from "_figures.sql" import churned, lifecycle_stage, earlier_avg_revenue %}
{%- set prev_day %}CAST({{ as_of }} - {{ compare_days | days }} AS DATE){% endset %}
{#- The stage from the figures of one date: their columns are named with the
    prefix `p` ('' for as_of, 'prev_' for the previous period). #}
{%- macro stage(p) -%}
    {{ lifecycle_stage(p ~ "churned", p ~ "is_new", p ~ "last_gap_days > " ~ churn_days, p ~ "recent_revenue", p ~ "earlier_avg_revenue") }}
{%- endmacro %}
WITH c AS (
    SELECT co.customer_id, co.first_order_date, co.last_order_date, co.orders,
        co.monetary, co.recent_revenue,
        co.last_order_date - h.previous_order_date AS last_gap_days,
        -- churned now and then by the rule customer_status.sql applies
        -- (_figures.sql), from the same columns here rather than joined from
        -- it: one join fewer (the per-customer hash tables are what a low
        -- memory limit has to hold)
        {{ churned("co.last_order_date", as_of | sql, churn_days) }} AS churned,
        co.first_order_date > CAST({{ as_of }} - {{ churn_days | days }} AS DATE) AS is_new,
        co.prev_last_order_date,
        co.prev_monetary,
        co.prev_recent_revenue,
        co.prev_last_order_date - h.prev_previous_order_date AS prev_last_gap_days,
        {{ churned("co.prev_last_order_date", prev_day, churn_days) }} AS prev_churned,
        co.first_order_date > CAST({{ as_of }} - {{ compare_days | days }} - {{ churn_days | days }} AS DATE) AS prev_is_new
    FROM customer_orders co
    LEFT JOIN customer_history h ON h.customer_id = co.customer_id
),
staged AS (
    SELECT *,
        {{ earlier_avg_revenue("monetary", "recent_revenue", "first_order_date", as_of | sql, churn_days) }} AS earlier_avg_revenue,
        {{ earlier_avg_revenue("prev_monetary", "prev_recent_revenue", "first_order_date", prev_day, churn_days) }} AS prev_earlier_avg_revenue
    FROM c
)
SELECT
    customer_id,
    {{ stage("") }} AS stage,
    first_order_date,
    last_order_date,
    orders,
    recent_revenue,
    earlier_avg_revenue,
    last_gap_days,
    CASE WHEN prev_last_order_date IS NOT NULL THEN {{ stage("prev_") }} END AS prev_stage
FROM staged
