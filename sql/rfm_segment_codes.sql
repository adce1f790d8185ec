-- rfm_segment_codes: each of the 125 (r_score, f_score, m_score)
-- combinations with its code ('543') and its segment from rfm_segment_map.
-- rfm_scores_all joins the scores to it on one integer key (r*25 + f*5 + m)
-- rather than testing every customer against every range of the map, and
-- each code is spelled once here rather than once per customer. Kept as a
-- table of its own so that the query planner knows it holds 125 rows and
-- builds the join's hash table from it, not from the customers' scores
-- (at 2M customers that was a 240 MB hash table to look up 125 codes).
SELECT CAST(r.v * 25 + f.v * 5 + m.v AS INT) AS code,
    r.v AS r_score, f.v AS f_score, m.v AS m_score,
    CAST(r.v AS VARCHAR) || CAST(f.v AS VARCHAR) || CAST(m.v AS VARCHAR) AS rfm_code,
    map.segment
FROM (VALUES (1), (2), (3), (4), (5)) AS r(v)
CROSS JOIN (VALUES (1), (2), (3), (4), (5)) AS f(v)
CROSS JOIN (VALUES (1), (2), (3), (4), (5)) AS m(v)
JOIN rfm_segment_map map
  ON r.v BETWEEN map.r_min AND map.r_max
 AND f.v BETWEEN map.f_min AND map.f_max
 AND m.v BETWEEN map.m_min AND map.m_max
