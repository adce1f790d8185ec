-- data_freshness: how current the orders are: the newest and oldest order
-- timestamps on or before `as_of`, and how many order rows are dated after
-- as_of (ignored by every analysis). "On or before as_of" is before the
-- midnight that ends it, compared on the timestamp as it is stored. The
-- newest and oldest are of the column's own type: dates where the orders
-- are dated by the day alone, which the reports show without a time of day.
WITH o AS (
    SELECT order_ts, order_ts < CAST({{ as_of }} + INTERVAL '1 day' AS TIMESTAMP) AS known
    FROM orders
)
SELECT
    MAX(order_ts) FILTER (WHERE known) AS newest_order_ts,
    MIN(order_ts) FILTER (WHERE known) AS oldest_order_ts,
    COUNT(*) FILTER (WHERE NOT known) AS orders_after_as_of
FROM o
