//! The rendered reports of the bundled pipeline: a Markdown snapshot on the
//! hand-made fixture, determinism, escaping, template errors, languages and
//! absent sections.

mod common;

use std::path::Path;

use common::*;

/// Runs `pipeline` on the analyses fixture as of 2026-06-30 into `out`.
fn run(tmp: &Path, pipeline: &Path, out: &Path, with_feedback: bool) -> std::process::Output {
    let data = tmp.join("data");
    if !data.exists() {
        analyses_fixture(&data, with_feedback);
    }
    run_pipeline(tmp, pipeline, "2026-06-30", &data, out, &[])
}

/// Runs the bundled pipeline on the analyses fixture (with surveys and
/// complaints) as of `as_of`, which must succeed; returns the output folder.
fn reports_as_of(tmp: &Path, as_of: &str) -> std::path::PathBuf {
    let (data, out) = (tmp.join("data"), tmp.join("out"));
    analyses_fixture(&data, true);
    let o = run_pipeline(tmp, &bundled_pipeline(), as_of, &data, &out, &[]);
    assert_exit(&o, 0);
    out
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn markdown_report_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_exit(&run(tmp.path(), &bundled_pipeline(), &out, true), 0);
    let md = read(&out.join("report.md")).replace(&tmp.path().display().to_string(), "[TMP]");
    insta::assert_snapshot!("report_md", md);
    // Every chart the report links is written beside it.
    for line in md.lines().filter(|l| l.starts_with("![")) {
        let path = line.rsplit_once("](").unwrap().1.trim_end_matches(')');
        assert!(path.starts_with("report_charts/"), "{path}");
        let svg = read(&out.join(path));
        assert!(svg.starts_with("<svg role=\"img\""), "{path}");
    }
}

#[test]
fn reports_are_byte_identical_across_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_exit(&run(tmp.path(), &bundled_pipeline(), &out, true), 0);
    let files = [
        "report.html",
        "report.md",
        "report.zh-CN.html",
        "report_charts/05-retention-by-first-purchase-month-share-active-in-each-month-since.svg",
    ];
    let first: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    assert_exit(&run(tmp.path(), &bundled_pipeline(), &out, true), 0);
    for (f, bytes) in files.iter().zip(first) {
        assert!(
            std::fs::read(out.join(f)).unwrap() == bytes,
            "{f} changed between runs"
        );
    }
}

#[test]
fn html_report_is_self_contained_and_has_every_section() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_exit(&run(tmp.path(), &bundled_pipeline(), &out, true), 0);
    let html = read(&out.join("report.html"));
    for forbidden in [
        "<script", "<link", "<img", "<iframe", "url(", "@import", "src=",
    ] {
        assert!(!html.contains(forbidden), "the report has `{forbidden}`");
    }
    // The only URL is SVG's namespace, which loads nothing.
    let urls: Vec<&str> = html
        .match_indices("http")
        .map(|(i, _)| &html[i..(i + 30).min(html.len())])
        .filter(|u| !u.starts_with("http://www.w3.org/2000/svg"))
        .collect();
    assert!(urls.is_empty(), "{urls:?}");
    // Sections in order, and eight inline charts with accessible titles.
    let ids = [
        "headline",
        "rfm",
        "contribution",
        "churn",
        "satisfaction",
        "method",
    ];
    let positions: Vec<usize> = ids
        .iter()
        .map(|id| html.find(&format!("<section id=\"{id}\">")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(html.matches("<svg role=\"img\"").count(), 8);
    assert_eq!(
        html.matches("<title>").count(),
        9,
        "the page's and each chart's"
    );
    assert!(html.contains("@media print"));
}

#[test]
fn segment_labels_are_escaped_in_html_and_markdown() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = bundle_copy(tmp.path());
    let sql = pipeline.parent().unwrap().parent().unwrap().join("sql");
    for f in ["rfm_segment_map.sql", "rfm_segment_actions.sql"] {
        let text = read(&sql.join(f))
            .replace("'Lost'", "'<script>alert(1)</script>'")
            .replace("'Loyal Customers'", "'VIP | *Gold*'");
        std::fs::write(sql.join(f), text).unwrap();
    }
    let out = tmp.path().join("out");
    assert_exit(&run(tmp.path(), &pipeline, &out, true), 0);
    let html = read(&out.join("report.html"));
    assert!(!html.contains("<script>alert(1)"), "a label ran as script");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    // In the inline charts too (plotters writes SVG text escaped).
    assert!(
        html.matches("&lt;script&gt;alert(1)").count() >= 3,
        "table and charts"
    );
    // In Markdown the `|` stays in its cell and the stars stay stars: the
    // segment's figures (the fixture's 3 loyal customers) keep their columns.
    let md = read(&out.join("report.md"));
    assert!(
        md.contains("| VIP \\| \\*Gold\\* | 3 | 27.3% | $1,515 | 46.0% |"),
        "{md}"
    );
    assert!(
        md.contains("| \\<script\\>alert(1)\\</script\\> | 1 |"),
        "{md}"
    );
}

#[test]
fn a_template_typo_fails_the_run_naming_template_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = bundle_copy(tmp.path());
    let template = pipeline
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("report_templates/report.md.j2");
    let text = read(&template).replacen(
        "## {{ t(\"rfm\") }}",
        "## {{ t(\"rfm\") }} {{ segmnts }}",
        1,
    );
    let line = text.lines().position(|l| l.contains("segmnts")).unwrap() + 1;
    std::fs::write(&template, text).unwrap();
    let out = tmp.path().join("out");
    let o = run(tmp.path(), &pipeline, &out, true);
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains(&format!("report template `report.md.j2`: line {line}")),
        "{err}"
    );
    assert!(err.contains("segmnts"), "{err}");
    assert!(!out.join("report.md").exists(), "nothing published");
    assert!(!out.join("report.html").exists(), "nothing published");
    assert_eq!(read_json(&out.join("run_results.json"))["status"], "error");
}

#[test]
fn chinese_report_uses_chinese_terms() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_exit(&run(tmp.path(), &bundled_pipeline(), &out, true), 0);
    let zh = read(&out.join("report.zh-CN.html"));
    assert!(zh.contains("<html lang=\"zh-CN\">"));
    for term in [
        "客户忠诚度报告",
        "重要价值客户",
        "重要保持客户",
        "客户流失率",
        "截至 2026年6月30日",
        "成长期",
        // The segments' revenue to date, not the Pareto curve's cumulative
        // share (累计收入占比), which is another figure.
        "<th class=\"n\">历史收入</th><th class=\"n\">历史收入占比</th>",
    ] {
        assert!(zh.contains(term), "missing {term}");
    }
    assert!(
        !zh.contains("Can't Lose Them"),
        "segment names are translated"
    );
}

#[test]
fn sections_without_data_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_exit(&run(tmp.path(), &bundled_pipeline(), &out, false), 0);
    let md = read(&out.join("report.md"));
    assert!(
        md.contains("No data for this section: the survey table is absent."),
        "{md}"
    );
    assert!(md.contains("No data for this section: the complaint table is absent."));
    let html = read(&out.join("report.html"));
    assert_eq!(
        html.matches("<svg role=\"img\"").count(),
        6,
        "no survey charts"
    );
}

#[test]
fn a_run_dated_before_every_order_says_there_is_none() {
    let tmp = tempfile::tempdir().unwrap();
    // The fixture's 27 order rows (orders.csv) start on 2025-01-15.
    let out = reports_as_of(tmp.path(), "2024-12-31");
    let md = read(&out.join("report.md"));
    assert!(
        md.contains(
            "No order is dated on or before the run date. 27 order rows dated after the run date were ignored."
        ),
        "{md}"
    );
    for name in ["report.md", "report.html", "report.zh-CN.html"] {
        let text = read(&out.join(name));
        assert!(
            !text.contains("None"),
            "{name} shows a missing value as None"
        );
    }
    assert!(read(&out.join("report.zh-CN.html")).contains("统计日及之前没有订单。"));
}

#[test]
fn a_run_dated_after_a_year_without_orders_reports_no_contribution() {
    let tmp = tempfile::tempdir().unwrap();
    // The fixture's orders end in July 2026: nobody bought in the 365 days up
    // to 2028-01-01, so no customer is ranked and contribution_summary has no
    // row. The run used to fail rendering `contribution_summary[0]`.
    let out = reports_as_of(tmp.path(), "2028-01-01");
    let md = read(&out.join("report.md"));
    let none = "No data for this section: no customer bought in the 365 days up to the run date.";
    assert_eq!(
        md.matches(none).count(),
        2,
        "the contribution tables and the retention priority: {md}"
    );
    // The twelve customers with a completed order in orders.csv (customer 7
    // first buys on 2026-07-02), all churned by then.
    assert!(
        md.contains("| **All customers** | 12 | 12 | 100.0% |"),
        "{md}"
    );
    // Every order is dated before the run date: none was left out.
    assert!(
        md.contains("No order row is dated after the run date."),
        "{md}"
    );
    assert!(!md.contains("0 order rows"), "{md}");
    let zh = read(&out.join("report.zh-CN.html"));
    assert!(zh.contains("统计日前365天内没有客户购买。"));
    assert!(zh.contains("没有统计日之后的订单记录。"));
}
