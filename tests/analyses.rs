//! The four analyses of the bundled pipeline on a hand-made fixture
//! (tests/fixtures/analyses/*.csv, eleven buying customers), as of
//! 2026-06-30 with the default params. The expected values were worked out
//! independently of the pipeline: by hand for the small ones, and all of them
//! by tests/fixtures/analyses/reference.py, a plain-Python implementation of
//! the definitions in the SQL headers that shares no code with the pipeline.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

/// Runs the bundled pipeline on the fixture; returns the output folder.
fn run(tmp: &Path, with_feedback: bool, extra: &[&str]) -> std::path::PathBuf {
    analyses_fixture(&tmp.join("data"), with_feedback);
    run_on_data(tmp, extra)
}

/// Runs the bundled pipeline on the tables under `tmp/data` (the fixture,
/// some of them replaced) into `tmp/out`, which it returns.
fn run_on_data(tmp: &Path, extra: &[&str]) -> std::path::PathBuf {
    let (data, out) = (tmp.join("data"), tmp.join("out"));
    let o = run_pipeline(tmp, &bundled_pipeline(), "2026-06-30", &data, &out, extra);
    assert_exit(&o, 0);
    out
}

/// Writes pipeline `yaml` (steps of hand-written rows and bundled SQL
/// files) to `tmp/file` and runs it as of 2026-06-30, asserting success.
fn run_written(tmp: &Path, file: &str, yaml: &str) {
    let pipeline = tmp.join(file);
    std::fs::write(&pipeline, yaml).unwrap();
    let o = loyalty(
        tmp,
        &["run", pipeline.to_str().unwrap(), "--as-of", "2026-06-30"],
    );
    assert_exit(&o, 0);
}

fn table(out: &Path, name: &str) -> Vec<arrow::array::RecordBatch> {
    read_parquet(&out.join(format!("tables/{name}")))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// Rows of a table keyed by one column, as (key → row index).
fn by_key<K: Ord + Clone>(keys: &[Option<K>]) -> BTreeMap<K, usize> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| (k.clone().unwrap(), i))
        .collect()
}

#[test]
fn rfm_scores_segments_and_migration() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), true, &[]);
    let t = table(&out, "rfm_scores");
    let idx = by_key(&col_i64(&t, "customer_id"));
    // customer: recency_days, frequency, monetary, rfm_code, segment
    let expected: [(i64, i64, i64, f64, &str, &str); 11] = [
        (1, 10, 2, 300.0, "423", "Potential Loyalists"),
        (2, 5, 1, 50.0, "511", "New Customers"),
        (3, 107, 3, 700.0, "145", "Can't Lose Them"),
        (4, 25, 6, 240.0, "353", "Loyal Customers"),
        (5, 1, 1, 0.0, "511", "New Customers"),
        (6, 333, 1, 80.0, "112", "Lost"),
        (8, 41, 2, 120.0, "232", "At Risk"),
        (9, 29, 2, 520.0, "234", "At Risk"),
        (10, 90, 1, 10.0, "121", "Hibernating"),
        (11, 15, 3, 505.0, "454", "Loyal Customers"),
        (12, 20, 2, 770.0, "345", "Loyal Customers"),
    ];
    assert_eq!(
        idx.len(),
        11,
        "customer 7 ordered only after as_of, 13 never"
    );
    let (rec, freq, mon) = (
        col_i64(&t, "recency_days"),
        col_i64(&t, "frequency"),
        col_f64(&t, "monetary"),
    );
    let (code, seg) = (col_str(&t, "rfm_code"), col_str(&t, "segment"));
    let (r, f, m) = (
        col_i64(&t, "r_score"),
        col_i64(&t, "f_score"),
        col_i64(&t, "m_score"),
    );
    for (id, e_rec, e_freq, e_mon, e_code, e_seg) in expected {
        let i = idx[&id];
        assert_eq!(rec[i], Some(e_rec), "recency of {id}");
        assert_eq!(freq[i], Some(e_freq), "frequency of {id}");
        assert!(close(mon[i].unwrap(), e_mon), "monetary of {id}");
        assert_eq!(code[i].as_deref(), Some(e_code), "code of {id}");
        assert_eq!(seg[i].as_deref(), Some(e_seg), "segment of {id}");
        let digits: Vec<i64> = e_code.bytes().map(|b| (b - b'0') as i64).collect();
        assert_eq!(
            [r[i], f[i], m[i]],
            [Some(digits[0]), Some(digits[1]), Some(digits[2])]
        );
    }

    let s = table(&out, "rfm_segment_summary");
    let segs = col_str(&s, "segment");
    assert_eq!(segs.len(), 11, "every segment listed");
    let (n, rev, share) = (
        col_i64(&s, "customers"),
        col_f64(&s, "revenue"),
        col_f64(&s, "share_of_revenue"),
    );
    let expected = [
        ("Champions", 0, 0.0, 0.0),
        ("Loyal Customers", 3, 1515.0, 0.459788),
        ("Potential Loyalists", 1, 300.0, 0.091047),
        ("New Customers", 2, 50.0, 0.015175),
        ("Promising", 0, 0.0, 0.0),
        ("Need Attention", 0, 0.0, 0.0),
        ("About to Sleep", 0, 0.0, 0.0),
        ("At Risk", 2, 640.0, 0.194234),
        ("Can't Lose Them", 1, 700.0, 0.212443),
        ("Hibernating", 1, 10.0, 0.003035),
        ("Lost", 1, 80.0, 0.024279),
    ];
    for (i, (name, e_n, e_rev, e_share)) in expected.into_iter().enumerate() {
        assert_eq!(
            segs[i].as_deref(),
            Some(name),
            "segments in their listed order"
        );
        assert_eq!(n[i], Some(e_n), "{name}");
        assert!(close(rev[i].unwrap(), e_rev), "{name}");
        assert!((share[i].unwrap() - e_share).abs() < 1e-6, "{name}");
    }
    // Averages per customer of the segment, from the rows above: Loyal
    // Customers (4, 11, 12) recency (25 + 15 + 20) / 3, frequency
    // (6 + 3 + 2) / 3, monetary 1515 / 3; none for an empty segment.
    let averages = [
        ("Loyal Customers", 20.0, 11.0 / 3.0, 505.0),
        ("Potential Loyalists", 10.0, 2.0, 300.0),
        ("New Customers", 3.0, 1.0, 25.0),
        ("At Risk", 35.0, 2.0, 320.0),
        ("Can't Lose Them", 107.0, 3.0, 700.0),
        ("Hibernating", 90.0, 1.0, 10.0),
        ("Lost", 333.0, 1.0, 80.0),
    ];
    let (avg_r, avg_f, avg_m) = (
        col_f64(&s, "avg_recency_days"),
        col_f64(&s, "avg_frequency"),
        col_f64(&s, "avg_monetary"),
    );
    for (i, name) in segs.iter().enumerate() {
        let name = name.as_deref().unwrap();
        let got = (avg_r[i], avg_f[i], avg_m[i]);
        match averages.iter().find(|a| a.0 == name) {
            Some(&(_, r, f, m)) => assert!(
                close(got.0.unwrap(), r) && close(got.1.unwrap(), f) && close(got.2.unwrap(), m),
                "{name}: {got:?}"
            ),
            None => assert_eq!(got, (None, None, None), "{name}"),
        }
    }
    let actions = col_str(&s, "action");
    assert!(
        actions
            .iter()
            .all(|a| a.as_ref().is_some_and(|a| !a.is_empty()))
    );

    let mig = table(&out, "rfm_migration");
    let (p, c, k) = (
        col_str(&mig, "previous_segment"),
        col_str(&mig, "current_segment"),
        col_i64(&mig, "customers"),
    );
    let got: BTreeMap<(String, String), i64> = (0..p.len())
        .map(|i| {
            (
                (p[i].clone().unwrap(), c[i].clone().unwrap()),
                k[i].unwrap(),
            )
        })
        .collect();
    let expected: BTreeMap<(String, String), i64> = [
        ("At Risk", "Loyal Customers", 1),
        ("Hibernating", "At Risk", 1),
        ("Hibernating", "Lost", 1),
        ("Lost", "Potential Loyalists", 1),
        ("Loyal Customers", "Can't Lose Them", 1),
        ("Loyal Customers", "Loyal Customers", 1),
        ("Need Attention", "Hibernating", 1),
        ("New since previous period", "New Customers", 2),
        ("Potential Loyalists", "At Risk", 1),
        ("Potential Loyalists", "Loyal Customers", 1),
    ]
    .into_iter()
    .map(|(a, b, n)| ((a.to_string(), b.to_string()), n))
    .collect();
    assert_eq!(got, expected);

    // The previous period's scores, as a run dated 2026-05-31 (as_of less
    // compare_days, 30) sees them: its recency counts from that day (1: 15
    // Jan 2025 is 501 days before; 8: 20 May is 11) and only the orders by
    // then count (4: five orders, 200; 11: two, 500). Worked out by hand
    // and checked with Python's date arithmetic.
    let previous = show_bundled_csv(
        tmp.path(),
        "SELECT customer_id, recency_days, frequency, monetary, rfm_code \
         FROM rfm_scores_all WHERE period = 'previous' ORDER BY customer_id",
    );
    assert_eq!(
        previous,
        "customer_id,recency_days,frequency,monetary,rfm_code\n\
         1,501,1,100.0,112\n\
         3,77,3,700.0,345\n\
         4,26,5,200.0,453\n\
         6,303,1,80.0,212\n\
         8,11,2,120.0,533\n\
         9,335,1,500.0,124\n\
         10,60,1,10.0,321\n\
         11,170,2,500.0,244\n\
         12,30,1,70.0,431\n"
    );
}

#[test]
fn contribution_ranking_summary_and_priority() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), true, &[]);
    let t = table(&out, "contribution_ranking");
    let idx = by_key(&col_i64(&t, "rank"));
    // rank: customer, revenue, margin, cumulative share, class. Customer 9's
    // 500 on 2025-06-30 falls just outside the 365-day window (2025-07-01 on).
    let expected = [
        (1, 12, 770.0, 220.0, 0.329764, "A"),
        (2, 11, 505.0, 101.0, 0.546039, "A"),
        (3, 3, 400.0, 120.0, 0.717345, "A"),
        (4, 4, 240.0, 60.0, 0.820128, "A"),
        (5, 1, 200.0, 60.0, 0.905782, "B"),
        (6, 6, 80.0, 20.0, 0.940043, "B"),
        (7, 8, 60.0, 20.0, 0.965739, "B"),
        (8, 2, 50.0, 15.0, 0.987152, "C"),
        (9, 9, 20.0, 5.0, 0.995717, "C"),
        (10, 10, 10.0, 2.0, 1.0, "C"),
        (11, 5, 0.0, 0.0, 1.0, "C"),
    ];
    assert_eq!(idx.len(), 11);
    let (cust, rev, mar, cum, abc) = (
        col_i64(&t, "customer_id"),
        col_f64(&t, "revenue"),
        col_f64(&t, "margin"),
        col_f64(&t, "cumulative_share"),
        col_str(&t, "abc_class"),
    );
    for (rank, e_cust, e_rev, e_mar, e_cum, e_abc) in expected {
        let i = idx[&rank];
        assert_eq!(cust[i], Some(e_cust), "customer at rank {rank}");
        assert!(close(rev[i].unwrap(), e_rev), "revenue at rank {rank}");
        assert!(close(mar[i].unwrap(), e_mar), "margin at rank {rank}");
        assert!(
            (cum[i].unwrap() - e_cum).abs() < 1e-6,
            "cumulative at rank {rank}"
        );
        assert_eq!(abc[i].as_deref(), Some(e_abc), "class at rank {rank}");
    }

    let s = table(&out, "contribution_summary");
    assert_eq!(col_i64(&s, "customers"), [Some(11)]);
    assert!(close(col_f64(&s, "revenue")[0].unwrap(), 2335.0));
    for (col, v) in [
        ("top_1pct_share", 0.329764),
        ("top_5pct_share", 0.329764),
        ("top_10pct_share", 0.546039),
        ("top_20pct_share", 0.717345),
        ("a_revenue_share", 0.820128),
        ("b_revenue_share", 0.14561),
        ("c_revenue_share", 0.034261),
    ] {
        assert!((col_f64(&s, col)[0].unwrap() - v).abs() < 1e-6, "{col}");
    }
    assert_eq!(col_i64(&s, "a_customers"), [Some(4)]);
    assert_eq!(col_i64(&s, "b_customers"), [Some(3)]);
    assert_eq!(col_i64(&s, "c_customers"), [Some(4)]);

    let p = table(&out, "retention_priority");
    let (cls, lvl, n, rev, ch) = (
        col_str(&p, "abc_class"),
        col_str(&p, "satisfaction_level"),
        col_i64(&p, "customers"),
        col_f64(&p, "revenue"),
        col_i64(&p, "churned"),
    );
    let got: Vec<(String, String, i64, f64, i64)> = (0..cls.len())
        .map(|i| {
            (
                cls[i].clone().unwrap(),
                lvl[i].clone().unwrap(),
                n[i].unwrap(),
                rev[i].unwrap(),
                ch[i].unwrap(),
            )
        })
        .collect();
    let expected = vec![
        ("A", "dissatisfied", 2, 905.0, 1),
        ("A", "satisfied", 2, 1010.0, 0),
        ("B", "dissatisfied", 1, 80.0, 1),
        ("B", "satisfied", 2, 260.0, 0),
        ("C", "satisfied", 2, 70.0, 0),
        ("C", "unknown", 2, 10.0, 0),
    ];
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for (g, e) in got.iter().zip(expected) {
        assert_eq!((g.0.as_str(), g.1.as_str(), g.2, g.4), (e.0, e.1, e.2, e.4));
        assert!(close(g.3, e.3));
    }
    // Priority by the rule: A not satisfied first, B not satisfied second,
    // the satisfied and class C last.
    assert_eq!(
        col_i64(&p, "priority"),
        [1, 3, 2, 3, 3, 3].map(Some),
        "{got:?}"
    );
    // The note under the matrix: priority 1 is A dissatisfied alone, 2
    // customers with $905 of the matrix's $2,335 (38.8%), 1 of 2 churned.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains(
        "Priority 1 now: 2 customers with $905 of revenue in the last 365 days (39% of it); \
         50% of them have churned."
    ));
}

/// The headline's loyalty behaviour, as of 2026-06-30 (churn 90 days;
/// previous period 2026-05-31), from orders.csv by hand. Customers with a
/// completed order by the run date: 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12 (7's
/// order is after it; 5's second row is a refund): 11. With two or more:
/// 1 (2), 3 (3), 4 (6), 8 (2), 9 (2), 11 (3), 12 (2): 7 of 11. Churned: 3
/// (last 2026-03-15, 107 days) and 6 (2025-08-01); 10 (2026-04-01, 90 days)
/// is not. The 9 active customers' days since their first order: 1 531
/// (2025-01-15), 2 5, 4 176, 5 1, 8 514, 9 365, 10 90, 11 231, 12 60 =
/// 1973, so 1973 / 9 / 365 years. The period's flows: new since 05-31, 2
/// and 5; back after churning, 1, 9 and 11 (churned then, their last orders
/// 2025-01-15, 2025-06-30, 2025-12-12; active now); lost, 3: 2 + 3 - 1 = 4
/// more active customers, 9 against 5.
/// By 2026-05-31: customers 1, 3, 4, 6, 8, 9, 10, 11, 12 had bought (9);
/// with two or more orders then 3, 4 (5), 8, 11: 4 of 9. Active then: 3
/// (last 03-15, 77 days), 4, 8, 10, 12 (1, 6, 9 and 11 had churned: 11's
/// last was 2025-12-12), since their first order 447, 146, 484, 60 and 30
/// days: 1167 / 5 / 365 years.
#[test]
fn the_headline_gives_repeat_buyers_and_tenure_then_and_now() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), false, &[]);
    let h = table(&out, "headline");
    let one = |name: &str| col_f64(&h, name)[0].unwrap();
    assert!(
        close(one("repeat_rate"), 7.0 / 11.0),
        "{}",
        one("repeat_rate")
    );
    assert!(close(one("prev_repeat_rate"), 4.0 / 9.0));
    assert!(close(one("tenure_years"), 1973.0 / 9.0 / 365.0));
    assert!(close(one("prev_tenure_years"), 1167.0 / 5.0 / 365.0));
    let flows = ["new_customers", "returned_customers", "lost_customers"];
    assert_eq!(
        flows.map(|c| col_i64(&h, c)[0]),
        [Some(2), Some(3), Some(1)]
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    // 63.6% against 44.4%; 0.60 years against 0.64
    assert!(
        md.contains("| Repeat buyers | 63.6% | ▲ +19.2 pp |"),
        "{md}"
    );
    assert!(
        md.contains("| Active customers' tenure (years) | 0.6 | ▼ −0.04 |"),
        "{md}"
    );
    assert!(md.contains(
        "In those 30 days: new customers 2, back after churning 3, churned 1; \
         active customers ▲ +4."
    ));
}

/// The leaky bucket month by month, from orders.csv up to 2026-06-30 (order
/// 17 of 07-02 is after it): each month's customers with a completed order,
/// new (their first) or returning, and revenue. June 2026: customers 2 and 5
/// first bought (5's $1,000 refunded the next day: $0), 1, 4, 9, 11 and 12
/// came back; $200 + 50 + 40 + 0 + 20 + 5 + 700. September 2025: customer
/// 6's order was cancelled: nobody bought. The 11 customers with a completed
/// order are each new once.
#[test]
fn monthly_buyers_split_new_from_returning() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), true, &[]);
    let t = table(&out, "monthly_buyers");
    let rows: Vec<_> = col_str(&t, "month")
        .into_iter()
        .zip(col_i64(&t, "buyers"))
        .zip(col_i64(&t, "new_buyers"))
        .zip(col_i64(&t, "returning_buyers"))
        .zip(col_f64(&t, "revenue"))
        .zip(col_f64(&t, "new_revenue"))
        .map(|(((((m, b), n), r), rev), new_rev)| {
            (
                m.unwrap(),
                b.unwrap(),
                n.unwrap(),
                r.unwrap(),
                rev.unwrap(),
                new_rev.unwrap(),
            )
        })
        .collect();
    let month = |m: &str| format!("{m}-01");
    let expected: Vec<(String, i64, i64, i64, f64, f64)> = [
        ("2025-01", 1, 1, 0, 100.0, 100.0),
        ("2025-02", 1, 1, 0, 60.0, 60.0),
        ("2025-03", 1, 1, 0, 300.0, 300.0),
        ("2025-04", 0, 0, 0, 0.0, 0.0),
        ("2025-05", 0, 0, 0, 0.0, 0.0),
        ("2025-06", 1, 1, 0, 500.0, 500.0),
        ("2025-07", 0, 0, 0, 0.0, 0.0),
        ("2025-08", 1, 1, 0, 80.0, 80.0),
        ("2025-09", 0, 0, 0, 0.0, 0.0),
        ("2025-10", 0, 0, 0, 0.0, 0.0),
        ("2025-11", 1, 1, 0, 250.0, 250.0),
        ("2025-12", 2, 0, 2, 550.0, 0.0),
        ("2026-01", 1, 1, 0, 40.0, 40.0),
        ("2026-02", 1, 0, 1, 40.0, 0.0),
        ("2026-03", 2, 0, 2, 140.0, 0.0),
        ("2026-04", 2, 1, 1, 50.0, 10.0),
        ("2026-05", 3, 1, 2, 170.0, 70.0),
        ("2026-06", 7, 2, 5, 1015.0, 50.0),
    ]
    .into_iter()
    .map(|(m, b, n, r, rev, new_rev)| (month(m), b, n, r, rev, new_rev))
    .collect();
    assert_eq!(rows, expected);
    assert_eq!(rows.iter().map(|r| r.2).sum::<i64>(), 11);
    // 2026-06-30 is June's last day: every month is complete.
    assert!(
        col_str(&t, "month_complete")
            .iter()
            .all(|c| c.as_deref() == Some("true"))
    );

    // The chart's note: June's 7 buyers, 5 of them returning (71%), against
    // June 2025's none, 12 months up.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains(
            "In Jun 2026, 7 customers bought: 2 new and 5 returning (71%). \
             Returning buyers ▲ +5 against Jun 2025 (0)."
        ),
        "{md}"
    );
    // As of 2025-12-31 the data holds 12 months (Jan-Dec 2025): no month a
    // year before December to compare with. December: customers 3 and 11
    // came back, nobody was new.
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), true, &["--as-of", "2025-12-31"]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("In Dec 2025, 2 customers bought: 0 new and 2 returning (100%).\n"),
        "{md}"
    );
    assert!(!md.contains("Returning buyers "), "{md}");
}

#[test]
fn cohorts_churn_and_lifecycle() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), true, &[]);
    let t = table(&out, "cohort_retention");
    let (month, period, size, active, rate, rev) = (
        col_str(&t, "cohort_month"),
        col_i64(&t, "period"),
        col_i64(&t, "cohort_size"),
        col_i64(&t, "active_customers"),
        col_f64(&t, "retention_rate"),
        col_f64(&t, "revenue"),
    );
    let rev_kept = col_f64(&t, "revenue_retention");
    // Ten cohorts, each followed to June 2026: 18+17+16+13+11+8+6+3+2+1 rows.
    assert_eq!(month.len(), 95);
    let find = |m: &str, p: i64| {
        (0..month.len())
            .find(|&i| month[i].as_deref() == Some(m) && period[i] == Some(p))
            .unwrap_or_else(|| panic!("no row {m} {p}"))
    };
    // The last figure: revenue retention, the month's revenue over the
    // cohort's first month's (customer 12 bought $70 in May, $700 in June).
    for (m, p, e_size, e_active, e_rev, e_kept) in [
        ("2025-01-01", 0, 1, 1, 100.0, 1.0),
        ("2025-01-01", 1, 1, 0, 0.0, 0.0),
        ("2025-01-01", 17, 1, 1, 200.0, 2.0),
        ("2025-03-01", 9, 1, 1, 300.0, 1.0),
        ("2025-03-01", 12, 1, 1, 100.0, 1.0 / 3.0),
        ("2025-11-01", 1, 1, 1, 250.0, 1.0),
        ("2025-11-01", 7, 1, 1, 5.0, 0.02),
        ("2026-01-01", 5, 1, 1, 40.0, 1.0),
        ("2026-05-01", 1, 1, 1, 700.0, 10.0),
        ("2026-06-01", 0, 2, 2, 50.0, 1.0),
    ] {
        let i = find(m, p);
        assert_eq!(
            (size[i], active[i]),
            (Some(e_size), Some(e_active)),
            "{m} {p}"
        );
        assert!(close(rev[i].unwrap(), e_rev), "{m} {p}");
        assert!(close(rate[i].unwrap(), e_active as f64 / e_size as f64));
        assert!(close(rev_kept[i].unwrap(), e_kept), "{m} {p}");
    }
    // as_of, 2026-06-30, is June's last day: every month shown is over.
    assert!(
        col_str(&t, "month_complete")
            .iter()
            .all(|c| c.as_deref() == Some("true"))
    );
    // Customer 5's purchase and same-month refund: active, revenue 0.
    assert!(close(rev[find("2026-06-01", 0)].unwrap(), 50.0));
    assert!(
        !month
            .iter()
            .zip(&period)
            .any(|(m, p)| m.as_deref() == Some("2026-06-01") && *p > Some(0))
    );

    let c = table(&out, "churn_summary");
    let (scope, cm, n, churned, rate, lost) = (
        col_str(&c, "scope"),
        col_str(&c, "cohort_month"),
        col_i64(&c, "customers"),
        col_i64(&c, "churned"),
        col_f64(&c, "churn_rate"),
        col_f64(&c, "revenue_lost"),
    );
    let all = overall_row(&c);
    assert_eq!((n[all], churned[all]), (Some(11), Some(2)));
    assert!(
        close(lost[all].unwrap(), 480.0),
        "customer 3's 400 and customer 6's 80"
    );
    let march = cm
        .iter()
        .position(|m| m.as_deref() == Some("2025-03-01"))
        .unwrap();
    assert_eq!((n[march], churned[march]), (Some(1), Some(1)));
    assert!(close(lost[march].unwrap(), 400.0));
    assert_eq!(scope.len(), 11, "ten cohorts and the total");
    // The rate per cohort, and which cohorts are too recent for any customer
    // to have churned: a month starting no more than 90 days before
    // 2026-06-30 (2026-04-01 is exactly 90: its customers' last orders are at
    // most 90 days old, which is not churned). Their rate of 0 says nothing.
    let recent = col_str(&c, "too_recent");
    let of = |month: &str| {
        let i = cm.iter().position(|m| m.as_deref() == Some(month)).unwrap();
        (rate[i], recent[i].as_deref())
    };
    assert!(close(rate[all].unwrap(), 2.0 / 11.0));
    assert_eq!(recent[all].as_deref(), Some("false"));
    assert_eq!(of("2025-03-01"), (Some(1.0), Some("false")));
    assert_eq!(
        of("2026-01-01"),
        (Some(0.0), Some("false")),
        "could have churned, did not"
    );
    for month in ["2026-04-01", "2026-05-01", "2026-06-01"] {
        assert_eq!(
            of(month),
            (Some(0.0), Some("true")),
            "{month} is too recent to churn"
        );
    }

    let l = table(&out, "lifecycle_stages");
    let idx = by_key(&col_i64(&l, "customer_id"));
    let (stage, prev) = (col_str(&l, "stage"), col_str(&l, "prev_stage"));
    // The stage at as_of, and at the previous period (2026-05-31), when
    // customers 2 and 5 had not bought yet. Then, customer 3 had come back
    // after a gap of 104 days (2025-12-01 to 2026-03-15) and had not yet
    // churned; customer 4's last 90 days (120) were under its earlier
    // average (80 over 57 days, 126.3 per 90) but above half of it: mature.
    for (id, e, e_prev) in [
        (1, "recovered", Some("churned")),
        (2, "new", None),
        (3, "churned", Some("recovered")),
        (4, "mature", Some("mature")),
        (5, "new", None),
        (6, "churned", Some("churned")),
        (8, "recovered", Some("recovered")),
        (9, "recovered", Some("churned")),
        (10, "declining", Some("new")),
        (11, "recovered", Some("churned")),
        (12, "new", Some("new")),
    ] {
        assert_eq!(
            stage[idx[&id]].as_deref(),
            Some(e),
            "stage of customer {id}"
        );
        assert_eq!(
            prev[idx[&id]].as_deref(),
            e_prev,
            "previous stage of customer {id}"
        );
    }
    // The figures the stages are decided on, as reference.py prints them:
    // the last 90 days' spend, the earlier average for 90 days and the gap
    // before the last purchase. Customer 4 by hand: $120 from 2026-01-05 to
    // 2026-04-01, the day before the last 90 days, 87 days counted both
    // ends: 120 / 87 * 90.
    let (recent, earlier, gap) = (
        col_f64(&l, "recent_revenue"),
        col_f64(&l, "earlier_avg_revenue"),
        col_i64(&l, "last_gap_days"),
    );
    for (id, e_recent, e_earlier, e_gap) in [
        (1, 200.0, 20.361991, Some(521)),
        (2, 50.0, 0.0, None),
        (3, 0.0, 162.371134, Some(104)),
        (4, 120.0, 120.0 / 87.0 * 90.0, Some(31)),
        (5, 0.0, 0.0, None),
        (6, 0.0, 29.508197, None),
        (8, 60.0, 12.705882, Some(473)),
        (9, 20.0, 163.043478, Some(336)),
        (10, 0.0, 900.0, None),
        (11, 5.0, 316.901408, Some(185)),
        (12, 770.0, 0.0, Some(40)),
    ] {
        let i = idx[&id];
        assert!(
            close(recent[i].unwrap(), e_recent),
            "recent of customer {id}"
        );
        assert!(
            (earlier[i].unwrap() - e_earlier).abs() < 1e-5,
            "earlier average of customer {id}: {:?}",
            earlier[i]
        );
        assert_eq!(gap[i], e_gap, "gap of customer {id}");
    }
    let s = table(&out, "lifecycle_summary");
    assert_eq!(
        col_i64(&s, "customers"),
        [Some(3), Some(0), Some(1), Some(1), Some(2), Some(4)],
        "new, growth, mature, declining, churned, recovered"
    );
    assert_eq!(
        col_i64(&s, "prev_customers"),
        [Some(2), Some(0), Some(1), Some(0), Some(4), Some(2)],
        "new, growth, mature, declining, churned, recovered at the previous period"
    );
    assert!(close(col_f64(&s, "prev_share")[4].unwrap(), 4.0 / 9.0));
}

#[test]
fn previous_lifecycle_stages_are_what_a_run_dated_then_gives() {
    // A second method for prev_stage: the stages of a run dated at the
    // previous period, on the same data (later orders are ignored by it).
    let tmp = tempfile::tempdir().unwrap();
    let now = run(tmp.path(), true, &[]);
    let then = tmp.path().join("then");
    let o = run_pipeline(
        tmp.path(),
        &bundled_pipeline(),
        "2026-05-31",
        &tmp.path().join("data"),
        &then,
        &[],
    );
    assert_exit(&o, 0);
    let stages = |out: &Path, col: &str| -> BTreeMap<i64, Option<String>> {
        let t = table(out, "lifecycle_stages");
        col_i64(&t, "customer_id")
            .into_iter()
            .map(Option::unwrap)
            .zip(col_str(&t, col))
            .filter(|(_, s)| s.is_some())
            .collect()
    };
    let then_stages = stages(&then, "stage");
    assert_eq!(then_stages.len(), 9);
    assert_eq!(stages(&now, "prev_stage"), then_stages);
    let (a, b) = (
        table(&now, "lifecycle_summary"),
        table(&then, "lifecycle_summary"),
    );
    assert_eq!(col_i64(&a, "prev_customers"), col_i64(&b, "customers"));
}

/// The stages at five dates 90 days apart, each date judged on the orders up
/// to it (reference.py's lifecycle_trend). By hand at 2026-01-01: six
/// customers had bought; 11 (first order 2025-11-11) is new; 3 came back on
/// 2025-12-01 after 266 days; 1, 6, 8 and 9 had bought nothing since
/// 2025-10-03: churned. At 2025-07-05 customer 9's first order (2025-06-30)
/// makes it new.
#[test]
fn the_lifecycle_trend_counts_the_stages_every_churn_period() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), false, &[]);
    let t = table(&out, "lifecycle_trend");
    let (period, date, stage) = (
        col_i64(&t, "period"),
        col_str(&t, "date"),
        col_str(&t, "stage"),
    );
    let (customers, share) = (col_i64(&t, "customers"), col_f64(&t, "share"));
    assert_eq!(period.len(), 30, "5 dates, 6 stages each");
    let stages = [
        "new",
        "growth",
        "mature",
        "declining",
        "churned",
        "recovered",
    ];
    // new, growth, mature, declining, churned, recovered: oldest date first
    let expected: [(i64, &str, [i64; 6]); 5] = [
        (4, "2025-07-05", [1, 0, 0, 0, 3, 0]),
        (3, "2025-10-03", [1, 0, 0, 0, 4, 0]),
        (2, "2026-01-01", [1, 0, 0, 0, 4, 1]),
        (1, "2026-04-01", [2, 0, 0, 0, 5, 1]),
        (0, "2026-06-30", [3, 0, 1, 1, 2, 4]),
    ];
    for (d, (e_period, e_date, counts)) in expected.iter().enumerate() {
        let total: i64 = counts.iter().sum();
        for (s, e_stage) in stages.iter().enumerate() {
            let i = d * 6 + s;
            assert_eq!(
                (period[i], date[i].as_deref(), stage[i].as_deref()),
                (Some(*e_period), Some(*e_date), Some(*e_stage)),
                "row {i}"
            );
            assert_eq!(customers[i], Some(counts[s]), "{e_date} {e_stage}");
            assert!(close(share[i].unwrap(), counts[s] as f64 / total as f64));
        }
    }
    // The newest date's counts are lifecycle_summary's.
    assert_eq!(
        col_i64(&table(&out, "lifecycle_summary"), "customers"),
        customers[24..].to_vec()
    );
}

/// A second method, on sample data where every stage occurs: each date of the
/// trend counts what a run dated then counts in lifecycle_summary. With
/// compare_days 90 a run's previous period is the trend's date before, so
/// its lifecycle_summary says the same for that date too.
#[test]
fn each_date_of_the_lifecycle_trend_is_what_a_run_dated_then_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sample_data(tmp.path(), &data, 1_500, 7);
    let summary = |as_of: &str, out: &Path| -> (Vec<Option<i64>>, Vec<Option<i64>>) {
        let o = run_pipeline(
            tmp.path(),
            &bundled_pipeline(),
            as_of,
            &data,
            out,
            &["--param", "compare_days=90"],
        );
        assert_exit(&o, 0);
        let s = table(out, "lifecycle_summary");
        (col_i64(&s, "customers"), col_i64(&s, "prev_customers"))
    };
    let now = tmp.path().join("now");
    let (customers_now, prev_now) = summary("2026-06-30", &now);
    let t = table(&now, "lifecycle_trend");
    let (date, customers) = (col_str(&t, "date"), col_i64(&t, "customers"));
    assert_eq!(customers[24..].to_vec(), customers_now);
    assert_eq!(customers[18..24].to_vec(), prev_now);
    let mut stages_seen = [false; 6];
    for d in 0..4 {
        let day = date[d * 6].clone().unwrap();
        let (then, before) = summary(&day, &tmp.path().join(&day));
        assert_eq!(customers[d * 6..d * 6 + 6].to_vec(), then, "at {day}");
        if d > 0 {
            let prev = customers[(d - 1) * 6..d * 6].to_vec();
            assert_eq!(prev, before, "90 days before {day}");
        }
        for (s, n) in then.iter().enumerate() {
            stages_seen[s] |= n.unwrap() > 0;
        }
    }
    assert_eq!(stages_seen, [true; 6], "every stage occurs at some date");
}

/// A previous period before the first order (compare_days 600: 2024-11-07,
/// the fixture's orders starting on 2025-01-15) had no customers: their
/// shares are no one's (NULL, "–" in the report), not 0%, and the change
/// in share is not the whole share.
#[test]
fn a_previous_period_without_customers_has_no_lifecycle_shares() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), false, &["--param", "compare_days=600"]);
    let s = table(&out, "lifecycle_summary");
    assert_eq!(col_i64(&s, "prev_customers"), [Some(0); 6]);
    assert_eq!(col_f64(&s, "prev_share"), [None; 6]);
    // The stages now, as cohorts_churn_and_lifecycle counts
    // them: 3 new of 11.
    assert!(close(col_f64(&s, "share")[0].unwrap(), 3.0 / 11.0));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| New | 3 | 27.3% | 0 | – | – |"), "{md}");
    // The period's flows: all 11 customers are new since then, and 3 and 6
    // (churned now) were lost among them: 11 - 2 = 9 more active customers.
    let h = table(&out, "headline");
    let flows = ["new_customers", "returned_customers", "lost_customers"];
    assert_eq!(
        flows.map(|c| col_i64(&h, c)[0]),
        [Some(11), Some(0), Some(2)]
    );
}

#[test]
fn satisfaction_funnel_churn_index_and_complaints() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), true, &[]);
    let f = table(&out, "satisfaction_funnel");
    assert_eq!(
        col_str(&f, "stage"),
        [
            "surveyed",
            "satisfied",
            "repurchased",
            "retained",
            "promoter"
        ]
        .map(|s| Some(s.to_string()))
    );
    // The funnel follows the answers of the 365 days ending 90 days before
    // as_of (2025-04-02 .. 2026-04-01), whose 90 days to buy again are
    // over: customer 3's (CSAT 2) and customer 4's of 1 March (CSAT 3; its
    // CSAT 4 of 6 June is too recent). Nobody satisfied: no conversion after.
    assert_eq!(
        col_i64(&f, "customers"),
        [Some(2), Some(0), Some(0), Some(0), Some(0)]
    );
    assert_eq!(
        col_f64(&f, "conversion_from_previous"),
        [Some(1.0), Some(0.0), None, None, None]
    );
    assert_eq!(
        (
            col_str(&f, "window_start")[0].clone(),
            col_str(&f, "window_end")[0].clone()
        ),
        (Some("2025-04-02".into()), Some("2026-04-01".into()))
    );

    // Churn by the latest answer given before 2026-04-01 (more than 90 days
    // before as_of): customer 3's (CSAT 2; churned) and 4's of 1 March
    // (CSAT 3; active). The June answers are too recent to tell.
    let c = table(&out, "churn_by_satisfaction");
    assert_eq!(
        col_i64(&c, "customers"),
        [Some(0), Some(1), Some(1), Some(0), Some(0)]
    );
    assert_eq!(
        col_i64(&c, "churned"),
        [Some(0), Some(1), Some(0), Some(0), Some(0)]
    );
    let (rate, low, high) = (
        col_f64(&c, "churn_rate"),
        col_f64(&c, "churn_rate_low"),
        col_f64(&c, "churn_rate_high"),
    );
    assert_eq!(
        (rate[0], rate[3], rate[4]),
        (None, None, None),
        "no customer: no rate"
    );
    // Wilson interval for 1 of 1: (0.206543, 1]; for 0 of 1: [0, 0.793457).
    assert!((low[1].unwrap() - 0.206543).abs() < 1e-6);
    assert!(close(high[1].unwrap(), 1.0));
    assert!(close(low[2].unwrap(), 0.0));
    assert!((high[2].unwrap() - 0.793457).abs() < 1e-6);
    assert_eq!(
        col_f64(&c, "benchmark_churn_rate"),
        [Some(0.8), Some(0.8), Some(0.3), Some(0.1), Some(0.015)]
    );

    let s = table(&out, "satisfaction_index");
    assert_eq!(
        col_str(&s, "period"),
        [Some("current".into()), Some("previous".into())]
    );
    assert_eq!(
        col_str(&s, "period_start"),
        [Some("2026-06-01".into()), Some("2026-05-02".into())]
    );
    assert_eq!(col_i64(&s, "responses"), [Some(7), Some(1)]);
    let idx = col_f64(&s, "satisfaction_index");
    assert!((idx[0].unwrap() - 63.214286).abs() < 1e-6);
    assert!(
        close(idx[1].unwrap(), 87.5),
        "(0.3*5+0.3*4+0.2*5+0.2*4-1)/4*100"
    );
    let csat = col_f64(&s, "csat");
    assert!(close(csat[0].unwrap(), 5.0 / 7.0));
    let nps = col_f64(&s, "nps");
    assert!(
        close(nps[0].unwrap(), 100.0 / 7.0),
        "3 promoters, 2 detractors of 7"
    );
    assert_eq!(nps[1], None, "the one answer in May has no NPS");

    let k = table(&out, "complaint_recovery");
    // Judged by complaints opened before 2026-04-01 (more than 90 days
    // before as_of): 3's and 6's resolved within hours (both churned), 4's
    // in 3 days. 11's (open) and 8's (resolved after as_of) are of June:
    // too recent to tell, with no rate.
    assert_recovery_groups(&k, [6, 2, 1, 0, 2], [6, 0, 1, 0, 2]);
    let rate = col_f64(&k, "retention_rate");
    assert_eq!(rate[..3], [Some(1.0), Some(0.0), Some(1.0)]);
    assert_eq!(
        rate[3..],
        [None, None],
        "no one unresolved; too recent has no rate"
    );
    // The course notes' figures beside the groups they speak of.
    assert_eq!(
        col_f64(&k, "benchmark_retention_rate"),
        [None, Some(0.95), Some(0.75), Some(0.11), None]
    );
}

/// Survey answers at the bounds of the funnel and of churn by rating, as of
/// 2026-06-30, for the customers of orders.csv.
const FUNNEL_SURVEYS: &str = "\
response_id,customer_id,survey_ts,csat,nps,product_quality,service_quality,price,communication
1,3,2026-03-15 08:00:00,5,10,5,5,5,5
2,1,2025-04-02 00:00:00,3,7,3,3,3,3
3,8,2025-04-01 23:59:59,5,10,5,5,5,5
4,4,2026-01-01 10:00:00,4,9,4,4,4,4
5,4,2026-04-02 08:00:00,1,0,1,1,1,1
6,11,2025-12-12 10:00:00,5,8,5,5,5,5
7,9,2026-03-03 10:00:00,4,8,4,4,4,4
8,12,2026-01-31 09:59:59,5,10,5,5,5,5
9,6,2026-02-01 10:00:00,0,10,5,5,5,5
10,10,2026-04-01 00:00:00,1,0,1,1,1,1
";

/// The funnel's bounds, each at its edge: answers of the 365 days ending
/// 90 days before as_of (2025-04-02 .. 2026-04-01) only, each customer by
/// their latest answer among those; bought again by an order after the
/// answer and no later than 90 days after it. Orders from orders.csv.
#[test]
fn the_funnel_follows_answers_whose_days_to_buy_again_are_over() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    analyses_fixture(&data, true);
    csv_text_to_parquet("surveys", survey_fields(), FUNNEL_SURVEYS.as_bytes(), &data);
    let out = run_on_data(tmp.path(), &[]);
    // Surveyed: 3, 1 (the window's first instant), 4 (by 1 January: the
    // answer of 2 April is a day too recent), 11, 9, 12, 10 (the window's
    // last day). Not: 8 (a second before the window), 6 (CSAT 0 is no
    // answer). Satisfied: all but 1 and 10.
    // Bought again: 3 (an hour later), 4 (5 January), 9 (1 June 10:00, 90
    // days to the second). Not: 11 (an order at the answer's instant is not
    // after it; the next is 185 days on), 12 (1 May 10:00:00, a second past
    // 90 days). Still active at 06-30: 4 and 9 (3's last order, 15 March,
    // is 107 days before). Promoter: 4 (NPS 9); 9 answered 8, a passive.
    let f = table(&out, "satisfaction_funnel");
    assert_eq!(
        col_i64(&f, "customers"),
        [Some(7), Some(5), Some(3), Some(2), Some(1)]
    );
    let conv = col_f64(&f, "conversion_from_previous");
    for (g, e) in conv.iter().zip([1.0, 5.0 / 7.0, 3.0 / 5.0, 2.0 / 3.0, 0.5]) {
        assert!(close(g.unwrap(), e), "{conv:?}");
    }
    run_on_data(tmp.path(), &["--param", "repurchase_days=91"]);
    // With 91 days, the window ends a day earlier (2026-03-31) and starts
    // on 2025-04-01: customer 8 comes in (satisfied, no order after), and
    // 12's order of 1 May comes within reach: 12, still active with NPS 10,
    // goes on to the end. Nothing else moves.
    let f = table(&out, "satisfaction_funnel");
    assert_eq!(
        col_i64(&f, "customers"),
        [Some(7), Some(6), Some(4), Some(3), Some(2)]
    );

    // Answers without an NPS: customer 4's alone (4 is no promoter's then,
    // though still active), and every one (no NPS was asked: the promoter
    // stage is unknown, not 0). The stages before do not move.
    for (blank, promoter) in [(&["4,4,2026-01-01"][..], Some(0)), (&[""], None)] {
        let surveys = with_blanks(FUNNEL_SURVEYS, 4..5, |line| {
            blank.iter().any(|b| line.starts_with(b))
        });
        csv_text_to_parquet("surveys", survey_fields(), surveys.as_bytes(), &data);
        run_on_data(tmp.path(), &[]);
        let f = table(&out, "satisfaction_funnel");
        assert_eq!(
            col_i64(&f, "customers"),
            [Some(7), Some(5), Some(3), Some(2), promoter]
        );
        let conv = col_f64(&f, "conversion_from_previous");
        assert_eq!(conv[4], promoter.map(|_| 0.0), "{blank:?}");
    }
}

/// Churn by satisfaction rating judges each customer by their latest answer
/// given more than churn_days (90) before as_of, before 2026-04-01: one not
/// churned has bought again since. The answers of the funnel's test above.
#[test]
fn churn_by_rating_follows_answers_old_enough_to_tell() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    analyses_fixture(&data, true);
    csv_text_to_parquet("surveys", survey_fields(), FUNNEL_SURVEYS.as_bytes(), &data);
    let out = run_on_data(tmp.path(), &[]);
    // CSAT 3: customer 1. CSAT 4: 4 (by 1 January; its CSAT 1 of 2 April is
    // too recent, as is 10's of 1 April, the first day too recent) and 9.
    // CSAT 5: 3, 8 (a second before the funnel's window, in time here), 11
    // and 12. Not 6 (CSAT 0). Churned at 06-30: 3 alone (last order 15 March).
    let c = table(&out, "churn_by_satisfaction");
    assert_eq!(
        col_i64(&c, "customers"),
        [Some(0), Some(0), Some(1), Some(2), Some(4)]
    );
    assert_eq!(
        col_i64(&c, "churned"),
        [Some(0), Some(0), Some(0), Some(0), Some(1)]
    );
    // Wilson intervals: 1 of 4 (0.045586, 0.699364), 0 of 2 [0, 0.657628).
    let (low, high) = (
        col_f64(&c, "churn_rate_low"),
        col_f64(&c, "churn_rate_high"),
    );
    assert!((low[4].unwrap() - 0.045586).abs() < 1e-6, "{low:?}");
    assert!((high[4].unwrap() - 0.699364).abs() < 1e-6, "{high:?}");
    assert!((high[3].unwrap() - 0.657628).abs() < 1e-6, "{high:?}");
}

#[test]
fn loyalty_programme_members_against_non_members() {
    // customers.csv marks 1, 3, 4, 6, 11 (and 7, who bought only after the
    // run date) members; 2, 5, 8, 9, 12 (and 13, who never bought) not;
    // 10 is blank. Churned (last order over 90 days before): 3 and 6.
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), true, &[]);
    let p = table(&out, "loyalty_programme");
    assert_eq!(
        col_str(&p, "member_group"),
        ["member", "non-member", "unknown"].map(|s| Some(s.to_string()))
    );
    assert_eq!(col_i64(&p, "customers"), [Some(5), Some(5), Some(1)]);
    assert_eq!(col_i64(&p, "churned"), [Some(2), Some(0), Some(0)]);
    let rate = col_f64(&p, "churn_rate");
    assert!(close(rate[0].unwrap(), 0.4) && close(rate[1].unwrap(), 0.0));
    // Wilson intervals, worked by reference.py: 2 of 5, 0 of 5, 0 of 1.
    let (low, high) = (
        col_f64(&p, "churn_rate_low"),
        col_f64(&p, "churn_rate_high"),
    );
    for (got, want) in [
        (low[0], 0.117618),
        (high[0], 0.769280),
        (low[1], 0.0),
        (high[1], 0.434491),
        (high[2], 0.793457),
    ] {
        assert!((got.unwrap() - want).abs() < 1e-6, "{got:?} against {want}");
    }
    // Repeat buyers: 1, 3, 4, 11 of the members; 8, 9, 12 of the others.
    let repeat = col_f64(&p, "repeat_rate");
    assert!(close(repeat[0].unwrap(), 0.8) && close(repeat[1].unwrap(), 0.6));
    assert!(close(repeat[2].unwrap(), 0.0));
    // Completed orders 2+3+6+1+3 and 1+1+2+2+2.
    let per = col_f64(&p, "orders_per_customer");
    assert!(close(per[0].unwrap(), 3.0) && close(per[1].unwrap(), 1.6));
    // To date: 300+700+240+80+505 and 50+0+120+520+770 (5's refund nets 0).
    assert_eq!(
        col_f64(&p, "revenue"),
        [Some(1825.0), Some(1460.0), Some(10.0)]
    );
    assert_eq!(
        col_f64(&p, "revenue_per_customer"),
        [Some(365.0), Some(292.0), Some(10.0)]
    );
    // In the 365 days from 2025-07-01: 200+400+240+80+505 and 50+0+60+20+770
    // (9's $500 of 2025-06-30 falls a day outside).
    assert_eq!(
        col_f64(&p, "window_revenue_per_customer"),
        [Some(285.0), Some(180.0), Some(10.0)]
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| Members | 5 | 40.0% | 11.8%–76.9% | 80.0% | 3.0 | $285 |"),
        "{md}"
    );
    assert!(md.contains("| Not marked | 1 | 0.0% |"), "{md}");
}

#[test]
fn without_loyalty_member_everyone_is_unknown_and_the_report_says_why() {
    // A customers table without the column, and without customer 10, who
    // bought: 10 counts as not marked too.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    analyses_fixture(&data, true);
    let ids: Vec<i64> = (1..=13).filter(|&c| c != 10).collect();
    let batch = arrow::array::RecordBatch::try_from_iter([(
        "customer_id",
        std::sync::Arc::new(arrow::array::Int64Array::from(ids)) as arrow::array::ArrayRef,
    )])
    .unwrap();
    write_parquet(&data.join("customers/part-0.parquet"), &batch);
    let out = run_on_data(tmp.path(), &[]);
    let p = table(&out, "loyalty_programme");
    assert_eq!(col_i64(&p, "customers"), [Some(0), Some(0), Some(11)]);
    assert_eq!(col_i64(&p, "churned"), [Some(0), Some(0), Some(2)]);
    assert_eq!(col_f64(&p, "churn_rate")[0], None, "no member: no rate");
    for report in ["report.md", "report.html"] {
        let text = std::fs::read_to_string(out.join(report)).unwrap();
        assert!(
            text.contains("does not mark loyalty-programme members"),
            "{report}"
        );
        assert!(!text.contains("Not marked"), "{report}: no table");
    }
}

#[test]
fn satisfaction_per_segment() {
    // The segments of rfm_scores_segments_and_migration; every answer of
    // surveys.csv falls in the default 365-day window. Worked by hand and by
    // reference.py: Loyal Customers (4, 11, 12) gave answers 4, 5, 7 and 8,
    // scored 3.0, 4.1, 1.2 and 4.5 (0.3, 0.3, 0.2, 0.2 weights): index
    // (3.2 - 1) * 25 = 55; CSAT 4-5 in 2 of 4; NPS 6, 9, 0 (and one blank):
    // 1 promoter, 2 detractors of 3.
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), true, &[]);
    let s = table(&out, "satisfaction_by_segment");
    assert_eq!(
        col_str(&s, "segment")[1].as_deref(),
        Some("Loyal Customers")
    );
    assert_eq!(
        col_i64(&s, "customers"),
        [0, 3, 1, 2, 0, 0, 0, 2, 1, 1, 1].map(Some)
    );
    assert_eq!(
        col_i64(&s, "responses"),
        [0, 4, 1, 1, 0, 0, 0, 2, 1, 0, 1].map(Some)
    );
    let want = |v: [Option<f64>; 11], got: Vec<Option<f64>>, what: &str| {
        for (g, w) in got.iter().zip(v) {
            match (g, w) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-6, "{what}: {got:?}"),
                (g, w) => assert_eq!(*g, w, "{what}: {got:?}"),
            }
        }
    };
    let n = None;
    want(
        [
            n,
            Some(55.0),
            Some(90.0),
            Some(75.0),
            n,
            n,
            n,
            Some(85.0),
            Some(25.0),
            n,
            Some(25.0),
        ],
        col_f64(&s, "satisfaction_index"),
        "index",
    );
    want(
        [
            n,
            Some(0.5),
            Some(1.0),
            Some(1.0),
            n,
            n,
            n,
            Some(1.0),
            Some(0.0),
            n,
            Some(0.0),
        ],
        col_f64(&s, "csat"),
        "csat",
    );
    want(
        [
            n,
            Some(-100.0 / 3.0),
            Some(100.0),
            Some(0.0),
            n,
            n,
            n,
            Some(50.0),
            Some(-100.0),
            n,
            Some(-100.0),
        ],
        col_f64(&s, "nps"),
        "nps",
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| Loyal Customers | 3 | 4 | 55.0 | 50.0% | −33 |"),
        "{md}"
    );

    // A 121-day window is the 121 days 2026-03-02 .. 06-30: answers 3
    // (2026-01-10) and 4 (2026-03-01, the day before) fall outside. Loyal
    // Customers keep 5, 7 and 8: index (9.8 / 3 - 1) * 25, CSAT 2 of 3, NPS
    // 9 and 0: 0.
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), true, &["--param", "survey_window_days=121"]);
    let s = table(&out, "satisfaction_by_segment");
    assert_eq!(col_i64(&s, "responses")[1], Some(3));
    assert_eq!(col_i64(&s, "responses")[8], Some(0), "Can't Lose Them");
    assert!(
        (col_f64(&s, "satisfaction_index")[1].unwrap() - (9.8 / 3.0 - 1.0) * 25.0).abs() < 1e-6
    );
    assert!(close(col_f64(&s, "csat")[1].unwrap(), 2.0 / 3.0));
    assert!(close(col_f64(&s, "nps")[1].unwrap(), 0.0));
}

/// customer_lifetime_value's rows as (scope, segment, customers, retained,
/// revenue per customer, margin per customer, lifetime in years, CLTV, CLTV
/// on margin), segments with no customer at the base date left out.
#[allow(clippy::type_complexity)]
fn lifetime_values(
    out: &Path,
) -> Vec<(
    String,
    Option<String>,
    i64,
    i64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
)> {
    let t = table(out, "customer_lifetime_value");
    let (scope, seg) = (col_str(&t, "scope"), col_str(&t, "segment"));
    let (n, kept) = (col_i64(&t, "customers"), col_i64(&t, "retained"));
    let (arpc, mpc) = (
        col_f64(&t, "revenue_per_customer"),
        col_f64(&t, "margin_per_customer"),
    );
    let (life, cltv, cltv_m) = (
        col_f64(&t, "lifetime_years"),
        col_f64(&t, "cltv"),
        col_f64(&t, "cltv_margin"),
    );
    let rate = col_f64(&t, "retention_rate");
    (0..scope.len())
        .filter(|&i| n[i] != Some(0))
        .map(|i| {
            let (n, kept) = (n[i].unwrap(), kept[i].unwrap());
            assert!(close(rate[i].unwrap(), kept as f64 / n as f64));
            (
                scope[i].clone().unwrap(),
                seg[i].clone(),
                n,
                kept,
                arpc[i],
                mpc[i],
                life[i],
                cltv[i],
                cltv_m[i],
            )
        })
        .collect()
}

/// Rounds the floats of an optional value to a millionth, for comparing rows.
fn r6(v: Option<f64>) -> Option<f64> {
    v.map(|v| (v * 1e6).round() / 1e6)
}

#[test]
fn lifetime_value_follows_each_segment_from_the_start_of_the_window() {
    // Base date 2025-06-30 (as_of - 365 days). Customers 1, 3, 8 and 9 had
    // bought by then, one order each; the quintiles of four customers are
    // 1..4: recency 166, 112, 149, 0 days gives r 1, 3, 2, 4; frequency ties
    // by id (f 1, 2, 3, 4); monetary 100, 300, 60, 500 gives m 2, 3, 1, 4.
    // Codes 112 Lost, 323 Need Attention, 231 At Risk, 444 Loyal Customers.
    // Over the window (2025-07-01 .. 2026-06-30) customer 3 churned (last
    // order 2026-03-15, 107 days), the others stayed. Window revenue (margin):
    // 1: 200 (60), 3: 300 + 100 = 400 (120), 8: 60 (20), 9: 20 (5). A segment
    // that lost nobody has no finite lifetime. Overall r = 3/4, lifetime
    // 1 / (1 - 3/4) = 4 years, CLTV 680 / 4 x 4 = 680 = revenue / customers
    // lost; on margin 205.
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), true, &[]);
    let rows: Vec<_> = lifetime_values(&out)
        .into_iter()
        .map(|(sc, seg, n, k, a, m, l, c, cm)| (sc, seg, n, k, r6(a), r6(m), r6(l), r6(c), r6(cm)))
        .collect();
    let seg = |s: &str| Some(s.to_string());
    assert_eq!(
        rows,
        [
            (
                "segment".into(),
                seg("Loyal Customers"),
                1,
                1,
                Some(20.0),
                Some(5.0),
                None,
                None,
                None
            ),
            (
                "segment".into(),
                seg("Need Attention"),
                1,
                0,
                Some(400.0),
                Some(120.0),
                Some(1.0),
                Some(400.0),
                Some(120.0)
            ),
            (
                "segment".into(),
                seg("At Risk"),
                1,
                1,
                Some(60.0),
                Some(20.0),
                None,
                None,
                None
            ),
            (
                "segment".into(),
                seg("Lost"),
                1,
                1,
                Some(200.0),
                Some(60.0),
                None,
                None,
                None
            ),
            (
                "all".into(),
                None,
                4,
                3,
                Some(170.0),
                Some(51.25),
                Some(4.0),
                Some(680.0),
                Some(205.0)
            ),
        ]
    );
    let t = table(&out, "customer_lifetime_value");
    assert_eq!(
        col_str(&t, "segment").len(),
        12,
        "every segment is listed, then everyone"
    );
    // The base date's figures and scores stated above: what was bought
    // before the window (1: 300 in all less the window's 200; 3: 700 less
    // 400; 9: 520 less 20).
    let base = show_bundled_csv(
        tmp.path(),
        "SELECT customer_id, recency_days, frequency, monetary, rfm_code \
         FROM rfm_scores_base ORDER BY customer_id",
    );
    assert_eq!(
        base,
        "customer_id,recency_days,frequency,monetary,rfm_code\n\
         1,166,1,100.0,112\n\
         3,112,1,300.0,323\n\
         8,149,1,60.0,231\n\
         9,0,1,500.0,444\n"
    );

    // The what-if of 5 points more kept (`retention_uplift` 0.05): overall
    // 3/4 + 0.05 = 0.8 kept, 170 / (1 - 0.8) = 850, 25% more than 680; Need
    // Attention kept none: 0.05, 400 / 0.95, 1 / 0.95 times its 400; a
    // segment that lost nobody cannot keep more: no figure.
    let customers = col_i64(&t, "customers");
    let uplift: Vec<_> = col_str(&t, "segment")
        .into_iter()
        .zip(col_f64(&t, "uplift_retention_rate"))
        .zip(col_f64(&t, "uplift_cltv"))
        .zip(col_f64(&t, "uplift_gain"))
        .zip(customers)
        .filter(|(_, n)| *n != Some(0))
        .map(|((((seg, rate), cltv), gain), _)| (seg, r6(rate), r6(cltv), r6(gain)))
        .collect();
    assert_eq!(
        uplift,
        [
            (seg("Loyal Customers"), None, None, None),
            (
                seg("Need Attention"),
                Some(0.05),
                r6(Some(400.0 / 0.95)),
                r6(Some(1.0 / 0.95 - 1.0))
            ),
            (seg("At Risk"), None, None, None),
            (seg("Lost"), None, None, None),
            (None, Some(0.8), Some(850.0), Some(0.25)),
        ]
    );
}

/// A window in which none of the followed customers bought: as of 2026-06-30
/// with a 10-day window (06-21 .. 06-30, base date 06-20), only customers 2
/// and 5 bought, and both first bought in it (not followed). The nine who
/// had bought by 06-20 (1, 3, 4, 6, 8, 9, 10, 11, 12) made no revenue and,
/// the window's orders carrying margins (2's, 5's), no margin: 0, as the
/// revenue, where it read as unknown beside a lifetime value of $0. 3 and 6
/// have churned: 7 kept, lifetime 10/365 x 9/2 years, CLTV 0.
#[test]
fn a_window_without_purchases_by_the_followed_has_no_margin_either() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        tmp.path(),
        true,
        &["--param", "contribution_window_days=10"],
    );
    let rows = lifetime_values(&out);
    assert!(!rows.is_empty());
    for (scope, segment, n, kept, arpc, margin, _, cltv, cltv_margin) in &rows {
        let what = format!("{scope} {segment:?}");
        assert_eq!((*arpc, *margin), (Some(0.0), Some(0.0)), "{what}");
        // A segment that lost nobody has no finite lifetime, hence no CLTV.
        let value = (n != kept).then_some(0.0);
        assert_eq!((*cltv, *cltv_margin), (value, value), "{what}");
    }
    let all = rows.iter().find(|r| r.0 == "all").unwrap();
    assert_eq!((all.2, all.3), (9, 7));
    assert!(close(all.6.unwrap(), 10.0 / 365.0 * 9.0 / 2.0));
}

#[test]
fn lifetime_value_of_segments_that_kept_some_customers() {
    // Ten customers bought $10 each before the base date 2025-06-30, customer
    // i on June i (customer 10 at 23:59 on the base date itself), so both
    // recency (oldest first) and frequency (all 1, ties by id) put customers
    // 2k-1 and 2k in quintile k: r = f = k. Segments: 1-2 Lost (r1 f1),
    // 3-4 Hibernating (r2 f2), 5-6 Need Attention (r3 f3), 7-8 Loyal
    // Customers (r4 f4), 9-10 Champions (r5 f5). Over the window:
    //   9 buys $300 on 2026-06-20 (kept), 10 $100 on 2026-03-20 (churned,
    //     102 days): r 1/2, ARPC 200, lifetime 2 years, CLTV 400;
    //   7 buys $200 and returns $50, and cancels $999 (kept, $150); 8 buys
    //     $50 (kept): nobody lost, no finite lifetime;
    //   3 comes back with $80 (kept), 4 does not: r 1/2, ARPC 40, CLTV 80;
    //   1, 2, 5 and 6 buy nothing: r 0, lifetime 1 year, CLTV 0.
    // Customer 11 first bought in the window: not followed. Overall: 10
    // customers, 4 kept, $680: lifetime 1 / 0.6 years, CLTV 680 / 6. The
    // orders carry no margin: the margin figures are empty.
    let tmp = tempfile::tempdir().unwrap();
    let base: Vec<String> = (1..=9)
        .map(|i| format!("2025-06-{i:02} 10:00:00"))
        .chain(["2025-06-30 23:59:00".to_string()])
        .collect();
    let mut orders: Vec<(i64, i64, &str, f64, &str)> = (1..=10)
        .map(|i| (i, i, base[i as usize - 1].as_str(), 10.0, "completed"))
        .collect();
    orders.extend([
        (11, 9, "2026-06-20 10:00:00", 300.0, "completed"),
        (12, 10, "2026-03-20 10:00:00", 100.0, "completed"),
        (13, 7, "2026-05-01 10:00:00", 200.0, "completed"),
        (14, 7, "2026-05-03 10:00:00", -50.0, "returned"),
        (15, 7, "2026-05-04 10:00:00", 999.0, "cancelled"),
        (16, 8, "2026-06-01 10:00:00", 50.0, "completed"),
        (17, 3, "2026-06-15 10:00:00", 80.0, "completed"),
        (18, 11, "2025-07-01 00:00:00", 1000.0, "completed"),
        (19, 11, "2026-06-29 10:00:00", 1000.0, "completed"),
    ]);
    let ids: Vec<i64> = (1..=11).collect();
    let out = run_on_orders(tmp.path(), &ids, &orders);
    let rows: Vec<_> = lifetime_values(&out)
        .into_iter()
        .map(|(sc, seg, n, k, a, m, l, c, cm)| (sc, seg, n, k, r6(a), m, r6(l), r6(c), cm))
        .collect();
    let seg = |s: &str| Some(s.to_string());
    assert_eq!(
        rows,
        [
            (
                "segment".into(),
                seg("Champions"),
                2,
                1,
                Some(200.0),
                None,
                Some(2.0),
                Some(400.0),
                None
            ),
            (
                "segment".into(),
                seg("Loyal Customers"),
                2,
                2,
                Some(100.0),
                None,
                None,
                None,
                None
            ),
            (
                "segment".into(),
                seg("Need Attention"),
                2,
                0,
                Some(0.0),
                None,
                Some(1.0),
                Some(0.0),
                None
            ),
            (
                "segment".into(),
                seg("Hibernating"),
                2,
                1,
                Some(40.0),
                None,
                Some(2.0),
                Some(80.0),
                None
            ),
            (
                "segment".into(),
                seg("Lost"),
                2,
                0,
                Some(0.0),
                None,
                Some(1.0),
                Some(0.0),
                None
            ),
            (
                "all".into(),
                None,
                10,
                4,
                Some(68.0),
                None,
                r6(Some(1.0 / 0.6)),
                r6(Some(680.0 / 6.0)),
                None
            ),
        ]
    );
}

/// complaint_recovery's four groups in order, with their customers and
/// those retained.
fn assert_recovery_groups(
    k: &[arrow::array::RecordBatch],
    customers: [i64; 5],
    retained: [i64; 5],
) {
    assert_eq!(
        col_str(k, "complaint_group"),
        [
            "never complained",
            "resolved fast",
            "resolved slow",
            "unresolved",
            "too recent"
        ]
        .map(|s| Some(s.to_string()))
    );
    assert_eq!(col_i64(k, "customers"), customers.map(Some));
    assert_eq!(col_i64(k, "retained"), retained.map(Some));
}

#[test]
fn without_surveys_and_complaints_their_steps_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), false, &[]);
    let results = read_json(&out.join("run_results.json"));
    assert_eq!(results["status"], "success");
    for step in [
        "latest_survey",
        "retention_priority",
        "satisfaction_funnel",
        "churn_by_satisfaction",
        "survey_answers",
        "satisfaction_index",
        "satisfaction_by_segment",
        "complaint_recovery",
    ] {
        assert_eq!(step_result(&results, step)["status"], "skipped", "{step}");
    }
    for step in [
        "rfm_scores",
        "contribution_ranking",
        "cohort_retention",
        "lifecycle_stages",
        "loyalty_programme",
    ] {
        assert_eq!(step_result(&results, step)["status"], "success", "{step}");
    }
}

#[test]
fn satisfaction_weights_must_sum_to_one() {
    let tmp = tempfile::tempdir().unwrap();
    analyses_fixture(&tmp.path().join("data"), true);
    let data_arg = format!("data_root={}", tmp.path().join("data").display());
    let o = loyalty(
        tmp.path(),
        &[
            "run",
            bundled_pipeline().to_str().unwrap(),
            "--param",
            &data_arg,
            "--param",
            "weight_price=0.5",
        ],
    );
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("step `survey_answers`")
            && stderr(&o).contains("must sum to 1; they sum to 1.3"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn satisfaction_index_leaves_out_values_off_their_scales() {
    // survey_answers.sql and satisfaction_index.sql on hand-written answers:
    // a CSAT or dimension score outside 1-5, or an NPS outside 0-10, counts
    // as not given, and so does a CSAT or NPS that is not a whole number.
    let tmp = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
name: index_scales
params:
  as_of: {{ type: date }}
  compare_days: {{ type: int, default: 30 }}
  weight_product_quality: {{ type: float, default: 0.3 }}
  weight_service_quality: {{ type: float, default: 0.3 }}
  weight_price: {{ type: float, default: 0.2 }}
  weight_communication: {{ type: float, default: 0.2 }}
steps:
  surveys:
    sql: |
      SELECT * FROM (VALUES
        (1, 1, TIMESTAMP '2026-06-20 09:00:00', 5, 10, 5, 5, 5, 5),
        (2, 2, TIMESTAMP '2026-06-21 09:00:00', 7, 12, 9, 4, 4, 4),
        (3, 3, TIMESTAMP '2026-06-22 09:00:00', 2, 3, 1, 1, 1, 1),
        (4, 4, TIMESTAMP '2026-06-23 09:00:00', CAST(NULL AS INT), 10, 3, 3, 3, 3),
        (5, 5, TIMESTAMP '2026-05-15 09:00:00', 4, 7, 4, 4, 4, 4),
        (6, 6, TIMESTAMP '2026-05-16 09:00:00', 0, -1, 0, 4, 4, 4),
        (7, 7, TIMESTAMP '2026-06-24 09:00:00', 4.5, 8.5, 4, 4, 4, 4)
      ) AS t(response_id, customer_id, survey_ts, csat, nps,
             product_quality, service_quality, price, communication)
  survey_answers:
    sql_file: {answers}
  satisfaction_index:
    sql_file: {index}
output_root: out
outputs:
  - {{ step: satisfaction_index, path: index/ }}
"#,
        answers = repo().join("sql/survey_answers.sql").display(),
        index = repo().join("sql/satisfaction_index.sql").display(),
    );
    run_written(tmp.path(), "index.yaml", &yaml);
    let s = read_parquet(&tmp.path().join("out/index"));
    assert_eq!(
        col_str(&s, "period"),
        [Some("current".into()), Some("previous".into())]
    );
    // June: answers 1 and 3 have a usable CSAT (5 and 2), 1, 3, 4 and 7
    // usable scores (weighted 5, 1, 3 and 4: an index of (3.25 - 1) * 25),
    // and 1, 3 and 4 an NPS (10, 3, 10: two promoters, one detractor).
    // Answer 2 counts for nothing; answer 7's CSAT (4.5) and NPS (8.5) are
    // not whole numbers, so off their scales (the columns are float with
    // them, as pandas writes them). May: answer 5 only (score 4, NPS 7, a
    // passive).
    assert_eq!(col_i64(&s, "responses"), [Some(2), Some(1)]);
    let idx = col_f64(&s, "satisfaction_index");
    assert!(close(idx[0].unwrap(), 56.25), "{idx:?}");
    assert!(close(idx[1].unwrap(), 75.0), "{idx:?}");
    let csat = col_f64(&s, "csat");
    assert!(close(csat[0].unwrap(), 0.5) && close(csat[1].unwrap(), 1.0));
    let nps = col_f64(&s, "nps");
    assert!(close(nps[0].unwrap(), 100.0 / 3.0), "{nps:?}");
    assert!(close(nps[1].unwrap(), 0.0), "{nps:?}");
}

#[test]
fn each_satisfaction_weight_scores_its_own_dimension() {
    // survey_answers.sql with four different weights (0.4, 0.3, 0.2, 0.1)
    // on answers that score 5 in one dimension and 1 in the others: each
    // answer's score is 1 + 4 × that dimension's weight, so a weight put on
    // the wrong column shows.
    let tmp = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
name: weights
params:
  as_of: {{ type: date }}
  weight_product_quality: {{ type: float, default: 0.4 }}
  weight_service_quality: {{ type: float, default: 0.3 }}
  weight_price: {{ type: float, default: 0.2 }}
  weight_communication: {{ type: float, default: 0.1 }}
steps:
  surveys:
    sql: |
      SELECT * FROM (VALUES
        (1, 1, TIMESTAMP '2026-06-20 09:00:00', 5, 10, 5, 1, 1, 1),
        (2, 2, TIMESTAMP '2026-06-20 09:00:00', 5, 10, 1, 5, 1, 1),
        (3, 3, TIMESTAMP '2026-06-20 09:00:00', 5, 10, 1, 1, 5, 1),
        (4, 4, TIMESTAMP '2026-06-20 09:00:00', 5, 10, 1, 1, 1, 5)
      ) AS t(response_id, customer_id, survey_ts, csat, nps,
             product_quality, service_quality, price, communication)
  survey_answers:
    sql_file: {answers}
  scores:
    sql: SELECT response_id, CAST(score AS DOUBLE) AS score FROM survey_answers ORDER BY response_id
output_root: out
outputs:
  - {{ step: scores, path: scores/ }}
"#,
        answers = repo().join("sql/survey_answers.sql").display(),
    );
    run_written(tmp.path(), "weights.yaml", &yaml);
    let s = read_parquet(&tmp.path().join("out/scores"));
    let scores = col_f64(&s, "score");
    for (got, expected) in scores.iter().zip([2.6, 2.2, 1.8, 1.4]) {
        assert!(close(got.unwrap(), expected), "{scores:?}");
    }
    assert_eq!(scores.len(), 4);
}

#[test]
fn retention_priority_follows_class_and_satisfaction() {
    // retention_priority.sql on one customer in each cell of contribution
    // class × satisfaction (customers 13, 14 and 15 never answered: unknown). The
    // rule: A not satisfied (dissatisfied or neutral) first; A never asked
    // and B not satisfied second; the rest third.
    let tmp = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
name: priority
params:
  as_of: {{ type: date }}
steps:
  contribution_ranking:
    sql: |
      SELECT * FROM (VALUES
        (1, 'A', 100.0), (2, 'A', 90.0), (3, 'A', 80.0), (13, 'A', 70.0),
        (4, 'B', 30.0), (5, 'B', 20.0), (6, 'B', 10.0), (14, 'B', 5.0),
        (7, 'C', 3.0), (8, 'C', 2.0), (9, 'C', 1.0), (15, 'C', 0.5)
      ) AS t(customer_id, abc_class, revenue)
  customer_status:
    sql: |
      SELECT customer_id, customer_id % 2 = 1 AS churned
      FROM (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (13), (14), (15)) AS t(customer_id)
  latest_survey:
    sql: |
      SELECT * FROM (VALUES
        (1, 'dissatisfied'), (2, 'neutral'), (3, 'satisfied'),
        (4, 'dissatisfied'), (5, 'neutral'), (6, 'satisfied'),
        (7, 'dissatisfied'), (8, 'neutral'), (9, 'satisfied')
      ) AS t(customer_id, satisfaction_level)
  retention_priority:
    sql_file: {priority}
output_root: out
outputs:
  - {{ step: retention_priority, path: priority/ }}
"#,
        priority = repo().join("sql/retention_priority.sql").display(),
    );
    run_written(tmp.path(), "priority.yaml", &yaml);
    let p = read_parquet(&tmp.path().join("out/priority"));
    let cells: Vec<_> = col_str(&p, "abc_class")
        .into_iter()
        .zip(col_str(&p, "satisfaction_level"))
        .zip(col_i64(&p, "priority"))
        .map(|((c, l), n)| (c.unwrap(), l.unwrap(), n.unwrap()))
        .collect();
    let expected = [
        ("A", "dissatisfied", 1),
        ("A", "neutral", 1),
        ("A", "satisfied", 3),
        ("A", "unknown", 2),
        ("B", "dissatisfied", 2),
        ("B", "neutral", 2),
        ("B", "satisfied", 3),
        ("B", "unknown", 3),
        ("C", "dissatisfied", 3),
        ("C", "neutral", 3),
        ("C", "satisfied", 3),
        ("C", "unknown", 3),
    ]
    .map(|(c, l, n)| (c.to_string(), l.to_string(), n));
    assert_eq!(cells, expected);
    // One customer a cell: its revenue, and churned where its id is odd.
    let revenue = col_f64(&p, "revenue");
    let rate = col_f64(&p, "churn_rate");
    for (i, (id, spent)) in [
        (1, 100.0),
        (2, 90.0),
        (3, 80.0),
        (13, 70.0),
        (4, 30.0),
        (5, 20.0),
        (6, 10.0),
        (14, 5.0),
        (7, 3.0),
        (8, 2.0),
        (9, 1.0),
        (15, 0.5),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(revenue[i], Some(spent), "customer {id}");
        assert_eq!(rate[i], Some(f64::from(id % 2)), "customer {id}");
    }
}

/// Every output table as sorted text lines, to compare runs.
fn all_tables_as_text(out: &Path) -> BTreeMap<String, Vec<String>> {
    let mut tables = BTreeMap::new();
    for entry in std::fs::read_dir(out.join("tables")).unwrap() {
        let dir = entry.unwrap().path();
        let batches = read_parquet(&dir);
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        tables.insert(
            dir.file_name().unwrap().to_string_lossy().into_owned(),
            lines,
        );
    }
    tables
}

#[test]
fn a_backfill_sees_only_what_was_known_on_its_date() {
    // The fixture holds rows dated after 2026-06-30 (an order on 07-02, a
    // complaint resolved on 07-02). Cut the data at as_of by hand and run
    // again: every table must come out the same.
    let tmp = tempfile::tempdir().unwrap();
    let full = run(tmp.path(), true, &[]);

    let cut = tempfile::tempdir().unwrap();
    let data = cut.path().join("data");
    analyses_fixture(&data, true);
    let fixtures = common::repo().join("tests/fixtures/analyses");
    let orders: String = std::fs::read_to_string(fixtures.join("orders.csv"))
        .unwrap()
        .lines()
        .filter(|l| !l.contains(",2026-07-"))
        .map(|l| format!("{l}\n"))
        .collect();
    let complaints = std::fs::read_to_string(fixtures.join("complaints.csv"))
        .unwrap()
        .replace("2026-07-02 12:00:00,repair", ",");
    let tmp_fixtures = cut.path().join("fixtures");
    std::fs::create_dir_all(&tmp_fixtures).unwrap();
    std::fs::write(tmp_fixtures.join("orders.csv"), &orders).unwrap();
    std::fs::write(tmp_fixtures.join("complaints.csv"), &complaints).unwrap();
    assert_eq!(orders.lines().count(), 27, "one order dropped");
    // Rewrite the two tables from the cut CSVs.
    for (name, dir) in [("orders", "orders"), ("complaints", "complaints")] {
        std::fs::remove_dir_all(data.join(dir)).unwrap();
        let schema = read_parquet(&tmp.path().join(format!("data/{name}")))[0].schema();
        let reader = arrow::csv::ReaderBuilder::new(schema)
            .with_header(true)
            .build(File::open(tmp_fixtures.join(format!("{name}.csv"))).unwrap())
            .unwrap();
        let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
        let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        write_parquet(&data.join(format!("{dir}/part-0.parquet")), &batch);
    }
    let out = cut.path().join("out");
    let o = run_pipeline(
        cut.path(),
        &bundled_pipeline(),
        "2026-06-30",
        &data,
        &out,
        &[],
    );
    assert_exit(&o, 0);
    let (a, b) = (all_tables_as_text(&full), all_tables_as_text(&out));
    assert_eq!(a.len(), 21);
    for (name, rows) in &a {
        assert_eq!(rows, &b[name], "table {name}");
    }
}

/// An order without a status (NULL, as every order is where the optional
/// column is missing) is a completed one, as orders_asof.sql states: the
/// fixture with every `completed` left blank gives the same tables.
#[test]
fn an_order_without_a_status_is_a_completed_one() {
    let tmp = tempfile::tempdir().unwrap();
    let full = run(tmp.path(), true, &[]);

    let blank = tempfile::tempdir().unwrap();
    let data = blank.path().join("data");
    analyses_fixture(&data, true);
    let orders =
        std::fs::read_to_string(repo().join("tests/fixtures/analyses/orders.csv")).unwrap();
    let blanked = with_blanks(&orders, 5..6, |line| line.ends_with(",completed"));
    assert_eq!(
        blanked.lines().filter(|l| l.ends_with(',')).count(),
        25,
        "all but the cancelled and the returned order"
    );
    csv_text_to_parquet(
        "orders",
        fixture_fields("orders"),
        blanked.as_bytes(),
        &data,
    );
    let out = run_on_data(blank.path(), &[]);
    let (a, b) = (all_tables_as_text(&full), all_tables_as_text(&out));
    assert_eq!(a.len(), 21);
    for (name, rows) in &a {
        assert_eq!(rows, &b[name], "table {name}");
    }
}

#[test]
fn latest_answer_and_latest_complaint_follow_the_stated_rules() {
    // latest_survey.sql and complaint_recovery.sql keep each customer's
    // newest row up to as_of, ties on the timestamp going to the larger id.
    // Their inputs are given here as steps of hand-written rows.
    let tmp = tempfile::tempdir().unwrap();
    let sql = |name: &str| repo().join(format!("sql/{name}.sql")).display().to_string();
    let yaml = format!(
        r#"
name: latest_rows
params:
  as_of: {{ type: date }}
  fast_resolution_hours: {{ type: int, default: 48 }}
  # complaints are judged when opened before as_of - 9 days (06-21)
  churn_days: {{ type: int, default: 9 }}
  weight_product_quality: {{ type: float, default: 0.3 }}
  weight_service_quality: {{ type: float, default: 0.3 }}
  weight_price: {{ type: float, default: 0.2 }}
  weight_communication: {{ type: float, default: 0.2 }}
steps:
  surveys:
    sql: |
      SELECT *, CAST(NULL AS INT) AS product_quality, CAST(NULL AS INT) AS service_quality,
        CAST(NULL AS INT) AS price, CAST(NULL AS INT) AS communication
      FROM (VALUES
        (5, 1, TIMESTAMP '2026-06-10 09:00:00', 2, 3),
        (3, 1, TIMESTAMP '2026-06-01 09:00:00', 4, 8),
        (9, 1, TIMESTAMP '2026-06-10 09:00:00', 5, 10),
        (20, 2, TIMESTAMP '2026-05-01 09:00:00', 1, 0),
        (4, 2, TIMESTAMP '2026-06-20 09:00:00', 3, 6),
        (30, 3, TIMESTAMP '2026-07-01 00:00:00', 1, 0),
        (31, 3, TIMESTAMP '2026-06-30 23:00:00', 4, 9),
        (40, 4, TIMESTAMP '2026-07-02 09:00:00', 5, 10),
        (50, 5, TIMESTAMP '2026-06-25 09:00:00', CAST(NULL AS INT), 9),
        (52, 5, TIMESTAMP '2026-06-20 09:00:00', 7, 9),
        (53, 5, TIMESTAMP '2026-06-22 09:00:00', 4.5, 8.5),
        (51, 5, TIMESTAMP '2026-06-01 09:00:00', 2, 15),
        (60, 6, TIMESTAMP '2026-06-10 09:00:00', 0, 5)
      ) AS t(response_id, customer_id, survey_ts, csat, nps)
  survey_answers:
    sql_file: {answers}
  latest_survey:
    sql_file: {latest}
  customer_status:
    sql: SELECT * FROM (VALUES (1, false), (2, false), (3, true), (4, false), (5, false), (6, false), (7, false), (8, false)) AS t(customer_id, churned)
  complaints:
    sql: |
      SELECT * FROM (VALUES
        (2, 1, TIMESTAMP '2026-06-15 09:00:00', CAST(NULL AS TIMESTAMP)),
        (1, 1, TIMESTAMP '2026-06-01 09:00:00', TIMESTAMP '2026-06-01 19:00:00'),
        (8, 2, TIMESTAMP '2026-06-05 10:00:00', TIMESTAMP '2026-06-06 10:00:00'),
        (13, 2, TIMESTAMP '2026-06-25 10:00:00', CAST(NULL AS TIMESTAMP)),
        (7, 2, TIMESTAMP '2026-06-05 10:00:00', CAST(NULL AS TIMESTAMP)),
        (9, 3, TIMESTAMP '2026-05-01 09:00:00', TIMESTAMP '2026-05-10 09:00:00'),
        (10, 3, TIMESTAMP '2026-07-05 09:00:00', CAST(NULL AS TIMESTAMP)),
        (11, 5, TIMESTAMP '2026-06-20 09:00:00', TIMESTAMP '2026-07-03 09:00:00'),
        (12, 6, TIMESTAMP '2026-06-21 00:00:00', TIMESTAMP '2026-06-21 01:00:00'),
        (14, 7, TIMESTAMP '2026-06-30 08:00:00', CAST(NULL AS TIMESTAMP)),
        (15, 8, TIMESTAMP '2026-06-01 09:00:00', TIMESTAMP '2026-06-30 23:00:00')
      ) AS t(complaint_id, customer_id, opened_ts, resolved_ts)
  complaint_recovery:
    sql_file: {recovery}
  churn_by_satisfaction:
    sql_file: {by_rating}
output_root: out
outputs:
  - {{ step: latest_survey, path: latest/, sort_by: [customer_id] }}
  - {{ step: complaint_recovery, path: recovery/ }}
  - {{ step: churn_by_satisfaction, path: by_rating/ }}
"#,
        answers = sql("survey_answers"),
        latest = sql("latest_survey"),
        recovery = sql("complaint_recovery"),
        by_rating = sql("churn_by_satisfaction"),
    );
    run_written(tmp.path(), "latest.yaml", &yaml);

    // Customer 1: two answers on 06-10 09:00, the larger id (9) kept over 5
    // and over the older 3. Customer 2: the newer answer (4) over the larger
    // id (20). Customer 3: 30 comes after as_of; 31, late on as_of, counts.
    // Customer 4 answered only after as_of. Customer 5's three newer answers
    // have no CSAT or one off the scale (7, and 4.5: the scale has whole
    // numbers; the CSAT column is float with it, as pandas writes one): the
    // usable one is 51, CSAT 2, whose NPS of 15 reads as none. Customer 6's
    // only answer has CSAT 0.
    let s = read_parquet(&tmp.path().join("out/latest"));
    assert_eq!(
        col_i64(&s, "customer_id"),
        [Some(1), Some(2), Some(3), Some(5)]
    );
    assert_eq!(
        col_i64(&s, "response_id"),
        [Some(9), Some(4), Some(31), Some(51)]
    );
    assert_eq!(col_i64(&s, "csat"), [Some(5), Some(3), Some(4), Some(2)]);
    assert_eq!(col_i64(&s, "nps"), [Some(10), Some(6), Some(9), None]);
    assert_eq!(
        col_str(&s, "satisfaction_level"),
        ["satisfied", "neutral", "satisfied", "dissatisfied"].map(|l| Some(l.to_string()))
    );

    // Customer 1's latest complaint (2) is open: unresolved, though an older
    // one was resolved in 10 hours. Customer 2: of two opened at the same
    // time, the larger id (8) was resolved in 24 hours: fast (13, open, is
    // newer, but too recent to tell: 8 is the latest old enough). Customer 3:
    // resolved in 9 days (10 opened after as_of), and churned. Customer 4
    // never complained. Customer 5's complaint, of 06-20 (the last day more
    // than churn_days, 9, before as_of), was resolved only after as_of:
    // unresolved. Customer 6's only complaint, of 06-21, is too recent to
    // tell, though resolved within the hour, as is customer 7's, opened on
    // as_of. Customer 8's, of 06-01, was resolved late on as_of, after 29
    // days: slow.
    let k = read_parquet(&tmp.path().join("out/recovery"));
    assert_recovery_groups(&k, [1, 1, 2, 2, 2], [1, 1, 1, 2, 2]);

    // Churn by rating takes each customer's latest answer with a CSAT given
    // more than churn_days (9) before as_of, before 06-21: customer 1's 9
    // (CSAT 5, not 3 of 06-01), 2's 4 of 06-20 (CSAT 3, not 20's 1 of
    // 05-01), 5's 51 (CSAT 2: 52 of 06-20 has none on the scale, 50 and 53
    // are too recent). 3 answered too recently, 4 after as_of, 6 off the
    // scale.
    let c = read_parquet(&tmp.path().join("out/by_rating"));
    assert_eq!(col_i64(&c, "csat"), [1, 2, 3, 4, 5].map(Some));
    assert_eq!(col_i64(&c, "customers"), [0, 1, 1, 0, 1].map(Some));
    assert_eq!(col_i64(&c, "churned"), [0, 0, 0, 0, 0].map(Some));
}

#[test]
fn a_resolution_time_counts_the_hours_that_passed_across_a_change_of_clocks() {
    // complaint_recovery.sql on complaints written on Berlin's clock (as a
    // zoned source reads them), fast within 48 hours, with and without the
    // pipeline's `timezone`. Worked by hand:
    //   1: 28 March 12:00 to 30 March 12:30, 2026: the clocks went forward
    //      on the 29th (02:00 → 03:00): 47.5 hours passed, 48.5 on the clock.
    //   2: 25 October 12:00 to 27 October 11:30, 2025: they went back on
    //      the 26th (03:00 → 02:00): 48.5 hours passed, 47.5 on the clock.
    //   3: from 02:30 on 26 October 2025, a time the clocks showed twice, to
    //      02:00 on the 28th: 47.5 hours on the clock, and so counted.
    //   4: 1 June 09:00 to 3 June 09:00, 2026: 48 hours either way.
    //   5: never complained.
    // Customer 1 has churned: the groups' retained counts tell them apart.
    let tmp = tempfile::tempdir().unwrap();
    let recovery = repo().join("sql/complaint_recovery.sql");
    let yaml = format!(
        r#"
name: resolution_hours
params:
  as_of: {{ type: date }}
  fast_resolution_hours: {{ type: int, default: 48 }}
  # every complaint here is judged (opened before as_of - 1 day)
  churn_days: {{ type: int, default: 1 }}
steps:
  customer_status:
    sql: SELECT * FROM (VALUES (1, true), (2, false), (3, false), (4, false), (5, false)) AS t(customer_id, churned)
  complaints:
    sql: |
      SELECT * FROM (VALUES
        (1, 1, TIMESTAMP '2026-03-28 12:00:00', TIMESTAMP '2026-03-30 12:30:00'),
        (2, 2, TIMESTAMP '2025-10-25 12:00:00', TIMESTAMP '2025-10-27 11:30:00'),
        (3, 3, TIMESTAMP '2025-10-26 02:30:00', TIMESTAMP '2025-10-28 02:00:00'),
        (4, 4, TIMESTAMP '2026-06-01 09:00:00', TIMESTAMP '2026-06-03 09:00:00')
      ) AS t(complaint_id, customer_id, opened_ts, resolved_ts)
  complaint_recovery:
    sql_file: {recovery}
output_root: out
outputs:
  - {{ step: complaint_recovery, path: recovery/ }}
"#,
        recovery = recovery.display()
    );
    let groups = |timezone: &str| {
        let file = format!("p{}.yaml", timezone.len());
        run_written(tmp.path(), &file, &format!("{yaml}{timezone}"));
        read_parquet(&tmp.path().join("out/recovery"))
    };
    // Berlin's clock: fast 3 (1, 3, 4; 1 churned), slow 1 (2).
    let k = groups("timezone: Europe/Berlin\n");
    assert_recovery_groups(&k, [1, 3, 1, 0, 0], [1, 2, 1, 0, 0]);
    // No zone, the clock's hours: fast 3 (2, 3, 4), slow 1 (1, churned).
    let k = groups("");
    assert_recovery_groups(&k, [1, 3, 1, 0, 0], [1, 3, 0, 0, 0]);
}

/// The bundled pipeline at 2026-06-30 on completed orders of 2026-06-01, given
/// as (customer, amount) in the order they are written; customers 1 to 4.
fn run_on_one_days_orders(tmp: &Path, orders: &[(i64, f64)]) -> std::path::PathBuf {
    let rows: Vec<_> = (1..)
        .zip(orders)
        .map(|(order, &(customer, amount))| {
            (order, customer, "2026-06-01 10:00:00", amount, "completed")
        })
        .collect();
    run_on_orders(tmp, &[1, 2, 3, 4], &rows)
}

/// The bundled pipeline at 2026-06-30 on these customers and orders (as
/// `orders_batch` takes them); returns the output folder.
fn run_on_orders(
    tmp: &Path,
    customers: &[i64],
    orders: &[(i64, i64, &str, f64, &str)],
) -> std::path::PathBuf {
    let data = tmp.join("data");
    write_parquet(
        &data.join("customers/part-0.parquet"),
        &customers_batch(customers),
    );
    write_parquet(&data.join("orders/part-0.parquet"), &orders_batch(orders));
    let out = tmp.join("out");
    let o = run_pipeline(tmp, &bundled_pipeline(), "2026-06-30", &data, &out, &[]);
    assert_exit(&o, 0);
    out
}

#[test]
fn spend_at_exactly_half_or_exactly_the_earlier_average_is_mature() {
    // Declining is spend in the last 90 days *under* half the earlier
    // average, growth *above* it: the bounds themselves are mature. Each
    // customer spent $180 before the last 90 days (2026-04-02 to 06-30),
    // from 2026-01-02 to 04-01, 90 days counted both ends: an earlier
    // average of exactly 180 / 90 * 90 = 180 (exact in floating point). The
    // gaps before the last purchase (47 days) are under 90: not recovered.
    let tmp = tempfile::tempdir().unwrap();
    let mut orders = Vec::new();
    for (customer, last) in [(1, 90.0), (2, 180.0), (3, 89.0), (4, 181.0)] {
        let first = orders.len() as i64 + 1;
        orders.extend([
            (first, customer, "2026-01-02 10:00:00", 90.0, "completed"),
            (
                first + 1,
                customer,
                "2026-03-15 10:00:00",
                90.0,
                "completed",
            ),
            (
                first + 2,
                customer,
                "2026-05-01 10:00:00",
                last,
                "completed",
            ),
        ]);
    }
    let out = run_on_orders(tmp.path(), &[1, 2, 3, 4], &orders);
    let l = table(&out, "lifecycle_stages");
    let idx = by_key(&col_i64(&l, "customer_id"));
    let (stage, earlier) = (col_str(&l, "stage"), col_f64(&l, "earlier_avg_revenue"));
    for (id, e) in [
        (1, "mature"),
        (2, "mature"),
        (3, "declining"),
        (4, "growth"),
    ] {
        assert_eq!(earlier[idx[&id]], Some(180.0), "customer {id}");
        assert_eq!(stage[idx[&id]].as_deref(), Some(e), "customer {id}");
    }
}

#[test]
fn a_cohort_whose_first_month_nets_no_revenue_has_no_revenue_retention() {
    // Customer 1 bought $100 in May and returned $150 of it; customer 2
    // bought $40 in May. The May cohort netted -$10: no base to compare
    // June's $80 with. The April cohort (customer 3, $50 then $25) keeps 0.5.
    let tmp = tempfile::tempdir().unwrap();
    let orders = [
        (1, 1, "2026-05-10 10:00:00", 100.0, "completed"),
        (2, 1, "2026-05-12 10:00:00", -150.0, "returned"),
        (3, 2, "2026-05-20 10:00:00", 40.0, "completed"),
        (4, 1, "2026-06-03 10:00:00", 80.0, "completed"),
        (5, 3, "2026-04-02 10:00:00", 50.0, "completed"),
        (6, 3, "2026-05-02 10:00:00", 25.0, "completed"),
    ];
    let out = run_on_orders(tmp.path(), &[1, 2, 3], &orders);
    let t = table(&out, "cohort_retention");
    let rows: Vec<_> = col_str(&t, "cohort_month")
        .into_iter()
        .zip(col_i64(&t, "period"))
        .zip(
            col_f64(&t, "revenue")
                .into_iter()
                .zip(col_f64(&t, "revenue_retention")),
        )
        .map(|((m, p), (r, k))| (m.unwrap(), p.unwrap(), r.unwrap(), k))
        .collect();
    assert_eq!(
        rows,
        [
            ("2026-04-01".to_string(), 0, 50.0, Some(1.0)),
            ("2026-04-01".to_string(), 1, 25.0, Some(0.5)),
            ("2026-04-01".to_string(), 2, 0.0, Some(0.0)),
            ("2026-05-01".to_string(), 0, -10.0, None),
            ("2026-05-01".to_string(), 1, 80.0, None),
        ]
    );
}

#[test]
fn customers_who_spent_the_same_tie_whatever_order_their_amounts_add_up_in() {
    // In floating point, 0.1 + 0.7 is 0.7999999999999999 and 0.1 + 0.2 + 0.3
    // is 0.6000000000000001: summed as they come, customers 1 and 3 would
    // not have spent what customers 2 and 4 did (0.8 and 0.6), and the rules
    // that break ties by customer_id would not apply. Both rules put the
    // smaller id first: contribution rank (revenue descending) and the RFM
    // monetary position (ascending).
    let tmp = tempfile::tempdir().unwrap();
    let out = run_on_one_days_orders(
        tmp.path(),
        &[
            (1, 0.1),
            (1, 0.7),
            (2, 0.8),
            (3, 0.1),
            (3, 0.2),
            (3, 0.3),
            (4, 0.6),
        ],
    );

    let c = table(&out, "customer_orders");
    let at = by_key(&col_i64(&c, "customer_id"));
    let monetary = col_f64(&c, "monetary");
    for (id, spent) in [(1, 0.8), (2, 0.8), (3, 0.6), (4, 0.6)] {
        assert_eq!(monetary[at[&id]], Some(spent), "customer {id}");
    }
    let r = table(&out, "contribution_ranking");
    let at = by_key(&col_i64(&r, "customer_id"));
    let rank = col_i64(&r, "rank");
    for (id, expected) in [(1, 1), (2, 2), (3, 3), (4, 4)] {
        assert_eq!(rank[at[&id]], Some(expected), "rank of customer {id}");
    }
    // Four customers, four quintiles of one: monetary positions 3, 4, 1, 2.
    let s = table(&out, "rfm_scores");
    let at = by_key(&col_i64(&s, "customer_id"));
    let m = col_i64(&s, "m_score");
    for (id, expected) in [(3, 1), (4, 2), (1, 3), (2, 4)] {
        assert_eq!(m[at[&id]], Some(expected), "m_score of customer {id}");
    }
}

#[test]
fn revenue_shares_add_up_exactly_and_exactly_80_percent_before_a_customer_is_class_b() {
    // Window revenues 1.2, 1.2, 0.3 and 0.3: 3.0 in all. As floats, added up
    // by rank they come to 2.9999999999999996, and the revenue ranked before
    // customer 3 to 2.3999999999999995, under 80% of the total. Added up
    // exactly, it is 2.4 of 3.0: exactly 80%, so class B ("A while the
    // revenue ranked before is under 80%"). The shares are the exact sums
    // divided as floats, worked out here with Rust's own division.
    let tmp = tempfile::tempdir().unwrap();
    let out = run_on_one_days_orders(tmp.path(), &[(1, 1.2), (2, 1.2), (3, 0.3), (4, 0.3)]);

    let r = table(&out, "contribution_ranking");
    let at = by_key(&col_i64(&r, "customer_id"));
    let class = col_str(&r, "abc_class");
    let cumulative = col_f64(&r, "cumulative_share");
    let share = col_f64(&r, "revenue_share");
    for (id, rank_class, running, own) in [
        (1, "A", 1.2, 1.2),
        (2, "A", 2.4, 1.2),
        (3, "B", 2.7, 0.3),
        (4, "B", 3.0, 0.3),
    ] {
        let i = at[&id];
        assert_eq!(
            class[i].as_deref(),
            Some(rank_class),
            "class of customer {id}"
        );
        assert_eq!(
            cumulative[i],
            Some(running / 3.0),
            "cumulative share of customer {id}"
        );
        assert_eq!(share[i], Some(own / 3.0), "revenue share of customer {id}");
    }
    assert_eq!(cumulative[at[&4]], Some(1.0));

    let s = table(&out, "contribution_summary");
    assert_eq!(col_f64(&s, "revenue"), [Some(3.0)]);
    assert_eq!(col_i64(&s, "a_customers"), [Some(2)]);
    assert_eq!(col_i64(&s, "b_customers"), [Some(2)]);
    assert_eq!(col_i64(&s, "c_customers"), [Some(0)]);
    assert_eq!(col_f64(&s, "a_revenue_share"), [Some(2.4 / 3.0)]);
    assert_eq!(col_f64(&s, "b_revenue_share"), [Some(0.6 / 3.0)]);
    // The top 20% of 4 customers is CEIL(0.8) = 1 customer.
    assert_eq!(col_f64(&s, "top_20pct_share"), [Some(1.2 / 3.0)]);

    let h = table(&out, "headline");
    assert_eq!(col_f64(&h, "revenue"), [Some(3.0)]);
    assert_eq!(col_f64(&h, "window_revenue"), [Some(3.0)]);
}

#[test]
fn exactly_95_percent_before_a_customer_is_class_c() {
    // Window revenues 0.8, 0.15 and 0.05: 1.0 in all. Before customer 2
    // comes 0.8, exactly 80%: B. Before customer 3 comes 0.95, exactly 95%:
    // C ("B while the revenue ranked before is under 95%").
    let tmp = tempfile::tempdir().unwrap();
    let out = run_on_one_days_orders(tmp.path(), &[(1, 0.8), (2, 0.15), (3, 0.05)]);
    let r = table(&out, "contribution_ranking");
    let at = by_key(&col_i64(&r, "customer_id"));
    let class = col_str(&r, "abc_class");
    for (id, expected) in [(1, "A"), (2, "B"), (3, "C")] {
        assert_eq!(class[at[&id]].as_deref(), Some(expected), "customer {id}");
    }
    let s = table(&out, "contribution_summary");
    let counts: Vec<_> = ["a_customers", "b_customers", "c_customers"]
        .iter()
        .map(|c| col_i64(&s, c)[0])
        .collect();
    assert_eq!(counts, [Some(1), Some(1), Some(1)]);
}

#[test]
fn the_gap_before_the_last_purchase_and_the_last_years_revenue_end_on_day_bounds() {
    // As of 2026-06-30 (churn 90 days, previous period 2026-05-31).
    // Customer 1 last bought on 2026-01-10 (churned). Its last 12 months
    // run from 2025-01-11, 364 days before, to the end of 2026-01-10:
    // 200 + 30 + 4.25 - 8.5 = 225.75 (to the cent: not rounded to whole
    // units). Left out: 1000 a second before them, the refund at the next
    // midnight and a cancelled order. The purchase day before the last one
    // is 2025-01-11 (the 09:00 order is the last day's own): a gap of 364
    // days.
    // Customer 2 bought at the first instant of 2026-06-20 and later that
    // day; the day before is 2026-06-05: a gap of 15 days.
    // Customer 3 bought on 2026-01-15 (100), at the first instant of
    // 2026-05-31 and later that day (10 each), and on 2026-06-10 (10). At the
    // previous period its last purchase day was 2026-05-31 and the one
    // before 2026-01-15: a gap of 136 days, so it had come back
    // (recovered). Now the gap is 10 days; its last 90 days' 30 are under
    // half its earlier average (100 over the 77 days to 2026-04-01, 116.9 per
    // 90): declining.
    let tmp = tempfile::tempdir().unwrap();
    let orders = [
        (1, 1, "2025-01-10 23:59:59", 1000.0, "completed"),
        (2, 1, "2025-01-11 00:00:00", 200.0, "completed"),
        (3, 1, "2025-06-01 12:00:00", 5000.0, "cancelled"),
        (4, 1, "2026-01-10 09:00:00", 30.0, "completed"),
        (5, 1, "2026-01-10 15:00:00", 4.25, "completed"),
        (6, 1, "2026-01-10 23:59:59", -8.5, "returned"),
        (7, 1, "2026-01-11 00:00:00", -100.0, "returned"),
        (8, 2, "2026-06-05 18:00:00", 20.0, "completed"),
        (9, 2, "2026-06-20 00:00:00", 20.0, "completed"),
        (10, 2, "2026-06-20 12:00:00", 20.0, "completed"),
        (11, 3, "2026-01-15 10:00:00", 100.0, "completed"),
        (12, 3, "2026-05-31 00:00:00", 10.0, "completed"),
        (13, 3, "2026-05-31 08:00:00", 10.0, "completed"),
        (14, 3, "2026-06-10 10:00:00", 10.0, "completed"),
    ];
    let out = run_on_orders(tmp.path(), &[1, 2, 3], &orders);

    let c = table(&out, "churn_summary");
    let all = overall_row(&c);
    assert_eq!(col_i64(&c, "churned")[all], Some(1));
    assert!(close(col_f64(&c, "revenue_lost")[all].unwrap(), 225.75));

    let l = table(&out, "lifecycle_stages");
    let at = by_key(&col_i64(&l, "customer_id"));
    let (stage, prev, gap) = (
        col_str(&l, "stage"),
        col_str(&l, "prev_stage"),
        col_i64(&l, "last_gap_days"),
    );
    for (id, e_stage, e_prev, e_gap) in [
        (1, "churned", Some("churned"), 364),
        (2, "new", None, 15),
        (3, "declining", Some("recovered"), 10),
    ] {
        let i = at[&id];
        assert_eq!(stage[i].as_deref(), Some(e_stage), "stage of customer {id}");
        assert_eq!(
            prev[i].as_deref(),
            e_prev,
            "previous stage of customer {id}"
        );
        assert_eq!(gap[i], Some(e_gap), "gap of customer {id}");
    }
}
