-- data_freshness: how current the orders are: the newest and oldest order
-- timestamps on or before `as_of`, and how many order rows are dated after
-- as_of (ignored by every analysis).
SELECT
    MAX(CAST(order_ts AS TIMESTAMP)) FILTER (WHERE CAST(order_ts AS DATE) <= {{ as_of }}) AS newest_order_ts,
    MIN(CAST(order_ts AS TIMESTAMP)) FILTER (WHERE CAST(order_ts AS DATE) <= {{ as_of }}) AS oldest_order_ts,
    COUNT(*) FILTER (WHERE CAST(order_ts AS DATE) > {{ as_of }}) AS orders_after_as_of
FROM orders
