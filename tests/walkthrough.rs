//! README's "Adding an analysis", followed as written: its six blocks taken
//! from README.md and put where it says, in a copy of the bundle, which then
//! validates and runs on the hand-made fixture. The new table is checked
//! against the figures README works out by hand, and the new section (its
//! chart's bars measured against those figures, and its table) is looked
//! for in the three reports.

mod common;

use common::*;

/// The code block that follows `<!-- walkthrough: NAME -->` in README.md.
fn block(readme: &str, name: &str) -> String {
    let marker = format!("<!-- walkthrough: {name} -->");
    let at = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("README.md has no {marker}"));
    let rest = &readme[at + marker.len()..];
    let fence = rest.find("```").expect("a code block after the marker");
    let body = fence + rest[fence..].find('\n').unwrap() + 1;
    let end = body + rest[body..].find("```").expect("the block's end");
    rest[body..end].to_string()
}

/// `text` with `insert` right after its line `line`, which it has once.
fn after_line(text: &str, line: &str, insert: &str) -> String {
    let line = format!("\n{line}\n");
    assert_eq!(text.matches(&line).count(), 1, "one line {line:?}");
    let at = text.find(&line).unwrap() + line.len();
    format!("{}{insert}{}", &text[..at], &text[at..])
}

/// Writes `insert` into the file at `path` right before `marker`, which the
/// file has once.
fn insert_before(path: &std::path::Path, marker: &str, insert: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        text.matches(marker).count(),
        1,
        "one {marker:?} in {path:?}"
    );
    std::fs::write(path, text.replace(marker, &format!("{insert}{marker}"))).unwrap();
}

/// The widths of a bar chart's bars, top to bottom (the bars are the
/// rectangles in the charts' blue), from the first `<svg` in `svg` on.
fn bar_widths(svg: &str) -> Vec<f64> {
    let svg = &svg[svg.find("<svg").expect("a chart")..];
    let svg = &svg[..svg.find("</svg>").expect("the chart's end")];
    svg.split("<rect ")
        .skip(1)
        .filter(|r| r.contains("fill=\"#2B6CB0\""))
        .map(|r| {
            let at = r.find(" width=\"").unwrap() + 8;
            r[at..at + r[at..].find('"').unwrap()].parse().unwrap()
        })
        .collect()
}

/// Asserts that the chart at the start of `svg` draws the churn rates
/// worked out by hand: East 1/2, South 1/3 (so two thirds of East's bar,
/// give or take the pixel each is rounded to), the others none.
fn assert_churn_chart(svg: &str, title: &str) {
    let svg = &svg[svg.find("<svg").expect("a chart")..];
    assert!(svg.contains(&format!("<title>{title}</title>")), "{svg}");
    for label in ["East", "South", "West", " 50%", " 33%"] {
        assert!(svg.contains(label), "{label} in {svg}");
    }
    let widths: Vec<f64> = bar_widths(svg).into_iter().filter(|w| *w > 0.0).collect();
    assert_eq!(widths.len(), 2, "two regions have churn: {widths:?}");
    assert!(
        (widths[1] - widths[0] * 2.0 / 3.0).abs() <= 1.0,
        "South's bar two thirds of East's: {widths:?}"
    );
}

#[test]
fn the_readme_walkthrough_adds_churn_by_region() {
    let tmp = tempfile::tempdir().unwrap();
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let pipeline = bundle_copy(tmp.path());
    let bundle = tmp.path().join("bundle");

    // 1. The query.
    std::fs::write(
        bundle.join("sql/churn_by_region.sql"),
        block(&readme, "sql/churn_by_region.sql"),
    )
    .unwrap();
    // Before it is a step, `show --sql-file` gives its rows as README has
    // them (the same as `show churn_by_region` once it is one, below).
    let data = tmp.path().join("data");
    analyses_fixture(&data, true);
    let data_arg = format!("data_root={}", data.display());
    let out = tmp.path().join("out");
    let out_arg = format!("out_root={}", out.display());
    let show = |what: &[&str]| {
        let mut args = vec!["show", pipeline.to_str().unwrap()];
        args.extend_from_slice(what);
        args.extend_from_slice(&["--as-of", "2026-06-30", "--param", &data_arg]);
        args.extend_from_slice(&["--param", &out_arg]);
        loyalty(tmp.path(), &args)
    };
    let sql_file = bundle.join("sql/churn_by_region.sql");
    let o = show(&["--sql-file", sql_file.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), block(&readme, "show"));
    // 2. The step at the top of `steps:`, the output at the top of `outputs:`.
    let yaml = std::fs::read_to_string(&pipeline).unwrap();
    let yaml = after_line(&yaml, "steps:", &block(&readme, "steps"));
    let yaml = after_line(&yaml, "outputs:", &block(&readme, "outputs"));
    std::fs::write(&pipeline, yaml).unwrap();
    // 3. The section, right before `<section id="method">`, and the same as a
    // Markdown table right before `## {{ t("method") }}`.
    let templates = bundle.join("report_templates");
    insert_before(
        &templates.join("report.html.j2"),
        "<section id=\"method\">",
        &block(&readme, "report_templates/report.html.j2"),
    );
    insert_before(
        &templates.join("report.md.j2"),
        "## {{ t(\"method\") }}",
        &block(&readme, "report_templates/report.md.j2"),
    );

    // The Chinese texts, at the top of `zh-CN:`.
    let translations = templates.join("translations.yaml");
    let yaml = std::fs::read_to_string(&translations).unwrap();
    let yaml = after_line(&yaml, "zh-CN:", &block(&readme, "translations zh-CN"));
    std::fs::write(&translations, yaml).unwrap();

    // 4. Check, then run.
    let validate = || validate_pipeline(tmp.path(), &pipeline, "2026-06-30", &data, &[]);
    assert_exit(&validate(), 0);
    // As README says, a misspelt column in the section is reported with its
    // file and line.
    let html = templates.join("report.html.j2");
    let section = std::fs::read_to_string(&html).unwrap();
    let misspelt = section.replacen("{{ r.region }}", "{{ r.regoin }}", 1);
    assert_ne!(misspelt, section);
    let line = misspelt
        .lines()
        .position(|l| l.contains("r.regoin"))
        .unwrap()
        + 1;
    std::fs::write(&html, &misspelt).unwrap();
    let o = validate();
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains(&format!(
            "report template `report.html.j2`: line {line}: step `churn_by_region` has no column `regoin`"
        )) && stderr(&o).contains("did you mean `region`?"),
        "{}",
        stderr(&o)
    );
    std::fs::write(&html, &section).unwrap();
    // `show` prints the new step's rows as README has them, writing nothing.
    let o = show(&["churn_by_region"]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), block(&readme, "show"));
    assert!(!out.exists());
    let o = run_pipeline(tmp.path(), &pipeline, "2026-06-30", &data, &out, &[]);
    assert_exit(&o, 0);

    // The table README works out by hand from tests/fixtures/analyses:
    // - customers with a completed order by 2026-06-30, by region: North 1,
    //   2, 11; South 3, 4, 12; East 5, 6 (13 never ordered); West 8 (7's one
    //   order is dated after the run date); Central 9, 10;
    // - churned (last completed order more than 90 days before): 3 (15 Mar
    //   2026, 107 days) and 6 (1 Aug 2025); 10's (1 Apr 2026) is exactly 90;
    // - revenue from 1 Jul 2025, refunds counted, cancelled orders not:
    //   North 200 + 50 + (250 + 250 + 5) = 755; South (300 + 100) + 6 × 40 +
    //   (70 + 700) = 1410; East (1000 − 1000) + 80 = 80; West 60; Central 20
    //   + 10 = 30 (9's order of 30 Jun 2025 is before the window).
    let files = files_under(&out.join("tables/churn_by_region"));
    assert_eq!(files.len(), 1, "{files:?}");
    let t = read_parquet(&files[0]);
    let regions = ["East", "South", "Central", "North", "West"];
    assert_eq!(
        col_str(&t, "region"),
        regions.map(|r| Some(r.to_string())),
        "the highest churn first, then by name"
    );
    assert_eq!(col_i64(&t, "customers"), [2, 3, 2, 3, 1].map(Some));
    assert_eq!(col_i64(&t, "churned"), [1, 1, 0, 0, 0].map(Some));
    let rates = col_f64(&t, "churn_rate");
    for (rate, want) in rates.iter().zip([0.5, 1.0 / 3.0, 0.0, 0.0, 0.0]) {
        assert!((rate.unwrap() - want).abs() < 1e-12, "{rates:?}");
    }
    assert_eq!(
        col_f64(&t, "window_revenue"),
        [80.0, 1410.0, 30.0, 755.0, 60.0].map(Some)
    );

    // The section, in the report's order and formats, in both languages.
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("<h2>Churn by region</h2>"), "{report}");
    let south = "<tr><td>South</td><td class=\"n\">3</td><td class=\"n\">33.3%</td><td class=\"n\">$1,410</td></tr>";
    assert!(report.contains(south), "{report}");
    assert!(
        report.find("<td>East</td>") < report.find("<td>South</td>"),
        "the rows in the table's order"
    );
    let section = &report[report.find("<h2>Churn by region</h2>").unwrap()..];
    assert_churn_chart(section, "Churn rate per region");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let image = "![Churn rate per region](";
    let path = &md[md.find(image).expect("the chart in report.md") + image.len()..];
    let path = &path[..path.find(')').unwrap()];
    assert!(path.starts_with("report_charts/"), "{path}");
    assert_churn_chart(
        &std::fs::read_to_string(out.join(path)).unwrap(),
        "Churn rate per region",
    );
    let table = "| Region | Customers | Churn rate | Revenue, last 365 days |\n\
        |---|---:|---:|---:|\n\
        | East | 2 | 50.0% | $80 |\n\
        | South | 3 | 33.3% | $1,410 |\n\
        | Central | 2 | 0.0% | $30 |\n\
        | North | 3 | 0.0% | $755 |\n\
        | West | 1 | 0.0% | $60 |\n\n## Method and data";
    assert!(md.contains(table), "{md}");
    assert!(
        md.find("## Churn by region\n\n![Churn rate per region](")
            .expect("the chart right under the heading")
            < md.find(table).unwrap(),
        "the heading, the chart, then the table: {md}"
    );
    let zh = std::fs::read_to_string(out.join("report.zh-CN.html")).unwrap();
    assert!(zh.contains("<h2>各地区客户流失</h2>"), "{zh}");
    assert_churn_chart(
        &zh[zh.find("<h2>各地区客户流失</h2>").unwrap()..],
        "各地区流失率",
    );
    assert!(zh.contains("<tr><th>地区</th>"), "{zh}");
    assert!(zh.contains("<th class=\"n\">近365天收入</th>"), "{zh}");
    assert!(zh.contains(south), "{zh}");
}
