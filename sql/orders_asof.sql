-- orders_asof: every order row known on the run date.
-- Orders dated after `as_of` are left out, so a backfill for an old date sees
-- what that date would have seen. Cancelled orders are kept here (with their
-- status) and left out by the analyses that count purchases; returned orders
-- carry negative amounts (refunds) and are counted in revenue.
SELECT
    order_id,
    customer_id,
    CAST(order_ts AS TIMESTAMP) AS order_ts,
    CAST(order_ts AS DATE) AS order_date,
    CAST(amount AS DOUBLE) AS amount,
    status
FROM orders
WHERE CAST(order_ts AS DATE) <= {{ as_of }}
