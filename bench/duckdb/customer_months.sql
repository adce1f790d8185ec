-- DuckDB's copy of sql/customer_months.sql: DuckDB has no cast from a
-- timestamp to BIGINT, so it takes epoch_ns() for the same nanoseconds.
-- customer_months: one row per customer and calendar month with an order up
-- to as_of, for the customers of customer_orders (those with a completed
-- order). The one pass over the orders that both customer_history and
-- cohort_retention read, each grouping its far fewer rows further:
--   month_start    the month, as the timestamp of its first midnight
--   bought         a completed order that month
--   revenue        purchases minus refunds that month (NULL: only cancelled)
--   before_last_day_ts  the latest completed order that month before the
--                  customer's last purchase day (NULL: none)
--   before_prev_last_day_ts  the same before the last purchase day by the
--                  previous period (as_of - `compare_days`), for the stages
--                  then (NULL: none, or no purchase by then)
--   last_year_revenue   purchases minus refunds that month within the 365
--                  days up to and including the last purchase day
--                  (last_order_date - 364 .. last_order_date)
-- The orders are compared with each customer's bounds as integers (order_ts
-- in nanoseconds since the epoch): two numbers per customer go along with
-- each of its orders out of the join, not four timestamps, and the year
-- before the last purchase day is a difference from it, not an interval
-- worked out per order (at 500k customers 1.5 -> 1.4 s; bench/RESULTS.md,
-- session 32). The month is truncated on the timestamp and turned into a
-- date only by the steps that show it.
-- Money is summed as float here and rounded (customer_history) or summed
-- exactly (cohort_retention) by the readers.
WITH bounds AS (
    SELECT customer_id,
        epoch_ns(CAST(last_order_date AS TIMESTAMP)) AS last_day_ns,
        epoch_ns(CAST(prev_last_order_date AS TIMESTAMP)) AS prev_last_day_ns
    FROM customer_orders
),
o AS (
    SELECT customer_id, order_ts, epoch_ns(order_ts) AS ts_ns, amount, status
    FROM orders_asof
)
SELECT
    o.customer_id,
    date_trunc('month', o.order_ts) AS month_start,
    -- a boolean (BOOL_OR, not MAX of 1/0): a bit per row where the orders
    -- are repartitioned for this grouping, not 8 bytes
    BOOL_OR(o.status = 'completed') AS bought,
    SUM(o.amount) FILTER (WHERE o.status <> 'cancelled') AS revenue,
    MAX(o.order_ts) FILTER (
        WHERE o.status = 'completed' AND o.ts_ns < b.last_day_ns
    ) AS before_last_day_ts,
    MAX(o.order_ts) FILTER (
        WHERE o.status = 'completed' AND o.ts_ns < b.prev_last_day_ns
    ) AS before_prev_last_day_ts,
    -- from 364 days before the last purchase day's midnight to the next one
    SUM(o.amount) FILTER (
        WHERE o.status <> 'cancelled'
          AND o.ts_ns - b.last_day_ns >= -364 * 86400000000000
          AND o.ts_ns - b.last_day_ns < 86400000000000
    ) AS last_year_revenue
FROM o
JOIN bounds b ON b.customer_id = o.customer_id
GROUP BY 1, 2
