-- data_freshness: how current the orders are: the newest and oldest order
-- timestamps on or before `as_of`, and how many order rows are dated after
-- as_of (ignored by every analysis). "On or before as_of" is before the
-- midnight that ends it, compared on the timestamp as it is stored.
WITH o AS (
    SELECT order_ts, order_ts < CAST({{ as_of }} + INTERVAL '1 day' AS TIMESTAMP) AS known
    FROM orders
)
SELECT
    CAST(MAX(order_ts) FILTER (WHERE known) AS TIMESTAMP) AS newest_order_ts,
    CAST(MIN(order_ts) FILTER (WHERE known) AS TIMESTAMP) AS oldest_order_ts,
    COUNT(*) FILTER (WHERE NOT known) AS orders_after_as_of
FROM o
