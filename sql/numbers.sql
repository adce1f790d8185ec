-- numbers: the integers 0 to 9999, a row each, for the grids other steps
-- lay out: the months of each cohort in cohort_retention (9999 months are
-- 833 years) and the percentiles of contribution_curve. Spelled with VALUES
-- rather than `unnest(range(…))`, because Ballista's released executors do
-- not have the array functions, `range` among them.
WITH digits AS (SELECT d FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS t(d))
SELECT CAST(thousands.d * 1000 + hundreds.d * 100 + tens.d * 10 + ones.d AS BIGINT) AS n
FROM digits thousands
CROSS JOIN digits hundreds
CROSS JOIN digits tens
CROSS JOIN digits ones
