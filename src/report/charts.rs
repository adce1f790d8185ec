//! Charts as SVG, drawn with plotters' SVG backend: horizontal bars, heatmap,
//! Pareto curve, funnel, and rates with interval whiskers and benchmarks.
//! Each returns a complete `<svg>` element with `role="img"`, an
//! `aria-label` and a `<title>`, so it is accessible and needs no script.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue, SegmentedCoord};
use plotters::coord::types::RangedCoordusize;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub const WIDTH: u32 = 760;
const FONT: &str = "sans-serif";
// Font sizes as plotters takes them; its SVG backend writes them at 1/1.24
// of this (so 14 is 11.3px in the file).
const SMALL: f64 = 14.0;
const NORMAL: f64 = 15.0;
const TITLE: f64 = 20.0;
const BLUE: RGBColor = RGBColor(43, 108, 176);
const ORANGE: RGBColor = RGBColor(221, 107, 32);
const INK: RGBColor = RGBColor(26, 32, 44);

type DrawResult<T> = Result<T, String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("drawing failed: {e:?}")
}

/// Makes plotters' SVG accessible: a role, a label and a `<title>`.
fn finish(svg: String, title: &str) -> String {
    let title = escape(title);
    let svg = svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{title}\" class=\"chart\" "),
        1,
    );
    match svg.find('>') {
        Some(i) => format!("{}<title>{title}</title>{}", &svg[..=i], &svg[i + 1..]),
        None => svg,
    }
}

/// About how many pixels wide `text` is drawn at `size` (plotters' size),
/// for room around it: plotters cannot measure text before a browser draws
/// it. Each printable ASCII character takes its width in DejaVu Sans, the
/// widest of the common fonts a chart's `sans-serif` is drawn in (Linux's;
/// Arial and Helvetica are narrower); a Chinese or Japanese character, and
/// any other (`–`, `→`, `é`), a whole em at most.
fn text_px(text: &str, size: f64) -> u32 {
    let ems: f64 = text
        .chars()
        .map(|c| match c {
            ' '..='~' => ASCII_EMS[c as usize - ' ' as usize],
            _ => 1.0,
        })
        .sum();
    (ems * size / 1.24).ceil() as u32
}

/// DejaVu Sans' advance widths of the printable ASCII characters, from the
/// space to `~`, in ems rounded up to a hundredth (measured from its
/// `DejaVuSans.ttf`, 2048 units to the em: `a` 1255 units, 0.62).
#[rustfmt::skip]
const ASCII_EMS: [f64; 95] = [
    0.32, 0.41, 0.46, 0.84, 0.64, 0.96, 0.78, 0.28, 0.40, 0.40, 0.50, 0.84, 0.32, 0.37, 0.32, 0.34,
    0.64, 0.64, 0.64, 0.64, 0.64, 0.64, 0.64, 0.64, 0.64, 0.64, 0.34, 0.34, 0.84, 0.84, 0.84, 0.54,
    1.00, 0.69, 0.69, 0.70, 0.78, 0.64, 0.58, 0.78, 0.76, 0.30, 0.30, 0.66, 0.56, 0.87, 0.75, 0.79,
    0.61, 0.79, 0.70, 0.64, 0.62, 0.74, 0.69, 0.99, 0.69, 0.62, 0.69, 0.40, 0.34, 0.40, 0.84, 0.50,
    0.50, 0.62, 0.64, 0.55, 0.64, 0.62, 0.36, 0.64, 0.64, 0.28, 0.28, 0.58, 0.28, 0.98, 0.64, 0.62,
    0.64, 0.64, 0.42, 0.53, 0.40, 0.64, 0.60, 0.82, 0.60, 0.60, 0.53, 0.64, 0.34, 0.64, 0.84,
];

/// Whether `c` is a Chinese or Japanese character (or full-width form),
/// which takes a whole em.
fn is_wide(c: char) -> bool {
    matches!(c, '\u{2E80}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FFEF}')
}

/// The widest of `texts` at `size`, in pixels (`at_least` when there are none).
fn widest<S: AsRef<str>>(texts: impl IntoIterator<Item = S>, size: f64, at_least: u32) -> u32 {
    texts
        .into_iter()
        .map(|t| text_px(t.as_ref(), size))
        .max()
        .unwrap_or(at_least)
}

/// How column labels go under a chart.
enum ColumnLabels {
    /// On one line each, as plotters draws them.
    Across,
    /// On up to `MAX_LABEL_LINES` lines each, broken between words.
    Lines(Vec<Vec<String>>),
    /// Turned a quarter, read top to bottom; the widest is `width` pixels.
    Turned { width: u32 },
}

const MAX_LABEL_LINES: usize = 3;

impl ColumnLabels {
    /// Labels whose widest, with `gap` pixels beside it, fits a column
    /// `column` pixels wide go across; else broken between words where every
    /// line fits (`1 very dissatisfied` over two lines under a chart of five
    /// levels); else, as a word wider than the column, turned.
    fn lay_out<S: AsRef<str>>(labels: &[S], size: f64, gap: u32, column: u32) -> Self {
        let room = column.saturating_sub(gap);
        let width = widest(labels, size, 0);
        if width <= room {
            return Self::Across;
        }
        labels
            .iter()
            .map(|l| wrap_balanced(l.as_ref(), size, room))
            .collect::<Option<Vec<_>>>()
            .map_or(Self::Turned { width }, Self::Lines)
    }

    /// The height of the area under the plot they take, in pixels; `across`
    /// when on one line.
    fn area(&self, size: f64, across: u32) -> u32 {
        match self {
            Self::Across => across,
            Self::Lines(lines) => {
                let n = lines.iter().map(Vec::len).max().unwrap_or(1) as f64;
                (n * line_height(size)).ceil() as u32 + 12
            }
            Self::Turned { width } => width + 16,
        }
    }

    /// Whether plotters draws them (the axis' label formatter) or `draw` does.
    fn across(&self) -> bool {
        matches!(self, Self::Across)
    }

    /// Draws labels that do not go across, each starting just below the plot
    /// at `bottom` on the chart's y axis, under the middle of its column.
    fn draw<Y: Ranged, S: AsRef<str>>(
        &self,
        root: &DrawingArea<SVGBackend<'_>, Shift>,
        chart: &ChartContext<'_, SVGBackend<'_>, Cartesian2d<SegmentedCoord<RangedCoordusize>, Y>>,
        labels: &[S],
        bottom: Y::ValueType,
        size: f64,
    ) -> DrawResult<()>
    where
        Y::ValueType: Clone,
    {
        for (c, label) in labels.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(SegmentValue::CenterOf(c), bottom.clone()));
            match self {
                Self::Across => {}
                Self::Lines(lines) => {
                    for (k, line) in lines[c].iter().enumerate() {
                        let y = py + 6 + (k as f64 * line_height(size)).round() as i32;
                        root.draw(&Text::new(
                            line.clone(),
                            (px, y),
                            text_style(size, &INK, HPos::Center, VPos::Top),
                        ))
                        .map_err(err)?;
                    }
                }
                Self::Turned { .. } => {
                    root.draw(&Text::new(
                        label.as_ref().to_string(),
                        // clear of the tick mark at the column's middle
                        (px, py + 9),
                        (FONT, size)
                            .into_font()
                            .color(&INK)
                            .transform(FontTransform::Rotate90)
                            .pos(Pos::new(HPos::Left, VPos::Center)),
                    ))
                    .map_err(err)?;
                }
            }
        }
        Ok(())
    }
}

/// The distance between two lines of text at `size`, in pixels.
fn line_height(size: f64) -> f64 {
    size * 1.2 / 1.24
}

/// `label` broken between words into at most `MAX_LABEL_LINES` lines, each at
/// most `room` pixels wide at `size`; None when a word alone is wider or it
/// takes more lines. Chinese and Japanese, written without spaces, break
/// between any two characters.
fn wrap(label: &str, size: f64, room: u32) -> Option<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    for word in label.split_whitespace() {
        for (i, piece) in breakable_pieces(word).into_iter().enumerate() {
            let gap = if i == 0 { " " } else { "" };
            match lines.last_mut() {
                Some(line) if text_px(&format!("{line}{gap}{piece}"), size) <= room => {
                    line.push_str(gap);
                    line.push_str(piece);
                }
                _ if text_px(piece, size) <= room => lines.push(piece.to_string()),
                _ => return None,
            }
        }
    }
    // An empty label (a NULL category) takes no line.
    (lines.len() <= MAX_LABEL_LINES).then_some(lines)
}

/// `wrap`'s lines made as even as they can be: the narrowest room that
/// breaks `label` into no more lines (`有潜力` over `客户`, not `有潜力客`
/// over `户`; `重要价` over `值客户`).
fn wrap_balanced(label: &str, size: f64, room: u32) -> Option<Vec<String>> {
    let mut lines = wrap(label, size, room)?;
    for narrower in (1..room).rev() {
        match wrap(label, size, narrower) {
            Some(l) if l.len() == lines.len() => lines = l,
            _ => break,
        }
    }
    Some(lines)
}

/// `word` cut where a line may break inside it: before and after every wide
/// (Chinese or Japanese) character; a run of other characters stays whole.
fn breakable_pieces(word: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in word.char_indices() {
        if is_wide(c) {
            if start < i {
                pieces.push(&word[start..i]);
            }
            pieces.push(&word[i..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    if start < word.len() {
        pieces.push(&word[start..]);
    }
    pieces
}

/// The label of a row slot on a chart whose rows read top to bottom: the
/// first label at the top (plotters counts slots from the bottom).
fn top_down(labels: &[String], v: &SegmentValue<usize>) -> String {
    match v {
        SegmentValue::CenterOf(i) => labels
            .len()
            .max(1)
            .checked_sub(1 + *i)
            .and_then(|j| labels.get(j))
            .cloned()
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The text style of labels drawn inside a chart: size, colour, and which
/// point of the text sits at its coordinates.
fn text_style(size: f64, color: &RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT, size).into_font().color(color).pos(Pos::new(h, v))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Horizontal bars, one per label, with the formatted value at the end of each.
pub fn bars(
    title: &str,
    labels: &[String],
    values: &[f64],
    value_text: &dyn Fn(f64) -> String,
) -> DrawResult<String> {
    stacked_bars(title, labels, values, None, value_text)
}

/// Of each bar of [`stacked_bars`], a part drawn apart from the rest, and
/// the names of both for the legend.
pub struct BarParts<'a> {
    pub values: &'a [f64],
    pub name: &'a str,
    pub rest_name: &'a str,
}

/// [`bars`], each bar split where `parts` is given: its part first (orange,
/// from 0), the rest after it (blue), under a legend naming both; the value
/// at the end is the whole bar's.
pub fn stacked_bars(
    title: &str,
    labels: &[String],
    values: &[f64],
    parts: Option<BarParts<'_>>,
    value_text: &dyn Fn(f64) -> String,
) -> DrawResult<String> {
    let n = labels.len().max(1);
    let legend = if parts.is_some() { 26 } else { 0 };
    let height = 60 + 28 * n as u32 + legend;
    let max = values.iter().cloned().fold(0.0, f64::max).max(1e-9);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot, key) = root.split_vertically(height - legend);
        let label_width = widest(labels, NORMAL, 30) + 16;
        // Room for the longest bar's value, written past its end.
        let value_width = widest(
            values.iter().map(|v| format!(" {}", value_text(*v))),
            NORMAL,
            0,
        );
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, (FONT, TITLE).into_font().color(&INK))
            .margin(10)
            .margin_right(value_width.max(10) + 6)
            .x_label_area_size(24)
            .y_label_area_size(label_width.min(260))
            .build_cartesian_2d(0.0..max * 1.02, slots(n))
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_labels(5)
            .x_label_formatter(&|v| value_text(*v))
            .y_labels(n)
            .y_label_formatter(&|v| top_down(labels, v))
            .label_style((FONT, NORMAL).into_font().color(&INK))
            .light_line_style(RGBColor(237, 242, 247))
            .draw()
            .map_err(err)?;
        // Each bar from `from` to `to`, in `color`.
        let bar = |i: usize, from: f64, to: f64, color: RGBColor| {
            let y = n - 1 - i;
            let mut bar = Rectangle::new(
                [
                    (from, SegmentValue::Exact(y)),
                    (to, SegmentValue::Exact(y + 1)),
                ],
                color.filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            bar
        };
        match &parts {
            None => chart
                .draw_series(
                    values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| bar(i, 0.0, *v, BLUE)),
                )
                .map_err(err)?,
            Some(p) => {
                let part = |i: usize| p.values.get(i).copied().unwrap_or(0.0).min(values[i]);
                chart
                    .draw_series((0..values.len()).map(|i| bar(i, 0.0, part(i), ORANGE)))
                    .map_err(err)?;
                chart
                    .draw_series((0..values.len()).map(|i| bar(i, part(i), values[i], BLUE)))
                    .map_err(err)?
            }
        };
        chart
            .draw_series(values.iter().enumerate().map(|(i, v)| {
                Text::new(
                    format!(" {}", value_text(*v)),
                    (*v, SegmentValue::CenterOf(n - 1 - i)),
                    text_style(NORMAL, &INK, HPos::Left, VPos::Center),
                )
            }))
            .map_err(err)?;
        if let Some(p) = &parts {
            // The legend under the plot, from where the bars start.
            let mut x = 10 + label_width.min(260) as i32;
            for (name, color) in [(p.name, ORANGE), (p.rest_name, BLUE)] {
                key.draw(&Rectangle::new([(x, 6), (x + 12, 18)], color.filled()))
                    .map_err(err)?;
                key.draw(&Text::new(
                    name.to_string(),
                    (x + 18, 12),
                    text_style(NORMAL, &INK, HPos::Left, VPos::Center),
                ))
                .map_err(err)?;
                x += 18 + text_px(name, NORMAL) as i32 + 24;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(finish(svg, title))
}

/// `n` equal slots, one per bar, stage or cell. plotters' discrete ranges
/// include their end, so `0..n` would leave an empty slot after the last
/// (the gap and stray tick above a bar chart's first bar). One item keeps
/// two slots: plotters maps a range of one value to no width.
fn slots(n: usize) -> SegmentedCoord<RangedCoordusize> {
    (0..n.max(2) - 1).into_segmented()
}

/// A grid of cells shaded by value (white → blue), with the value written in
/// each cell. The values share one font size, smaller than the axis labels'
/// where the widest would not fit its cell (a cohort grid of 24 months with
/// revenue retention of 105%), down to `MIN_CELL_TEXT`; a value that would
/// not fit even then is left out. `None` cells stay blank. The shade is
/// darkest at `saturate_at` and above, where given (so that one cell of
/// 1000% does not pale the rest), else at the largest value.
pub fn heatmap(
    title: &str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<Option<f64>>],
    value_text: &dyn Fn(f64) -> String,
    saturate_at: Option<f64>,
) -> DrawResult<String> {
    let (nr, nc) = (rows.len().max(1), cols.len().max(1));
    let cell_h = if nr > 20 { 18 } else { 26 };
    let label_width = widest(rows, SMALL, 30) + 16;
    let cell_w = (WIDTH - label_width.min(240) - 30) / nc as u32;
    // Column labels wider than their cells go on several lines, or turned.
    let col_labels = ColumnLabels::lay_out(cols, SMALL, 6, cell_w);
    let x_area = col_labels.area(SMALL, 28);
    let height = 50 + x_area + cell_h * nr as u32;
    let max = saturate_at
        .unwrap_or_else(|| {
            values
                .iter()
                .flatten()
                .flatten()
                .cloned()
                .fold(0.0, f64::max)
        })
        .max(1e-9);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, TITLE).into_font().color(&INK))
            .margin(10)
            .x_label_area_size(x_area)
            .y_label_area_size(label_width.min(240))
            .build_cartesian_2d(slots(nc), slots(nr))
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            // Column labels not across are drawn below, one by one.
            .x_labels(nc)
            .y_labels(nr)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if col_labels.across() => {
                    cols.get(*i).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_label_formatter(&|v| top_down(rows, v))
            .x_label_style((FONT, SMALL).into_font().color(&INK))
            .y_label_style((FONT, SMALL).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        col_labels.draw(&root, &chart, cols, SegmentValue::Exact(0), SMALL)?;
        let value_texts: Vec<Vec<Option<String>>> = values
            .iter()
            .map(|row| row.iter().map(|v| v.map(value_text)).collect())
            .collect();
        let cell_text = cell_text_size(&value_texts, cell_w);
        let mut cells = Vec::new();
        let mut texts = Vec::new();
        for (r, (row, row_texts)) in values.iter().zip(value_texts).enumerate() {
            let y = nr - 1 - r;
            for (c, (v, text)) in row.iter().zip(row_texts).enumerate() {
                let (Some(v), Some(text)) = (v, text) else {
                    continue;
                };
                let t = (v / max).clamp(0.0, 1.0);
                let shade = RGBColor(
                    (255.0 - t * (255.0 - 43.0)) as u8,
                    (255.0 - t * (255.0 - 108.0)) as u8,
                    (255.0 - t * (255.0 - 176.0)) as u8,
                );
                let mut rect = Rectangle::new(
                    [
                        (SegmentValue::Exact(c), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(c + 1), SegmentValue::Exact(y + 1)),
                    ],
                    shade.filled(),
                );
                rect.set_margin(1, 1, 1, 1);
                cells.push(rect);
                if cell_w >= text_px(&text, cell_text) + CELL_PADDING {
                    let color = if t > 0.55 { WHITE } else { INK };
                    texts.push(Text::new(
                        text,
                        (SegmentValue::CenterOf(c), SegmentValue::CenterOf(y)),
                        text_style(cell_text, &color, HPos::Center, VPos::Center),
                    ));
                }
            }
        }
        chart.draw_series(cells).map_err(err)?;
        chart.draw_series(texts).map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(finish(svg, title))
}

/// The smallest font a heatmap writes its values in, and the room left
/// beside a value in its cell, in pixels.
const MIN_CELL_TEXT: f64 = 9.0;
const CELL_PADDING: u32 = 4;

/// The font size of a heatmap's values (`texts`, as written in the cells):
/// `SMALL` where the widest fits a cell `cell_w` pixels wide, else the
/// largest whole size at which it does, but not under `MIN_CELL_TEXT`.
fn cell_text_size(texts: &[Vec<Option<String>>], cell_w: u32) -> f64 {
    let texts: Vec<&String> = texts.iter().flatten().flatten().collect();
    let room = cell_w.saturating_sub(CELL_PADDING);
    let mut size = SMALL;
    while size > MIN_CELL_TEXT && widest(&texts, size, 0) > room {
        size -= 1.0;
    }
    size
}

/// The Pareto curve: cumulative share of revenue against share of customers
/// (both 0-1), with the 80% line and where the curve crosses it.
pub fn pareto(
    title: &str,
    points: &[(f64, f64)],
    x_desc: &str,
    y_desc: &str,
    percent: &dyn Fn(f64) -> String,
) -> DrawResult<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, TITLE).into_font().color(&INK))
            .margin(10)
            .margin_right(30)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| percent(*v))
            .y_label_formatter(&|v| percent(*v))
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style((FONT, NORMAL).into_font().color(&INK))
            .light_line_style(RGBColor(237, 242, 247))
            .draw()
            .map_err(err)?;
        let mut line = vec![(0.0, 0.0)];
        line.extend_from_slice(points);
        chart
            .draw_series(LineSeries::new(line.clone(), BLUE.stroke_width(3)))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, 0.8), (1.0, 0.8)],
                ORANGE.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                "80%",
                (0.01, 0.8),
                text_style(NORMAL, &ORANGE, HPos::Left, VPos::Bottom),
            )))
            .map_err(err)?;
        if let Some(&(x, y)) = line.iter().find(|(_, y)| *y >= 0.8) {
            chart
                .draw_series(std::iter::once(Circle::new((x, y), 5, ORANGE.filled())))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("  {} → {}", percent(x), percent(y)),
                    (x, y),
                    text_style(NORMAL, &INK, HPos::Left, VPos::Top),
                )))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(finish(svg, title))
}

/// A funnel: one centred bar per stage, as wide as its count, labelled with
/// the stage, the count and the conversion from the stage before.
/// The room kept beside a funnel stage's label, in pixels.
const FUNNEL_PADDING: u32 = 6;

pub fn funnel(title: &str, stages: &[(String, f64, String)]) -> DrawResult<String> {
    let n = stages.len().max(1);
    let height = 50 + 44 * n as u32;
    let max = stages.iter().map(|s| s.1).fold(0.0, f64::max).max(1e-9);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, TITLE).into_font().color(&INK))
            .margin(10)
            .build_cartesian_2d(-max / 2.0..max / 2.0, slots(n))
            .map_err(err)?;
        chart
            .draw_series(stages.iter().enumerate().map(|(i, (_, v, _))| {
                let y = n - 1 - i;
                let mut bar = Rectangle::new(
                    [
                        (-v / 2.0, SegmentValue::Exact(y)),
                        (v / 2.0, SegmentValue::Exact(y + 1)),
                    ],
                    BLUE.mix(0.2 + 0.4 * (1.0 - i as f64 / n as f64)).filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))
            .map_err(err)?;
        // A label goes on its bar where it fits there, else right of it
        // where it fits there, else on the bar all the same.
        for (i, (label, v, note)) in stages.iter().enumerate() {
            let text = format!("{label} · {note}");
            let row = SegmentValue::CenterOf(n - 1 - i);
            let (left, y) = chart.backend_coord(&(-v / 2.0, row.clone()));
            let (right, _) = chart.backend_coord(&(v / 2.0, row));
            let width = text_px(&text, NORMAL) + 2 * FUNNEL_PADDING;
            let on_bar = width <= (right - left).max(0) as u32;
            let beside = right.max(0) as u32 + width <= WIDTH;
            let (x, h) = if on_bar || !beside {
                ((left + right) / 2, HPos::Center)
            } else {
                (right + FUNNEL_PADDING as i32, HPos::Left)
            };
            root.draw(&Text::new(
                text,
                (x, y),
                text_style(NORMAL, &INK, h, VPos::Center),
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(finish(svg, title))
}

/// The room between a benchmark's line and its slot's ends, in pixels.
const BENCHMARK_GAP: i32 = 6;

/// One level of [`rates_with_intervals`]: a share, its interval and benchmark.
pub struct Level {
    pub label: String,
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub benchmark: Option<f64>,
}

/// One bar per level with a whisker for its interval, and the benchmark for
/// that level as an orange mark beside the bar. Values are shares (0-1).
pub fn rates_with_intervals(
    title: &str,
    levels: &[Level],
    percent: &dyn Fn(f64) -> String,
    legend: (&str, &str),
) -> DrawResult<String> {
    let n = levels.len().max(1);
    let top = levels
        .iter()
        .flat_map(|l| [l.value, l.high, l.benchmark])
        .flatten()
        .fold(0.0, f64::max)
        .clamp(0.05, 1.0)
        * 1.1;
    // Level names wider than their slots go on several lines, or turned a
    // quarter, under a taller chart, rather than drawn over each other.
    let labels: Vec<&str> = levels.iter().map(|l| l.label.as_str()).collect();
    let level_labels = ColumnLabels::lay_out(&labels, NORMAL, 8, (WIDTH - 20 - 56) / n as u32);
    let x_area = level_labels.area(NORMAL, 32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 348 + x_area)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, TITLE).into_font().color(&INK))
            .margin(10)
            .x_label_area_size(x_area)
            .y_label_area_size(56)
            .build_cartesian_2d(slots(n), 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .y_labels(6)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if level_labels.across() => {
                    labels.get(*i).map(|l| l.to_string()).unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_label_formatter(&|v| percent(*v))
            .label_style((FONT, NORMAL).into_font().color(&INK))
            .light_line_style(RGBColor(237, 242, 247))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(levels.iter().enumerate().filter_map(|(i, l)| {
                let v = l.value?;
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), v),
                    ],
                    BLUE.filled(),
                );
                bar.set_margin(0, 0, 22, 22);
                Some(bar)
            }))
            .map_err(err)?;
        chart
            .draw_series(levels.iter().enumerate().filter_map(|(i, l)| {
                let (v, lo, hi) = (l.value?, l.low?, l.high?);
                Some(ErrorBar::new_vertical(
                    SegmentValue::CenterOf(i),
                    lo,
                    v,
                    hi,
                    INK.stroke_width(2),
                    12,
                ))
            }))
            .map_err(err)?;
        // The benchmark: an orange line across the level's slot, beside the
        // bar, short of the slot's ends, so that two levels' equal
        // benchmarks read as two.
        for (i, l) in levels.iter().enumerate() {
            let Some(b) = l.benchmark else { continue };
            let (start, y) = chart.backend_coord(&(SegmentValue::Exact(i), b));
            let (end, _) = chart.backend_coord(&(SegmentValue::Exact(i + 1), b));
            let ends = [(start + BENCHMARK_GAP, y), (end - BENCHMARK_GAP, y)];
            root.draw(&PathElement::new(ends, ORANGE.stroke_width(3)))
                .map_err(err)?;
        }
        level_labels.draw(&root, &chart, &labels, 0.0, NORMAL)?;
        // The legend: the second name after the first, or under it when the
        // line would run past the chart's edge.
        let (first, second) = (format!("■ {}", legend.0), format!("▬ {}", legend.1));
        let after = 70 + text_px(&first, NORMAL) as i32 + 24;
        let second_at = if after + text_px(&second, NORMAL) as i32 <= WIDTH as i32 - 10 {
            (after.max(260), 34)
        } else {
            (70, 52)
        };
        root.draw(&Text::new(
            first,
            (70, 34),
            (FONT, NORMAL).into_font().color(&BLUE),
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            second,
            second_at,
            (FONT, NORMAL).into_font().color(&ORANGE),
        ))
        .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(finish(svg, title))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64) -> String {
        format!("{v:.0}")
    }

    /// Each `<text>` of `svg`: its text, `x` and `text-anchor`.
    fn texts(svg: &str) -> Vec<(String, f64, String)> {
        svg.split("<text ")
            .skip(1)
            .map(|t| {
                let t = format!(" {t}");
                let attr = |name: &str| {
                    let at = t.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                    t[at..at + t[at..].find('"').unwrap()].to_string()
                };
                let body = &t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()];
                (
                    body.trim().to_string(),
                    attr("x").parse().unwrap(),
                    attr("text-anchor"),
                )
            })
            .collect()
    }

    #[test]
    fn a_funnel_label_wider_than_its_bar_goes_beside_it() {
        let stages = [
            ("Surveyed".to_string(), 600.0, "600".to_string()),
            ("Promoter (9–10)".to_string(), 30.0, "30 (5%)".to_string()),
            (
                "Repurchased within 90 days".to_string(),
                200.0,
                "234,567 (19%)".to_string(),
            ),
        ];
        let svg = funnel("f", &stages).unwrap();
        let t = texts(&svg);
        let find = |label: &str| t.iter().find(|(text, ..)| text.starts_with(label)).unwrap();
        // The plot spans the chart less its margins of 10: 740 pixels for
        // 600, centred at 380. The first label fits its bar, in the middle;
        // the second's bar is 30 / 600 × 740 = 37 pixels wide, so its label
        // starts 6 pixels right of the bar's right end, 380 + 18.5.
        // (Give or take the pixel a place is rounded to.)
        let (_, x, anchor) = find("Surveyed · 600");
        assert_eq!(anchor, "middle");
        assert!((x - 380.0).abs() <= 1.0, "{x}");
        let (_, x, anchor) = find("Promoter (9–10) · 30 (5%)");
        assert_eq!(anchor, "start");
        assert!((x - (380.0 + 18.5 + 6.0)).abs() <= 1.5, "{x}");
        // The third, 284 pixels as estimated and 6 either side, is wider
        // than its bar (247) and than the room right of it (760 − 380 −
        // 123): on the bar.
        let (_, x, anchor) = find("Repurchased within 90 days · 234,567 (19%)");
        assert_eq!(anchor, "middle");
        assert!((x - 380.0).abs() <= 1.0, "{x}");
    }

    #[test]
    fn charts_are_accessible_svg() {
        let svg = bars(
            "Customers <per> segment",
            &["A".into(), "B".into()],
            &[3.0, 1.0],
            &num,
        )
        .unwrap();
        assert!(
            svg.starts_with("<svg role=\"img\" aria-label=\"Customers &lt;per&gt; segment\""),
            "{svg}"
        );
        assert!(svg.contains("<title>Customers &lt;per&gt; segment</title>"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn column_labels_break_between_words_before_they_turn() {
        // At 15, text_px counts each character's DejaVu Sans width × 15 /
        // 1.24 px: "1 very dissatisfied" is 9.23 em (1 0.64, space 0.32, v
        // 0.60, e 0.62, r 0.42, y 0.60, …), 112 px, more than a slot of
        // 100; "1 very" (3.20 em, 39 px) and "dissatisfied" (5.71 em, 70
        // px) each fit.
        assert_eq!(
            wrap("1 very dissatisfied", NORMAL, 100),
            Some(vec!["1 very".to_string(), "dissatisfied".to_string()])
        );
        let levels = ["1 very dissatisfied", "3 neutral"];
        match ColumnLabels::lay_out(&levels, NORMAL, 8, 108) {
            ColumnLabels::Lines(lines) => {
                assert_eq!(lines, [vec!["1 very", "dissatisfied"], vec!["3 neutral"]])
            }
            _ => panic!("expected the labels on several lines"),
        }
        // Both fit a slot of 120 (112 + 8) on one line.
        assert!(ColumnLabels::lay_out(&levels, NORMAL, 8, 120).across());
        // A word wider than its slot (70 px in 60), or a label that would
        // take more than three lines (`a b` is 20 px), turns.
        assert_eq!(wrap("dissatisfied", NORMAL, 60), None);
        assert_eq!(wrap("a b c d", NORMAL, 10), None);
        // An empty label beside a long one does not turn them all.
        assert!(matches!(
            ColumnLabels::lay_out(&["", "1 very dissatisfied"], NORMAL, 8, 108),
            ColumnLabels::Lines(_)
        ));
        // "Potential" alone is 4.47 em, at 14 51 px: more than 52 - 6.
        assert!(matches!(
            ColumnLabels::lay_out(&["Potential Loyalists"], SMALL, 6, 52),
            ColumnLabels::Turned { .. }
        ));
    }

    #[test]
    fn text_is_measured_by_each_character() {
        // Narrow letters take less than wide ones: `il` 0.56 em, `MW` 1.86;
        // at 12.4 (10 px type) 6 and 19 px. A Chinese character, and any
        // other outside ASCII, a whole em: 10 px.
        assert_eq!(text_px("il", 12.4), 6);
        assert_eq!(text_px("MW", 12.4), 19);
        assert_eq!(text_px("客", 12.4), 10);
        assert_eq!(text_px("→", 12.4), 10);
    }

    #[test]
    fn chinese_labels_break_between_characters() {
        // At 14 a Chinese character counts 14 / 1.24 = 11.3 px: four take 46,
        // five 57. Chinese is written without spaces; Latin runs stay whole.
        assert_eq!(breakable_pieces("ab重要cd"), ["ab", "重", "要", "cd"]);
        assert_eq!(
            wrap("重要价值客户", SMALL, 46),
            Some(vec!["重要价值".to_string(), "客户".to_string()])
        );
        // "1" (0.64 em) and a space (0.32), then the characters (1 em each):
        // "1 非常" is 2.96 em, 34 px; "1 非常不" 3.96 em, 45 px.
        assert_eq!(
            wrap("1 非常不满意", SMALL, 44),
            Some(vec!["1 非常".to_string(), "不满意".to_string()])
        );
        // Under a chart the lines are made even: 3 and 2 characters, not 4
        // and 1; 3 and 3; one line where it fits.
        match ColumnLabels::lay_out(&["有潜力客户", "重要价值客户", "新客户"], SMALL, 6, 52)
        {
            ColumnLabels::Lines(lines) => assert_eq!(
                lines,
                [
                    vec!["有潜力", "客户"],
                    vec!["重要价", "值客户"],
                    vec!["新客户"]
                ]
            ),
            _ => panic!("expected the labels on several lines"),
        }
    }

    #[test]
    fn equal_benchmarks_of_two_levels_are_two_lines() {
        let level = |benchmark: f64| Level {
            label: "x".into(),
            value: Some(0.5),
            low: Some(0.4),
            high: Some(0.6),
            benchmark: Some(benchmark),
        };
        let pct = |v: f64| format!("{:.0}%", v * 100.0);
        let svg = rates_with_intervals("C", &[level(0.8), level(0.8)], &pct, ("Y", "B")).unwrap();
        // The orange lines' ends, from their `points`.
        let lines: Vec<Vec<f64>> = (svg.split("<polyline ").skip(1))
            .filter(|p| p.contains("stroke=\"#DD6B20\""))
            .map(|p| {
                let at = p.find("points=\"").unwrap() + 8;
                (p[at..at + p[at..].find('"').unwrap()].split([' ', ',']))
                    .filter(|n| !n.is_empty())
                    .map(|n| n.parse().unwrap())
                    .collect()
            })
            .collect();
        assert_eq!(lines.len(), 2, "{svg}");
        // Each stops 6 pixels short of the slots' shared end: 12 apart, at
        // the same height.
        assert_eq!(lines[1][0] - lines[0][2], 12.0, "{lines:?}");
        assert_eq!(lines[0][1], lines[1][1]);
    }

    #[test]
    fn the_bundled_levels_go_across_under_the_interval_chart() {
        let level = |label: &str| Level {
            label: label.into(),
            value: Some(0.5),
            low: Some(0.4),
            high: Some(0.6),
            benchmark: Some(0.3),
        };
        let levels = [
            "1 very dissatisfied",
            "2 dissatisfied",
            "3 neutral",
            "4 satisfied",
            "5 very satisfied",
        ]
        .map(level);
        let pct = |v: f64| format!("{:.0}%", v * 100.0);
        let svg = rates_with_intervals("Churn", &levels, &pct, ("Yours", "Book")).unwrap();
        // Slots of (760 - 76) / 5 = 136 px, 128 with the gap: the widest
        // level, "1 very dissatisfied" (112 px), fits on one line.
        for line in ["1 very dissatisfied", "2 dissatisfied", "5 very satisfied"] {
            assert!(
                svg.contains(&format!(">\n{line}\n</text>")),
                "{line}: {svg}"
            );
        }
        assert!(!svg.contains("rotate"), "{svg}");
    }
}
