-- customer_lifetime_value: what a customer of each RFM segment is worth over
-- the relationship, by the literature's simple formula, measured on how the
-- segment's own customers behaved over the contribution window.
--
-- The segments are taken at the start of the contribution window, the base
-- date as_of - `contribution_window_days` (rfm_scores_base.sql),
-- and their customers followed over the window (the W days after the base
-- date, to as_of included):
--   base_date             as_of - contribution_window_days
--   customers             customers in the segment at the base date
--   retained              of them, active at as_of: last completed order at
--                         most `churn_days` days before as_of
--   retention_rate        retained / customers: r, the share kept over a window
--   revenue_per_customer  their revenue in the window (purchases minus refunds,
--                         cancelled orders nothing) over all of them, the lost
--                         ones too: the ARPC of one window
--   margin_per_customer   the same of margin; 0 where none of the segment's
--                         customers bought in the window (as revenue is) and
--                         some customer's window orders carry a margin;
--                         NULL where the window's orders carry none
--   lifetime_years        the expected length of the relationship from the
--                         base date: kept with probability r window after
--                         window, a customer stays 1 / (1 - r) windows
--                         (W / 365 years each)
--   cltv                  revenue_per_customer / (1 - r): ARPC times the
--                         lifetime in windows. It equals the segment's revenue
--                         in the window over the customers it lost
--                         (customers - retained), and is computed so, exactly.
--   cltv_margin           the same of margin
--   uplift_retention_rate the what-if of the literature's claim that 5% more
--                         retention lifts profit by 25-95%: r +
--                         `retention_uplift` (0.05: 5 points more kept)
--   uplift_cltv           the lifetime value by the same formula had the
--                         segment kept that share: revenue_per_customer /
--                         (1 - r - retention_uplift)
--   uplift_gain           uplift_cltv over cltv, less 1: (1 - r) /
--                         (1 - r - retention_uplift) - 1, which is
--                         retention_uplift / (1 - r - retention_uplift)
-- Both NULL where that share would be everyone or more (no finite lifetime),
-- as for a segment that lost nobody, and where the segment had no customers.
-- The seed's formula, CLTV = ARPC x retention / (1 - churn) x lifetime, is
-- this one: with churn = 1 - retention, retention / (1 - churn) is 1. The
-- estimate assumes each later window repeats the measured one (the same share
-- kept, the same revenue per customer starting it), is not discounted, and
-- counts the base date's customers only (not those who first bought since).
-- Where the segment lost nobody, the formula gives no finite lifetime:
-- lifetime_years, cltv and cltv_margin are NULL.
-- One row per segment (scope 'segment', every segment listed, 0 customers
-- where none was in it at the base date), then one over every customer who
-- had bought by the base date (scope 'all', segment NULL). Money is added up
-- exactly, as in customer_summary.sql.
{%- from "_figures.sql" import churned %}
WITH followed AS (
    SELECT b.segment,
        NOT {{ churned("co.last_order_date", as_of | sql, churn_days) }} AS retained,
        co.window_revenue,
        co.window_margin
    FROM rfm_scores_base b
    JOIN customer_orders co ON co.customer_id = b.customer_id
),
-- One grouping for the segments and for everyone (GROUPING(segment) = 1:
-- a row even where nobody had bought by the base date), so the join above
-- runs once.
grouped AS (
    SELECT segment, GROUPING(segment) AS everyone,
        COUNT(*) AS customers,
        COUNT(*) FILTER (WHERE retained) AS retained,
        CAST(SUM(CAST(window_revenue AS DECIMAL(38, 6))) AS DOUBLE) AS revenue,
        CAST(SUM(CAST(window_margin AS DECIMAL(38, 6))) AS DOUBLE) AS margin,
        -- customers with an order in the window that counts for revenue
        COUNT(window_revenue) AS buyers
    FROM followed
    GROUP BY GROUPING SETS ((segment), ())
),
-- Whether the window's orders carry a margin at all: where they do, a
-- segment whose customers bought nothing made a margin of 0, not an unknown.
margin_known AS (
    SELECT COUNT(window_margin) > 0 AS known FROM customer_orders
),
-- Every segment, with or without customers, and the row over everyone.
groups AS (
    SELECT CASE WHEN g.everyone = 1 THEN 'all' ELSE 'segment' END AS scope,
        a.segment_order, a.segment,
        COALESCE(g.customers, 0) AS customers, COALESCE(g.retained, 0) AS retained,
        COALESCE(g.revenue, 0) AS revenue,
        CASE WHEN g.buyers = 0 AND k.known THEN 0 ELSE g.margin END AS margin
    FROM rfm_segment_actions a
    FULL JOIN grouped g ON g.segment = a.segment
    CROSS JOIN margin_known k
    WHERE a.segment IS NOT NULL OR g.everyone = 1
)
SELECT
    scope,
    CAST({{ as_of }} - {{ contribution_window_days | days }} AS DATE) AS base_date,
    segment_order,
    segment,
    customers,
    retained,
    CAST(retained AS DOUBLE) / NULLIF(customers, 0) AS retention_rate,
    revenue / NULLIF(customers, 0) AS revenue_per_customer,
    margin / NULLIF(customers, 0) AS margin_per_customer,
    {{ contribution_window_days }} / 365.0 * customers / NULLIF(customers - retained, 0) AS lifetime_years,
    revenue / NULLIF(customers - retained, 0) AS cltv,
    margin / NULLIF(customers - retained, 0) AS cltv_margin,
    CASE WHEN uplifted < 1 THEN uplifted END AS uplift_retention_rate,
    CASE WHEN uplifted < 1 THEN revenue / customers / (1 - uplifted) END AS uplift_cltv,
    CASE WHEN uplifted < 1 THEN {{ retention_uplift }} / (1 - uplifted) END AS uplift_gain
FROM (
    SELECT *, CAST(retained AS DOUBLE) / NULLIF(customers, 0) + {{ retention_uplift }} AS uplifted
    FROM groups
) g
ORDER BY segment_order NULLS LAST
