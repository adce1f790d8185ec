-- loyalty_programme: loyalty-programme members against non-members at
-- `as_of`, for customers with a completed order (customer_status.sql), by
-- `customers.loyalty_member`:
--   1 member       loyalty_member is true
--   2 non-member   loyalty_member is false
--   3 unknown      loyalty_member is NULL, the column is absent, or the
--                  customer has no row in `customers`
-- Per group: customers, churned, churn rate and its 95% Wilson score
-- interval (z = 1.96, as in churn_by_satisfaction.sql), repeat_rate (share
-- with two or more completed orders), orders per customer, revenue to date
-- (purchases minus refunds) and in the contribution window
-- (`contribution_window_days` days ending with as_of), each also per customer.
-- The domain brief's question: do members stay and spend more, or does the
-- scheme only give discounts to customers who would have stayed anyway?
-- Every group is listed, with 0 customers where none falls in it. Money is
-- added up exactly, as in customer_summary.sql.
{%- from "_figures.sql" import wilson_interval %}
WITH grouped AS (
    SELECT st.churned, st.orders, st.monetary, st.window_revenue, c.loyalty_member
    FROM customer_status st
    LEFT JOIN customers c ON c.customer_id = st.customer_id
),
-- Grouped on the flag itself (true, false, NULL), named after: a name per
-- customer would cost more than the grouping.
groups AS (
    SELECT * FROM (VALUES
        (1, 'member', TRUE), (2, 'non-member', FALSE), (3, 'unknown', CAST(NULL AS BOOLEAN))
    ) AS t(group_order, member_group, loyalty_member)
),
agg AS (
    SELECT loyalty_member,
        COUNT(*) AS customers,
        COUNT(*) FILTER (WHERE churned) AS churned,
        COUNT(*) FILTER (WHERE orders >= 2) AS repeat_customers,
        SUM(orders) AS orders,
        CAST(SUM(CAST(monetary AS DECIMAL(38, 6))) AS DOUBLE) AS revenue,
        CAST(SUM(CAST(window_revenue AS DECIMAL(38, 6))) AS DOUBLE) AS window_revenue
    FROM grouped
    GROUP BY loyalty_member
),
rates AS (
    SELECT g.group_order, g.member_group,
        COALESCE(a.customers, 0) AS customers,
        COALESCE(a.churned, 0) AS churned,
        CAST(a.churned AS DOUBLE) / NULLIF(a.customers, 0) AS p,
        CAST(a.customers AS DOUBLE) AS n,
        a.repeat_customers, a.orders, a.revenue, a.window_revenue
    FROM groups g LEFT JOIN agg a ON a.loyalty_member IS NOT DISTINCT FROM g.loyalty_member
)
SELECT
    group_order,
    member_group,
    customers,
    churned,
    p AS churn_rate,
    {{ wilson_interval("p", "n") }},
    CAST(repeat_customers AS DOUBLE) / NULLIF(customers, 0) AS repeat_rate,
    CAST(orders AS DOUBLE) / NULLIF(customers, 0) AS orders_per_customer,
    COALESCE(revenue, 0) AS revenue,
    revenue / NULLIF(customers, 0) AS revenue_per_customer,
    COALESCE(window_revenue, 0) AS window_revenue,
    window_revenue / NULLIF(customers, 0) AS window_revenue_per_customer
FROM rates
ORDER BY group_order
