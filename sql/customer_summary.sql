-- customer_summary: the per-customer order summary every analysis reads,
-- computed once from one scan of the orders: customer_orders' columns (as
-- written to tables/customer_orders) and the lifecycle trend's.
--
-- One row per customer with at least one completed order up to `as_of`.
-- Definitions:
--   orders       completed orders up to as_of (the RFM frequency); order_id
--                is unique (the pipeline's `orders.unique(order_id)` check), so
--                rows are counted: COUNT(DISTINCT) could not spill to disk
--   monetary     sum of amount over completed and returned rows: purchases
--                minus refunds; cancelled orders count nothing
--   first/last_order_date   first and last completed order
--   window_*     the same over the contribution window: the
--                `contribution_window_days` days ending with as_of included
--                (365 days: as_of - 364 .. as_of)
--   recent_*     the last `churn_days` days (as_of - churn_days + 1 .. as_of)
--   prev_*       as of the previous period, as_of - `compare_days`
--                (prev_window_revenue: the contribution window ending then;
--                prev_recent_revenue: the `churn_days` days ending then)
--   base_last_order_date   the last completed order before the contribution
--                window (by as_of - contribution_window_days), the date
--                rfm_scores_base.sql scores customers at; the orders and
--                revenue up to then are the totals less the window's
-- For the lifecycle trend (lifecycle_trend.sql), dates `churn_days` apart
-- going back from as_of: date k is as_of - k * churn_days, and period k the
-- `churn_days` days ending with it (as_of - (k + 1) * churn_days + 1 ..
-- as_of - k * churn_days; period 0 is recent_revenue's), for k from 0 to
-- `lifecycle_trend_dates`:
--   period_k_first_date   the day of the first completed order in period k
--                (NULL: none)
--   last_order_date_k   the day of the last completed order by date k
--                (NULL: none), for k from 1 to `lifecycle_trend_dates` + 1
--                (date 0's is last_order_date)
--   period_k_revenue   purchases minus refunds in period k (0: none); not
--                for period 0, whose revenue is recent_revenue, nor for the
--                oldest period, whose only use is its purchase days
-- Those are the orders' only reading for the trend: 3 more aggregates per
-- date here cost less than a scan of their own (bench/RESULTS.md, session
-- 44). The last order by a date, not in its period, is one bound per order
-- rather than two, and the trend needs no GREATEST over the periods for it
-- (session 45).
-- Money sums are rounded to a millionth of the currency unit. Floating-point
-- addition depends on the order rows come in (0.1 + 0.7 is 0.7999999999999999,
-- and with several partitions the order changes from run to run): rounded,
-- customers who spent the same tie exactly, so the rules that break ties by
-- customer_id (contribution rank, RFM positions) decide, run after run.
-- The money totals of the other steps, over many customers, are added up
-- exactly: each amount as DECIMAL(38, 6) (a millionth), summed as integers,
-- and only the total turned back into DOUBLE. So a report shows the same figure
-- run after run (16387.5 is $16,388, 16387.499999999998 $16,387), and a share
-- of a total does not move in its last digits (the customers' shares add up to
-- exactly 1). Rounding a float total would not do: at a billion, a float sum
-- can be off by more than a millionth.
-- Day bounds are compared on order_ts against the midnight that starts the
-- day after the bound (`order_date > D` is `order_ts >= D + 1 day`), and only
-- the per-customer first and last timestamps are turned into dates: a date
-- conversion per order would cost more than the rest of the scan.
WITH o AS (
    SELECT customer_id, order_ts, amount, margin,
        status = 'completed' AS purchase,
        status <> 'cancelled' AS counts_revenue,
        order_ts >= CAST({{ as_of }} - {{ contribution_window_days | days }} + INTERVAL '1 day' AS TIMESTAMP) AS in_window,
        order_ts >= CAST({{ as_of }} - {{ churn_days | days }} + INTERVAL '1 day' AS TIMESTAMP) AS in_recent,
        order_ts < CAST({{ as_of }} - {{ compare_days | days }} + INTERVAL '1 day' AS TIMESTAMP) AS by_prev,
        order_ts >= CAST({{ as_of }} - {{ compare_days | days }} - {{ contribution_window_days | days }} + INTERVAL '1 day' AS TIMESTAMP) AS after_prev_window_start,
        order_ts >= CAST({{ as_of }} - {{ compare_days | days }} - {{ churn_days | days }} + INTERVAL '1 day' AS TIMESTAMP) AS after_prev_recent_start
    FROM orders_asof
)
SELECT
    customer_id,
    CAST(MIN(order_ts) FILTER (WHERE purchase) AS DATE) AS first_order_date,
    CAST(MAX(order_ts) FILTER (WHERE purchase) AS DATE) AS last_order_date,
    COUNT(*) FILTER (WHERE purchase) AS orders,
    COALESCE(ROUND(SUM(amount) FILTER (WHERE counts_revenue), 6), 0) AS monetary,
    ROUND(SUM(margin) FILTER (WHERE counts_revenue), 6) AS margin,
    COUNT(*) FILTER (WHERE purchase AND in_window) AS window_orders,
    ROUND(SUM(amount) FILTER (WHERE counts_revenue AND in_window), 6) AS window_revenue,
    ROUND(SUM(margin) FILTER (WHERE counts_revenue AND in_window), 6) AS window_margin,
    COALESCE(ROUND(SUM(amount) FILTER (WHERE counts_revenue AND in_recent), 6), 0) AS recent_revenue,
    CAST(MAX(order_ts) FILTER (WHERE purchase AND by_prev) AS DATE) AS prev_last_order_date,
    COUNT(*) FILTER (WHERE purchase AND by_prev) AS prev_orders,
    COALESCE(ROUND(SUM(amount) FILTER (WHERE counts_revenue AND by_prev), 6), 0) AS prev_monetary,
    ROUND(SUM(amount) FILTER (WHERE counts_revenue AND by_prev AND after_prev_window_start), 6) AS prev_window_revenue,
    CAST(MAX(order_ts) FILTER (WHERE purchase AND NOT in_window) AS DATE) AS base_last_order_date,
    COALESCE(ROUND(SUM(amount) FILTER (WHERE counts_revenue AND by_prev AND after_prev_recent_start), 6), 0) AS prev_recent_revenue
{#- the midnight that ends date k, as_of - k * churn_days: period k is the
    orders from the end of date k + 1 to it #}
{%- macro date_end(k) -%}
    CAST({{ as_of }} - {{ (k * churn_days) | days }} + INTERVAL '1 day' AS TIMESTAMP)
{%- endmacro %}
{%- for k in range(lifecycle_trend_dates + 1) %}
    , CAST(MIN(order_ts) FILTER (WHERE purchase AND order_ts >= {{ date_end(k + 1) }} AND order_ts < {{ date_end(k) }}) AS DATE) AS period_{{ k }}_first_date
{%- if 0 < k < lifecycle_trend_dates %}
    , COALESCE(ROUND(SUM(amount) FILTER (WHERE counts_revenue AND order_ts >= {{ date_end(k + 1) }} AND order_ts < {{ date_end(k) }}), 6), 0) AS period_{{ k }}_revenue
{%- endif %}
    , CAST(MAX(order_ts) FILTER (WHERE purchase AND order_ts < {{ date_end(k + 1) }}) AS DATE) AS last_order_date_{{ k + 1 }}
{%- endfor %}
FROM o
GROUP BY customer_id
HAVING COUNT(*) FILTER (WHERE purchase) > 0
