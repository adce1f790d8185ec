-- rfm_segment_map: which segment each (r_score, f_score, m_score) falls in.
-- Edit the ranges to change the segmentation; every one of the 125 score
-- combinations must match exactly one row (a test checks it). Scores are
-- 1-5, 5 best; the grid reads recency (rows) against frequency (columns):
--
--   R\F   1               2                 3                 4-5
--   5     New Customers   Potential Loy.    Potential Loy.    Champions
--   4     Promising       Potential Loy.    Potential Loy.    Loyal Customers
--   3     About to Sleep  Need Attention    Need Attention    Loyal Customers
--   2     Hibernating     Hibernating       At Risk           At Risk / Can't Lose Them (M=5)
--   1     Lost            Hibernating       At Risk           At Risk / Can't Lose Them (M=5)
SELECT * FROM (VALUES
    ('Champions',           5, 5, 4, 5, 1, 5),
    ('Loyal Customers',     3, 4, 4, 5, 1, 5),
    ('Potential Loyalists', 4, 5, 2, 3, 1, 5),
    ('New Customers',       5, 5, 1, 1, 1, 5),
    ('Promising',           4, 4, 1, 1, 1, 5),
    ('Need Attention',      3, 3, 2, 3, 1, 5),
    ('About to Sleep',      3, 3, 1, 1, 1, 5),
    ('At Risk',             1, 2, 3, 3, 1, 5),
    ('At Risk',             1, 2, 4, 5, 1, 4),
    ('Can''t Lose Them',    1, 2, 4, 5, 5, 5),
    ('Hibernating',         2, 2, 1, 2, 1, 5),
    ('Hibernating',         1, 1, 2, 2, 1, 5),
    ('Lost',                1, 1, 1, 1, 1, 5)
) AS t(segment, r_min, r_max, f_min, f_max, m_min, m_max)
