//! Snapshots of each chart function's SVG on fixed data: a change to a
//! chart's drawing shows up as a reviewable diff.

use loyalty::report::charts;

fn num(v: f64) -> String {
    format!("{v:.0}")
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// One slot per item: no empty slot, and so no tick with an empty label,
/// after the last bar, cell or level (plotters' discrete ranges include
/// their end, which once left one in each of these charts).
fn assert_no_empty_slot(svg: &str) {
    assert!(!svg.contains(">\n\n</text>"), "an empty label:\n{svg}");
}

#[test]
fn bar_chart_svg() {
    let labels = ["Champions", "Loyal Customers", "Lost"].map(String::from);
    let svg = charts::bars(
        "Customers per segment",
        &labels,
        &[120.0, 340.0, 45.0],
        &num,
    )
    .unwrap();
    assert_no_empty_slot(&svg);
    insta::assert_snapshot!("bars", svg);
}

/// Bars split into a part and the rest: each month's buyers, new ones
/// first. The orange part of a bar of 100 with 25 new is a quarter of it,
/// and the legend names both parts.
#[test]
fn stacked_bar_chart_svg() {
    let labels = ["Jan 2026", "Feb 2026"].map(String::from);
    let svg = charts::stacked_bars(
        "Customers who bought each month",
        &labels,
        &[40.0, 100.0],
        Some(charts::BarParts {
            values: &[40.0, 25.0],
            name: "New",
            rest_name: "Returning",
        }),
        &num,
    )
    .unwrap();
    assert_no_empty_slot(&svg);
    // Each drawn rect as (x, width, fill): plotters writes x, y, width,
    // height, then its fill.
    let rects: Vec<(f64, f64, String)> = svg
        .lines()
        .filter(|l| l.trim_start().starts_with("<rect x="))
        .map(|l| {
            let attr = |name: &str| {
                let at = l.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                l[at..].split('"').next().unwrap().to_string()
            };
            (
                attr("x").parse().unwrap(),
                attr("width").parse().unwrap(),
                attr("fill"),
            )
        })
        .collect();
    let of = |fill: &str| -> Vec<(f64, f64)> {
        (rects.iter())
            .filter(|r| r.2 == fill)
            .map(|r| (r.0, r.1))
            .collect()
    };
    let (orange, blue) = (of("#DD6B20"), of("#2B6CB0"));
    // The bars (the legend's two squares of 12 px come last).
    let (jan_new, feb_new) = (orange[0], orange[1]);
    let feb_rest = blue[1];
    // January: all new; nothing of it blue beyond its orange part.
    assert!(blue[0].1 <= 1.0, "{blue:?}");
    // February: 25 of 100 new: its orange part is a third of its blue one.
    assert!(
        (feb_new.1 * 3.0 - feb_rest.1).abs() <= 2.0,
        "{orange:?} {blue:?}"
    );
    assert!((feb_new.0 + feb_new.1 - feb_rest.0).abs() <= 1.0);
    // January's 40 against February's 100.
    assert!((jan_new.1 / (feb_new.1 + feb_rest.1) - 0.4).abs() < 0.02);
    assert_eq!(
        (orange.len(), blue.len()),
        (3, 3),
        "two bars and a legend square each"
    );
    for name in ["New", "Returning"] {
        assert!(svg.lines().any(|l| l.trim() == name), "no legend {name}");
    }
    insta::assert_snapshot!("stacked_bars", svg);
}

#[test]
fn heatmap_svg() {
    let rows = ["Jan 2026", "Feb 2026"].map(String::from);
    let cols = ["0", "1", "2"].map(String::from);
    let values = vec![
        vec![Some(1.0), Some(0.5), Some(0.25)],
        vec![Some(1.0), Some(0.4), None],
    ];
    let svg = charts::heatmap("Retention by cohort", &rows, &cols, &values, &pct, None).unwrap();
    assert_no_empty_slot(&svg);
    insta::assert_snapshot!("heatmap", svg);
}

#[test]
fn heatmap_shading_saturates_where_asked() {
    // Revenue retention of 100% and 1000%: shaded against the largest value
    // the 100% cell is pale; saturating at 1 both take the darkest blue.
    let rows = ["Jan 2026"].map(String::from);
    let cols = ["0", "1"].map(String::from);
    let values = vec![vec![Some(1.0), Some(10.0)]];
    let darkest = |svg: &str| svg.matches("fill=\"#2B6CB0\"").count();
    let by_max = charts::heatmap("R", &rows, &cols, &values, &pct, None).unwrap();
    let saturated = charts::heatmap("R", &rows, &cols, &values, &pct, Some(1.0)).unwrap();
    assert_eq!(darkest(&by_max), 1, "{by_max}");
    assert_eq!(darkest(&saturated), 2, "{saturated}");
}

#[test]
fn heatmap_writes_every_value_of_a_wide_grid() {
    // Two cohorts followed for 24 months, as the report's revenue retention
    // grid: the first month is 100% and the others 105%. At the axis labels'
    // size four characters are wider than a cell of 24 columns (the cells
    // once showed no value at all where revenue grew); the values are
    // written smaller instead, all 48 of them.
    let rows = ["Jul 2024", "Aug 2024"].map(String::from);
    let cols: Vec<String> = (0..24).map(|c| c.to_string()).collect();
    let row: Vec<Option<f64>> = (0..24)
        .map(|c| Some(if c == 0 { 1.0 } else { 1.05 }))
        .collect();
    let values = vec![row.clone(), row];
    let svg = charts::heatmap("Revenue retention", &rows, &cols, &values, &pct, Some(1.0)).unwrap();
    let written = |label: &str| svg.matches(&format!(">\n{label}\n</text>")).count();
    assert_eq!(written("100%"), 2, "{svg}");
    assert_eq!(written("105%"), 46, "{svg}");
    // A value too wide for a cell even at the smallest size is left out
    // rather than drawn over its neighbours.
    let wide = |v: f64| format!("{:.0}%", v * 1e9);
    let svg = charts::heatmap("R", &rows, &cols, &values, &wide, None).unwrap();
    assert!(!svg.contains("1000000000%"), "{svg}");
}

#[test]
fn pareto_svg() {
    let points = [(0.2, 0.6), (0.4, 0.8), (0.6, 0.9), (0.8, 0.97), (1.0, 1.0)];
    let svg = charts::pareto(
        "Pareto",
        &points,
        "Share of customers",
        "Share of revenue",
        &pct,
    )
    .unwrap();
    insta::assert_snapshot!("pareto", svg);
}

#[test]
fn funnel_svg() {
    let stages = [
        ("Surveyed", 100.0, "100"),
        ("Satisfied", 70.0, "70 (70%)"),
        ("Promoter", 30.0, "30 (43%)"),
    ]
    .map(|(a, b, c)| (a.to_string(), b, c.to_string()));
    let svg = charts::funnel("Funnel", &stages).unwrap();
    assert_no_empty_slot(&svg);
    insta::assert_snapshot!("funnel", svg);
}

#[test]
fn interval_chart_svg() {
    let level =
        |label: &str, v: Option<f64>, lo: Option<f64>, hi: Option<f64>, b: f64| charts::Level {
            label: label.into(),
            value: v,
            low: lo,
            high: hi,
            benchmark: Some(b),
        };
    let levels = [
        level("1", Some(0.6), Some(0.5), Some(0.7), 0.8),
        level("3", None, None, None, 0.3),
        level("5", Some(0.05), Some(0.02), Some(0.1), 0.015),
    ];
    let svg =
        charts::rates_with_intervals("Churn by rating", &levels, &pct, ("Yours", "Benchmark"))
            .unwrap();
    assert_no_empty_slot(&svg);
    insta::assert_snapshot!("intervals", svg);
}
