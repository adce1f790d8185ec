//! The HTML report in a real browser: headless Chromium (Debian's
//! `chromium`, which .ci/run installs when missing) loads it from disk with
//! the network cut off. It must load no external resource and draw every
//! chart at a non-zero size; a full-page screenshot is saved for people to
//! look at (target/tmp/report-screenshot.png). The English and Chinese
//! reports, and charts with a large company's figures and Chinese labels,
//! keep all their text inside their edges and apart. Printed (as PDF, read
//! back with poppler's `pdftotext`), no page ends with a heading.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The first of `paths` that exists, or `None` with a line saying the test
/// is skipped; in CI (where .ci/run installs `package`) a missing one fails
/// the test.
fn installed_or_skip(paths: &[&str], package: &str) -> Option<PathBuf> {
    let found = paths.iter().map(PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        let tool = paths[0].rsplit('/').next().unwrap_or_default();
        if std::env::var_os("CI").is_some() {
            panic!("{tool} is missing: .ci/run installs Debian's `{package}`");
        }
        eprintln!("skipped: no {tool} here (install Debian's `{package}`, as .ci/run does)");
    }
    found
}

/// Chromium, or `None` with a line saying the test is skipped.
fn chromium_or_skip() -> Option<PathBuf> {
    installed_or_skip(
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        "chromium",
    )
}

/// Loads `page` in a window `width` px wide and returns what its probe script
/// wrote into the page between the markers `@@START@@` and `@@END@@`.
fn probe_page(chrome: &Path, profile: &Path, width: u32, page: &Path) -> String {
    let dom = browser(chrome, profile)
        .args(["--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("--window-size={width},1400"))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    dom.split_once("@@START@@")
        .and_then(|(_, rest)| rest.split_once("@@END@@"))
        .map(|(json, _)| json.replace("&quot;", "\""))
        .unwrap_or_else(|| panic!("the probe did not run; chromium printed:\n{dom}"))
}

/// Headless Chromium with no network: every host resolves to nothing and
/// any request goes to a closed local port.
fn browser(chrome: &Path, profile: &Path) -> Command {
    let mut c = Command::new(chrome);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ]);
    c.arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// A script function (a probe's `CLIPPED`): the texts of the page's charts
/// whose box reaches past their chart's, which the browser cuts.
const CLIPPED_TEXTS: &str = "(() => [...document.querySelectorAll('svg')].flatMap(s => {
    const b = s.getBoundingClientRect();
    return [...s.querySelectorAll('text')].filter(t => {
      const r = t.getBoundingClientRect();
      return r.width > 0 && (r.left < b.left - 1 || r.right > b.right + 1);
    }).map(t => t.textContent.trim());
  }))";

/// A script expression: the pairs of texts drawn over each other in a chart
/// (their boxes cross by more than a pixel), as "first / second".
const OVERLAPPING_TEXTS: &str = "(() => [...document.querySelectorAll('svg')].flatMap(s => {
    const boxes = [...s.querySelectorAll('text')]
      .map(t => [t.textContent.trim(), t.getBoundingClientRect()])
      .filter(([text, r]) => text && r.width > 0);
    return boxes.flatMap(([a, p], i) => boxes.slice(i + 1)
      .filter(([, q]) => p.left < q.right - 1 && q.left < p.right - 1
        && p.top < q.bottom - 1 && q.top < p.bottom - 1)
      .map(([b]) => a + ' / ' + b));
  }))";

/// A probe script with its `CLIPPED()` and `OVERLAPPING()` calls defined.
fn with_chart_checks(probe: &str) -> String {
    probe
        .replace("CLIPPED", CLIPPED_TEXTS)
        .replace("OVERLAPPING", OVERLAPPING_TEXTS)
}

/// Asserts that a probe found no chart text cut at a chart's edge and no two
/// texts drawn over each other; `at` says where (a window width).
fn assert_chart_texts_fit(probe: &serde_json::Value, at: &str) {
    assert_eq!(
        probe["clipped"],
        serde_json::json!([]),
        "text drawn past a chart's edge{at}"
    );
    assert_eq!(
        probe["overlapping"],
        serde_json::json!([]),
        "texts drawn over each other{at}"
    );
}

#[test]
fn html_report_renders_offline_in_chromium() {
    let Some(chrome) = chromium_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    analyses_fixture(&data, true);
    assert_exit(&run_bundled(tmp.path()), 0);
    let out = tmp.path().join("out");

    // A copy of each report with a probe script appended (the reports
    // themselves have no script): it writes what the page loaded and drew
    // into the DOM. It runs on `load`, after every resource finished or failed.
    let probe = r#"<script>
      window.addEventListener('load', () => {
      const svgs = [...document.querySelectorAll('svg')].map(s => {
        const r = s.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; });
      const resources = performance.getEntriesByType('resource').map(e => e.name);
      // Headline cards whose figure spills out of them, and how much wider
      // than the window the page is (a phone scrolls a wide table alone).
      const spilling = [...document.querySelectorAll('.kpi')]
        .filter(k => k.scrollWidth > k.clientWidth).map(k => k.textContent.trim());
      const overflow = document.documentElement.scrollWidth - document.documentElement.clientWidth;
      const clipped = CLIPPED();
      const overlapping = OVERLAPPING();
      // Rows whose name (a table's first cell) is broken over lines.
      const wrapped = [...document.querySelectorAll('td:first-child')].filter(td => {
        const r = document.createRange(); r.selectNodeContents(td);
        return new Set([...r.getClientRects()].map(q => Math.round(q.top))).size > 1;
      }).map(td => td.textContent.trim());
      const pre = document.createElement('pre'); pre.id = 'probe';
      // Markers built at run time, so the script's own text has none.
      pre.textContent = '@@' + 'START@@' + JSON.stringify({svgs, resources, spilling, overflow,
        clipped, overlapping, wrapped, height: document.documentElement.scrollHeight}) + '@@' + 'END@@';
      document.body.appendChild(pre);
      });
    </script></body>"#;
    let probe = with_chart_checks(probe);
    // The English report, and the Chinese one (.ci/run installs a font with
    // Chinese characters, so they are measured as a reader sees them).
    let mut english_height = 0;
    for report in ["report.html", "report.zh-CN.html"] {
        let html = std::fs::read_to_string(out.join(report)).unwrap();
        // The fixture's revenue ($2,335) as a large company's.
        let revenue = "<div class=\"value\">$";
        let at = html.find(revenue).expect("the revenue card") + revenue.len();
        let end = at + html[at..].find("</div>").unwrap();
        let html = format!("{}1,210,482,338{}", &html[..at], &html[end..]);
        let probed = tmp.path().join(format!("probed-{report}"));
        std::fs::write(&probed, html.replace("</body>", &probe)).unwrap();
        let probe_at = |width: u32| -> serde_json::Value {
            let profile = tmp.path().join(format!("profile-{report}-{width}"));
            serde_json::from_str(&probe_page(&chrome, &profile, width, &probed)).unwrap()
        };
        // A phone (Chromium's narrowest headless window, about 500 px) and a
        // laptop window.
        for width in [420, 1000] {
            let at = format!(" in {report} at {width} px");
            let probe = probe_at(width);
            assert_eq!(probe["spilling"], serde_json::json!([]), "{at}");
            assert_eq!(
                probe["overflow"], 0,
                "the page is wider than the window{at}"
            );
            assert_chart_texts_fit(&probe, &at);
            assert_eq!(
                probe["wrapped"],
                serde_json::json!([]),
                "row names broken over lines{at}"
            );
        }
        let probe = probe_at(1200);
        if report == "report.html" {
            english_height = probe["height"].as_i64().unwrap();
        }
        let resources = probe["resources"].as_array().unwrap();
        assert!(resources.is_empty(), "{report} loaded {resources:?}");
        let svgs = probe["svgs"].as_array().unwrap();
        assert_eq!(svgs.len(), 11, "eleven charts in {report}");
        for s in svgs {
            assert!(
                s[0].as_i64().unwrap() > 100 && s[1].as_i64().unwrap() > 100,
                "a chart drawn at {s} in {report}"
            );
        }
    }

    // The whole page as a picture.
    let height = english_height.clamp(800, 30_000);
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let status = browser(&chrome, &tmp.path().join("profile2"))
        .arg(format!("--window-size=1200,{height}"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", out.join("report.html").display()))
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert!(
        png.len() > 50_000,
        "a page with content, not a blank ({} bytes)",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}

/// `pdftotext` (Debian's `poppler-utils`), or `None` with a line saying the
/// test is skipped.
fn pdftotext_or_skip() -> Option<PathBuf> {
    installed_or_skip(&["/usr/bin/pdftotext"], "poppler-utils")
}

/// The texts of a page's `<h2>` and `<h3>` headings, tags taken out.
fn headings(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("<h") {
        rest = &rest[at + 2..];
        if !(rest.starts_with('2') || rest.starts_with('3')) {
            continue;
        }
        let (Some(open), Some(close)) = (rest.find('>'), rest.find("</h")) else {
            break;
        };
        let mut text = String::new();
        let mut in_tag = false;
        for c in rest[open + 1..close].chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        let text = text.replace("&#x27;", "'").replace("&amp;", "&");
        found.push(text.trim().to_owned());
        rest = &rest[close..];
    }
    found
}

#[test]
fn a_printed_report_keeps_each_heading_with_what_follows_it() {
    let (Some(chrome), Some(pdftotext)) = (chromium_or_skip(), pdftotext_or_skip()) else {
        return;
    };
    // A report as long as the demo's: executives print it, or save it as
    // PDF to send on.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sample_data(tmp.path(), &data, 300, 7);
    assert_exit(&run_bundled(tmp.path()), 0);
    let out = tmp.path().join("out");
    for report in ["report.html", "report.zh-CN.html"] {
        let html = std::fs::read_to_string(out.join(report)).unwrap();
        let headings = headings(&html);
        assert!(headings.len() > 15, "{headings:?}");
        let pdf = tmp.path().join(format!("{report}.pdf"));
        let printed = browser(&chrome, &tmp.path().join(format!("profile-{report}")))
            .arg("--no-pdf-header-footer")
            .arg(format!("--print-to-pdf={}", pdf.display()))
            .arg(format!("file://{}", out.join(report).display()))
            .output()
            .unwrap();
        assert!(
            printed.status.success() && pdf.exists(),
            "{}",
            String::from_utf8_lossy(&printed.stderr)
        );
        let text = Command::new(&pdftotext)
            .args(["-layout".as_ref(), pdf.as_os_str(), "-".as_ref()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        // pdftotext ends each page with a form feed.
        let pages: Vec<&str> = text
            .split('\u{c}')
            .filter(|p| !p.trim().is_empty())
            .collect();
        assert!(pages.len() > 5, "{report} printed on {} pages", pages.len());
        let last_lines: Vec<&str> = pages
            .iter()
            .filter_map(|p| p.lines().map(str::trim).rfind(|l| !l.is_empty()))
            .collect();
        let stranded: Vec<(usize, &str)> = last_lines
            .iter()
            .enumerate()
            .filter(|(_, line)| headings.iter().any(|h| h == *line))
            .map(|(i, line)| (i + 1, *line))
            .collect();
        assert_eq!(
            stranded,
            [],
            "{report}: pages ending with a heading whose section starts on the next"
        );
    }
}

/// Thousands grouped, with a dollar sign: "$262,700,752".
fn dollars(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut grouped = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(d);
    }
    format!("{}${grouped}", if v < 0.0 { "-" } else { "" })
}

#[test]
fn chart_text_stays_inside_the_chart() {
    use loyalty::report::charts::{Level, bars, funnel, heatmap, pareto, rates_with_intervals};
    let Some(chrome) = chromium_or_skip() else {
        return;
    };
    assert_eq!(dollars(262_700_752.0), "$262,700,752");
    // A large company's revenue per segment (the longest bar's value once
    // ran past the chart's edge), in English and in Chinese.
    let segments: Vec<String> = [
        "Champions",
        "Loyal Customers",
        "Potential Loyalists",
        "Lost",
    ]
    .map(String::from)
    .to_vec();
    let segments_zh: Vec<String> = ["重要价值客户", "忠诚客户", "潜在忠诚客户", "流失客户"]
        .map(String::from)
        .to_vec();
    let revenue = [203_844_567.0, 262_700_752.0, 49_050_395.0, 6_570_325.0];
    let cells: Vec<Vec<Option<f64>>> = (0..4)
        .map(|r| {
            (0..12)
                .map(|c| Some(((r + 1) * 10_000 + c * 731) as f64))
                .collect()
        })
        .collect();
    let months: Vec<String> = (1..=12).map(|m| format!("2026-{m:02}")).collect();
    let percent = |v: f64| format!("{:.0}%", v * 100.0);
    let levels: Vec<Level> = [
        "1 – very dissatisfied with us",
        "2 – dissatisfied with us",
        "3 – neither satisfied nor not",
        "4 – satisfied with us",
        "5 – very satisfied with us",
    ]
    .iter()
    .enumerate()
    .map(|(i, label)| Level {
        label: label.to_string(),
        value: Some(0.5 - 0.08 * i as f64),
        low: Some(0.45 - 0.08 * i as f64),
        high: Some(0.55 - 0.08 * i as f64),
        benchmark: Some(0.4 - 0.07 * i as f64),
    })
    .collect();
    let charts = [
        bars("Revenue to date per segment", &segments, &revenue, &dollars).unwrap(),
        bars("按细分的累计收入", &segments_zh, &revenue, &dollars).unwrap(),
        heatmap(
            "Moves",
            &segments,
            &months,
            &cells,
            &|v| format!("{v:.0}"),
            None,
        )
        .unwrap(),
        heatmap(
            "迁移",
            &segments_zh,
            &months,
            &cells,
            &|v| format!("{v:.0}"),
            None,
        )
        .unwrap(),
        // Chinese segment names over narrow columns, broken between
        // characters.
        heatmap(
            "迁移",
            &segments_zh,
            &[
                segments_zh.clone(),
                segments_zh.clone(),
                segments_zh.clone(),
            ]
            .concat(),
            &vec![vec![Some(12.0); 12]; 4],
            &|v| format!("{v:.0}"),
            None,
        )
        .unwrap(),
        // Two years of cohorts whose revenue grew: values written smaller
        // than the axis labels so that they fit their cells.
        heatmap(
            "Revenue retention",
            &months,
            &(0..24).map(|c| c.to_string()).collect::<Vec<_>>(),
            &vec![vec![Some(1.05); 24]; 12],
            &percent,
            Some(1.0),
        )
        .unwrap(),
        // An analyst's own labels, longer than the bundled report's: five
        // levels whose names are wider than their slots, and a legend whose
        // first name is long.
        rates_with_intervals(
            "Churn by satisfaction",
            &levels,
            &percent,
            (
                "Churn rate of your customers, with its 95% interval",
                "Textbook benchmark (Kotler)",
            ),
        )
        .unwrap(),
        funnel(
            "Funnel",
            &[
                ("Surveyed customers".into(), 1_234_567.0, "1,234,567".into()),
                (
                    "Repurchased within 90 days of the survey".into(),
                    234_567.0,
                    "234,567 (19%)".into(),
                ),
            ],
        )
        .unwrap(),
        // Every customer spends the same: 80% of revenue takes 80% of them.
        pareto(
            "Contribution",
            &(1..=10)
                .map(|i| (i as f64 / 10.0, i as f64 / 10.0))
                .collect::<Vec<_>>(),
            "Share of customers",
            "Share of revenue",
            &percent,
        )
        .unwrap(),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("charts.html");
    let probe = r#"<script>
      window.addEventListener('load', () => {
        const found = {clipped: CLIPPED(), overlapping: OVERLAPPING()};
        const pre = document.createElement('pre');
        pre.textContent = '@@' + 'START@@' + JSON.stringify(found) + '@@' + 'END@@';
        document.body.appendChild(pre);
      });
    </script>"#;
    let probe = with_chart_checks(probe);
    std::fs::write(
        &page,
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"></head><body>{}{probe}</body></html>",
            charts.join("\n")
        ),
    )
    .unwrap();
    let found: serde_json::Value = serde_json::from_str(&probe_page(
        &chrome,
        &tmp.path().join("profile"),
        1000,
        &page,
    ))
    .unwrap();
    assert_chart_texts_fit(&found, "");
}
