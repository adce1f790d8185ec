-- headline: the run's top figures. A customer is active when their last
-- completed order is at most `churn_days` days before `as_of`, churned otherwise.
SELECT
    COUNT(*) AS customers,
    COUNT(*) FILTER (WHERE last_order_date > {{ as_of }} - {{ churn_days | days }}) AS active_customers,
    COUNT(*) FILTER (WHERE last_order_date <= {{ as_of }} - {{ churn_days | days }}) AS churned_customers,
    SUM(orders) AS orders,
    SUM(revenue) AS revenue
FROM customer_orders
