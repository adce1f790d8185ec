-- rfm_scores: one row per customer with a completed order up to `as_of`,
-- with recency, frequency, monetary, their 1-5 scores, the three-digit code
-- and the segment. Definitions in rfm_scores_all.sql.
SELECT customer_id, recency_days, frequency, monetary,
    r_score, f_score, m_score, rfm_code, segment
FROM rfm_scores_all
WHERE period = 'current'
