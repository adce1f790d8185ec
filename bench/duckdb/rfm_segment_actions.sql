-- rfm_segment_actions: the recommended action per segment, one line each,
-- and the order segments are listed in (best first). Edit freely.
SELECT * FROM (VALUES
    (1,  'Champions',           'Reward them: early access, referral asks, no discounts needed.'),
    (2,  'Loyal Customers',     'Upsell higher-value products; ask for reviews; keep service excellent.'),
    (3,  'Potential Loyalists', 'Offer membership or a loyalty programme; recommend related products.'),
    (4,  'New Customers',       'Onboard well: welcome series, first-repeat incentive, quick support.'),
    (5,  'Promising',           'Build the habit: relevant offers timed to their first purchase cycle.'),
    (6,  'Need Attention',      'Reactivate with limited-time, personalised offers before they drift.'),
    (7,  'About to Sleep',      'Share popular products and a reason to return; ask what is missing.'),
    (8,  'At Risk',             'Reach out personally; fix what went wrong; send a win-back offer.'),
    (9,  'Can''t Lose Them',    'Call them: find the problem, escalate service, make a strong offer.'),
    (10, 'Hibernating',         'Low-cost reminders; otherwise do not spend on them.'),
    (11, 'Lost',                'Try one win-back campaign; then stop spending on them.')
) AS t(segment_order, segment, action)
