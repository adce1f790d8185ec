-- customer_status: churned or active at `as_of`, per customer with a
-- completed order. A customer is churned when their last completed order is
-- more than `churn_days` days before as_of (as_of - last_order_date > churn_days).
-- `churned_prev` is the same at the previous period (as_of - compare_days),
-- for customers who had bought by then. orders, prev_orders, monetary and
-- window_revenue are customer_orders', passed on for the steps that group
-- customers.
{%- from "_figures.sql" import churned %}
{%- set prev_day %}CAST({{ as_of }} - {{ compare_days | days }} AS DATE){% endset %}
SELECT
    customer_id,
    first_order_date,
    last_order_date,
    orders,
    prev_orders,
    monetary,
    window_revenue,
    {{ as_of }} - last_order_date AS days_since_last_order,
    {{ churned("last_order_date", as_of | sql, churn_days) }} AS churned,
    CASE
        WHEN prev_last_order_date IS NULL THEN NULL
        ELSE {{ churned("prev_last_order_date", prev_day, churn_days) }}
    END AS churned_prev
FROM customer_orders
