-- customer_orders: the per-customer order summary every analysis reads,
-- computed once from one scan of the orders.
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
--                (prev_window_revenue: the contribution window ending then)
WITH o AS (
    SELECT *,
        status = 'completed' AS purchase,
        status <> 'cancelled' AS counts_revenue
    FROM orders_asof
)
SELECT
    customer_id,
    MIN(order_date) FILTER (WHERE purchase) AS first_order_date,
    MAX(order_date) FILTER (WHERE purchase) AS last_order_date,
    COUNT(*) FILTER (WHERE purchase) AS orders,
    COALESCE(SUM(amount) FILTER (WHERE counts_revenue), 0) AS monetary,
    SUM(margin) FILTER (WHERE counts_revenue) AS margin,
    COUNT(*) FILTER (
        WHERE purchase AND order_date > {{ as_of }} - {{ contribution_window_days | days }}
    ) AS window_orders,
    SUM(amount) FILTER (
        WHERE counts_revenue AND order_date > {{ as_of }} - {{ contribution_window_days | days }}
    ) AS window_revenue,
    SUM(margin) FILTER (
        WHERE counts_revenue AND order_date > {{ as_of }} - {{ contribution_window_days | days }}
    ) AS window_margin,
    COALESCE(SUM(amount) FILTER (
        WHERE counts_revenue AND order_date > {{ as_of }} - {{ churn_days | days }}
    ), 0) AS recent_revenue,
    MAX(order_date) FILTER (
        WHERE purchase AND order_date <= {{ as_of }} - {{ compare_days | days }}
    ) AS prev_last_order_date,
    COUNT(*) FILTER (
        WHERE purchase AND order_date <= {{ as_of }} - {{ compare_days | days }}
    ) AS prev_orders,
    COALESCE(SUM(amount) FILTER (
        WHERE counts_revenue AND order_date <= {{ as_of }} - {{ compare_days | days }}
    ), 0) AS prev_monetary,
    SUM(amount) FILTER (
        WHERE counts_revenue
          AND order_date <= {{ as_of }} - {{ compare_days | days }}
          AND order_date > {{ as_of }} - {{ compare_days | days }} - {{ contribution_window_days | days }}
    ) AS prev_window_revenue
FROM o
GROUP BY customer_id
HAVING COUNT(*) FILTER (WHERE purchase) > 0
