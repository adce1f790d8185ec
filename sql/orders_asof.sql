-- orders_asof: every order row known on the run date.
--
-- Orders dated after `as_of` are left out, so a backfill for an old date sees
-- what that date would have seen. Cancelled orders are kept (with their
-- status) and left out by the analyses that count purchases; `returned` rows
-- carry negative amounts (refunds) and count in revenue and margin.
-- `order_ts` may be a timestamp or a date; `order_date` is its calendar day.
-- Data without a `status` column is taken as all completed; without `margin`,
-- margin is NULL.
SELECT
    order_id,
    customer_id,
    CAST(order_ts AS TIMESTAMP) AS order_ts,
    CAST(order_ts AS DATE) AS order_date,
    CAST(amount AS DOUBLE) AS amount,
    CAST(margin AS DOUBLE) AS margin,
    COALESCE(status, 'completed') AS status
FROM orders
WHERE order_ts < CAST({{ as_of }} + INTERVAL '1 day' AS TIMESTAMP)
