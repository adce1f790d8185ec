//! Properties of the analyses on generated sample data, and what the
//! generator planted for them to find.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

/// Sample data for 3,000 customers and one run of the bundled pipeline on it,
/// shared by the tests in this file.
fn run_once() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap().keep();
        let data = tmp.join("data");
        sample_data(&tmp, &data, 3000, 11);
        let out = tmp.join("out");
        let o = run_pipeline(&tmp, &bundled_pipeline(), "2026-06-30", &data, &out, &[]);
        assert_exit(&o, 0);
        out
    })
}

fn table(name: &str) -> Vec<arrow::array::RecordBatch> {
    read_parquet(&run_once().join(format!("tables/{name}")))
}

#[test]
fn rfm_quintiles_have_equal_sizes() {
    let t = table("rfm_scores");
    let n = rows(&t);
    assert!(n > 2500, "{n} customers");
    for col in ["r_score", "f_score", "m_score"] {
        let mut counts = [0usize; 5];
        for s in col_i64(&t, col) {
            let s = s.unwrap();
            assert!((1..=5).contains(&s), "{col} = {s}");
            counts[(s - 1) as usize] += 1;
        }
        let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(hi - lo <= 1, "{col}: {counts:?}");
        // NTILE puts the larger groups first.
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{col}: {counts:?}");
    }
}

#[tokio::test]
async fn rank_boundary_quintiles_equal_ntile() {
    let ctx = SessionContext::new();
    let path = run_once().join("tables/rfm_scores/part-0.parquet");
    ctx.register_parquet("rfm", path.to_str().unwrap(), ParquetReadOptions::default())
        .await
        .unwrap();
    let mismatches = ctx
        .sql(
            "SELECT COUNT(*) AS n FROM (
               SELECT r_score, f_score, m_score,
                 NTILE(5) OVER (ORDER BY recency_days DESC, customer_id) AS r_ntile,
                 NTILE(5) OVER (ORDER BY frequency, customer_id) AS f_ntile,
                 NTILE(5) OVER (ORDER BY monetary, customer_id) AS m_ntile
               FROM rfm)
             WHERE r_score <> r_ntile OR f_score <> f_ntile OR m_score <> m_ntile",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(col_i64(&mismatches, "n"), [Some(0)]);
}

#[tokio::test]
async fn segment_map_covers_every_score_combination_once() {
    let sql = std::fs::read_to_string(repo().join("sql/rfm_segment_map.sql")).unwrap();
    let map = SessionContext::new()
        .sql(&sql)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let seg = col_str(&map, "segment");
    let bounds: Vec<Vec<i64>> = ["r_min", "r_max", "f_min", "f_max", "m_min", "m_max"]
        .iter()
        .map(|c| col_i64(&map, c).into_iter().map(Option::unwrap).collect())
        .collect();
    for r in 1..=5 {
        for f in 1..=5 {
            for m in 1..=5 {
                let hits: Vec<&str> = (0..seg.len())
                    .filter(|&i| {
                        (bounds[0][i]..=bounds[1][i]).contains(&r)
                            && (bounds[2][i]..=bounds[3][i]).contains(&f)
                            && (bounds[4][i]..=bounds[5][i]).contains(&m)
                    })
                    .map(|i| seg[i].as_deref().unwrap())
                    .collect();
                assert_eq!(hits.len(), 1, "scores {r}{f}{m} match {hits:?}");
            }
        }
    }
    let mut names: Vec<&str> = seg.iter().map(|s| s.as_deref().unwrap()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 11, "the eleven segments: {names:?}");
}

#[test]
fn contribution_shares_add_up_and_classes_follow_thresholds() {
    let t = table("contribution_ranking");
    let (rank, rev, share, cum, abc) = (
        col_i64(&t, "rank"),
        col_f64(&t, "revenue"),
        col_f64(&t, "revenue_share"),
        col_f64(&t, "cumulative_share"),
        col_str(&t, "abc_class"),
    );
    let mut order: Vec<usize> = (0..rank.len()).collect();
    order.sort_by_key(|&i| rank[i]);
    assert_eq!(rank[order[0]], Some(1));
    let total: f64 = rev.iter().map(|r| r.unwrap()).sum();
    let mut running = 0.0;
    for (pos, &i) in order.iter().enumerate() {
        assert_eq!(rank[i], Some(pos as i64 + 1), "ranks are 1..n");
        let before = running / total;
        running += rev[i].unwrap();
        assert!((share[i].unwrap() - rev[i].unwrap() / total).abs() < 1e-9);
        assert!((cum[i].unwrap() - running / total).abs() < 1e-9);
        let expected = if before < 0.8 {
            "A"
        } else if before < 0.95 {
            "B"
        } else {
            "C"
        };
        assert_eq!(abc[i].as_deref(), Some(expected), "rank {}", pos + 1);
        if pos > 0 {
            assert!(rev[i] <= rev[order[pos - 1]], "sorted by revenue");
        }
    }
    assert!(
        (cum[*order.last().unwrap()].unwrap() - 1.0).abs() < 1e-9,
        "ends at 1"
    );

    // The generator's heavy tail: the top 20% bring 60-80% of revenue.
    let s = table("contribution_summary");
    let top20 = col_f64(&s, "top_20pct_share")[0].unwrap();
    assert!((0.6..=0.8).contains(&top20), "top 20% share {top20}");
    let a = col_f64(&s, "a_revenue_share")[0].unwrap();
    assert!((0.8..0.8 + 0.05).contains(&a), "class A share {a}");

    // The top k% are the first ceil(n k / 100) ranks (at least one), and
    // the curve has a point at each of those ranks for k = 1..100: worked
    // out here from the ranking's revenues.
    let n = order.len();
    assert!(
        !n.is_multiple_of(20),
        "{n} customers: 5% of them is no whole number"
    );
    let sorted: Vec<f64> = order.iter().map(|&i| rev[i].unwrap()).collect();
    let share_of_first = |m: usize| sorted[..m].iter().sum::<f64>() / total;
    let top = |k: usize| (n * k).div_ceil(100).max(1);
    for (k, column) in [
        (1, "top_1pct_share"),
        (5, "top_5pct_share"),
        (10, "top_10pct_share"),
        (20, "top_20pct_share"),
    ] {
        let got = col_f64(&s, column)[0].unwrap();
        assert!(
            (got - share_of_first(top(k))).abs() < 1e-9,
            "{column}: {got}"
        );
    }
    let mut points: Vec<usize> = (1..=100).map(top).collect();
    points.dedup();
    // The curve is a step the report charts, not an output: read with show.
    let curve = show_bundled_csv(
        run_once().parent().unwrap(),
        "SELECT customer_share, cumulative_share FROM contribution_curve ORDER BY customer_share",
    );
    let curve: Vec<Vec<f64>> = (curve.lines().skip(1))
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(curve.len(), points.len(), "{points:?}");
    for (xy, &rank) in curve.iter().zip(&points) {
        assert!(
            (xy[0] - rank as f64 / n as f64).abs() < 1e-12,
            "rank {rank}: {xy:?}"
        );
        assert!(
            (xy[1] - share_of_first(rank)).abs() < 1e-9,
            "rank {rank}: {xy:?}"
        );
    }
}

#[test]
fn cohorts_start_at_full_retention_and_never_reach_the_future() {
    let t = table("cohort_retention");
    let (month, period, rate, active, size) = (
        col_str(&t, "cohort_month"),
        col_i64(&t, "period"),
        col_f64(&t, "retention_rate"),
        col_i64(&t, "active_customers"),
        col_i64(&t, "cohort_size"),
    );
    for i in 0..month.len() {
        let m =
            chrono::NaiveDate::parse_from_str(month[i].as_deref().unwrap(), "%Y-%m-%d").unwrap();
        let p = period[i].unwrap() as u32;
        let at = m.checked_add_months(chrono::Months::new(p)).unwrap();
        assert!(
            at <= chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
            "row in the future"
        );
        if p == 0 {
            assert_eq!(rate[i], Some(1.0), "period 0 of {m}");
        }
        assert!(active[i] <= size[i]);
    }
}

#[test]
fn funnel_stages_never_grow() {
    let f = table("satisfaction_funnel");
    let n: Vec<i64> = col_i64(&f, "customers")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(n.len(), 5);
    assert!(n[0] > 500, "{n:?}");
    assert!(n.windows(2).all(|w| w[1] <= w[0]), "{n:?}");
}

#[test]
fn lower_satisfaction_churns_more_and_resolved_complaints_churn_less() {
    let c = table("churn_by_satisfaction");
    let rate: Vec<f64> = col_f64(&c, "churn_rate")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    // Dissatisfied (1-2) churn more than neutral (3), more than satisfied (4-5).
    assert!(rate[0].min(rate[1]) > rate[2], "{rate:?}");
    assert!(rate[2] > rate[3].max(rate[4]), "{rate:?}");
    assert!(rate[0] > rate[4] * 3.0, "{rate:?}");

    let k = table("complaint_recovery");
    let group = col_str(&k, "complaint_group");
    let churn = col_f64(&k, "churn_rate");
    let of = |g: &str| churn[group.iter().position(|x| x.as_deref() == Some(g)).unwrap()].unwrap();
    assert!(of("resolved fast") < of("unresolved"), "{churn:?}");
    assert!(of("resolved slow") < of("unresolved"), "{churn:?}");
}

#[test]
fn loyalty_programme_groups_add_up_to_every_buying_customer() {
    // The generator marks every customer, 40% of them members.
    let p = table("loyalty_programme");
    let customers: Vec<i64> = col_i64(&p, "customers").into_iter().flatten().collect();
    let buyers = rows(&table("rfm_scores")) as i64;
    assert_eq!(customers.iter().sum::<i64>(), buyers);
    assert_eq!(customers[2], 0, "no customer is unmarked");
    let share = customers[0] as f64 / buyers as f64;
    assert!((0.36..0.44).contains(&share), "members {share}");
    let revenue: f64 = col_f64(&p, "revenue").into_iter().flatten().sum();
    let headline = col_f64(&table("headline"), "revenue")[0].unwrap();
    assert!(
        (revenue - headline).abs() < 1e-6,
        "{revenue} against {headline}"
    );
}

#[test]
fn lifetime_value_segments_add_up_to_the_customers_of_the_base_date() {
    // The segments a year before the run date (2025-06-30) hold every
    // customer who had bought by then: counted here from customer_orders'
    // first order dates, and their retained from its last order dates.
    let co = table("customer_orders");
    let base = chrono::NaiveDate::from_ymd_opt(2025, 6, 30).unwrap();
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
    let date = |c: &str| -> Vec<chrono::NaiveDate> {
        col_str(&co, c)
            .into_iter()
            .map(|d| chrono::NaiveDate::parse_from_str(&d.unwrap(), "%Y-%m-%d").unwrap())
            .collect()
    };
    let (first, last) = (date("first_order_date"), date("last_order_date"));
    let followed: Vec<usize> = (0..first.len()).filter(|&i| first[i] <= base).collect();
    let kept = followed
        .iter()
        .filter(|&&i| (as_of - last[i]).num_days() <= 90)
        .count();

    let t = table("customer_lifetime_value");
    let scope = col_str(&t, "scope");
    let (n, k) = (col_i64(&t, "customers"), col_i64(&t, "retained"));
    let arpc = col_f64(&t, "revenue_per_customer");
    let all = overall_row(&t);
    assert_eq!(n[all], Some(followed.len() as i64));
    assert_eq!(k[all], Some(kept as i64));
    let segments: Vec<usize> = (0..scope.len()).filter(|&i| i != all).collect();
    assert_eq!(segments.len(), 11);
    let sum = |c: &[Option<i64>]| segments.iter().map(|&i| c[i].unwrap()).sum::<i64>();
    assert_eq!(sum(&n), followed.len() as i64);
    assert_eq!(sum(&k), kept as i64);
    let revenue: f64 = segments
        .iter()
        .filter(|&&i| n[i] != Some(0))
        .map(|&i| arpc[i].unwrap() * n[i].unwrap() as f64)
        .sum();
    let total = arpc[all].unwrap() * n[all].unwrap() as f64;
    assert!(
        (revenue - total).abs() < 1e-6 * total,
        "{revenue} against {total}"
    );
    // The generator's better customers buy more and stay longer.
    let cltv = col_f64(&t, "cltv");
    let seg = col_str(&t, "segment");
    let of = |name: &str| cltv[seg.iter().position(|s| s.as_deref() == Some(name)).unwrap()];
    assert!(of("Champions").unwrap() > of("Lost").unwrap(), "{cltv:?}");
    // Every segment lost someone, so each has an estimate: the report names
    // the most valuable and does not explain the dash.
    // The most valuable is the segment with the largest estimate.
    let best = segments
        .iter()
        .max_by(|&&a, &&b| cltv[a].unwrap().total_cmp(&cltv[b].unwrap()))
        .map(|&i| seg[i].clone().unwrap())
        .unwrap();
    let md = std::fs::read_to_string(run_once().join("report.md")).unwrap();
    assert!(md.contains("are worth the most"), "{md}");
    assert!(
        md.contains(&format!("those who were {best} on ")),
        "{best}: {md}"
    );
    assert!(!md.contains("lost none of its customers"), "{md}");
}

/// The numbers in a line of text, in order: `churned at 69%, 6.3 times` gives
/// 69 and 6.3.
fn numbers_in(line: &str) -> Vec<f64> {
    line.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.trim_matches('.').parse().ok())
        .collect()
}

#[test]
fn the_satisfaction_finding_is_worked_out_from_churn_by_rating() {
    // "Customers who rated 1–2 churned at L, R times the rate of those who
    // rated 5 (H)": L pools the customers who rated 1 and 2, H is rating 5's
    // rate and R = L / H, each as printed (L and H to a whole percent, R to
    // a tenth).
    let t = table("churn_by_satisfaction");
    let (csat, n, churned) = (
        col_i64(&t, "csat"),
        col_i64(&t, "customers"),
        col_i64(&t, "churned"),
    );
    let of = |rating: i64| {
        let i = csat.iter().position(|c| *c == Some(rating)).unwrap();
        (n[i].unwrap() as f64, churned[i].unwrap() as f64)
    };
    let ((n1, c1), (n2, c2), (n5, c5)) = (of(1), of(2), of(5));
    let (low, high) = ((c1 + c2) / (n1 + n2), c5 / n5);
    assert!(
        n1 + n2 > 0.0 && c5 > 0.0,
        "the sample plants churn at every rating"
    );

    let md = std::fs::read_to_string(run_once().join("report.md")).unwrap();
    let line = md
        .lines()
        .find(|l| l.contains("Customers who rated 1–2 churned at"))
        .unwrap_or_else(|| panic!("no finding on satisfaction in:\n{md}"));
    let got = numbers_in(line.split("churned at").nth(1).unwrap());
    assert_eq!(got.len(), 4, "{line}: {got:?}");
    assert_eq!(got[0], (low * 100.0).round(), "{line}");
    assert_eq!(got[1], (low / high * 10.0).round() / 10.0, "{line}");
    assert_eq!(got[2], 5.0, "{line}");
    assert_eq!(got[3], (high * 100.0).round(), "{line}");
}

#[test]
fn summary_tables_come_out_in_their_declared_order() {
    // Reports list rows in the order the step's ORDER BY gives them.
    fn sorted_by(name: &str, keys: &[&str]) {
        let t = table(name);
        let cols: Vec<Vec<Option<String>>> = keys
            .iter()
            .map(|k| {
                col_str(&t, k)
                    .into_iter()
                    .map(|v| v.map(|s| format!("{s:0>12}")))
                    .collect()
            })
            .collect();
        let rows: Vec<Vec<Option<String>>> = (0..cols[0].len())
            .map(|i| cols.iter().map(|c| c[i].clone()).collect())
            .collect();
        let mut sorted = rows.clone();
        sorted.sort();
        assert!(rows == sorted, "{name} is not ordered by {keys:?}");
    }
    sorted_by("cohort_retention", &["cohort_month", "period"]);
    sorted_by("rfm_segment_summary", &["segment_order"]);
    sorted_by("rfm_migration", &["previous_order", "current_order"]);
    sorted_by("lifecycle_summary", &["stage_order"]);
    sorted_by("satisfaction_funnel", &["stage_order"]);
    sorted_by("complaint_recovery", &["group_order"]);
    sorted_by("loyalty_programme", &["group_order"]);
    sorted_by("satisfaction_by_segment", &["segment_order"]);
    sorted_by("churn_by_satisfaction", &["csat"]);
    sorted_by("retention_priority", &["abc_class", "level_order"]);
}
