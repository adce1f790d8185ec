//! Reports: minijinja templates rendered with the finished step tables (as
//! rows of typed values), the params and run metadata in scope; formatting
//! filters and chart functions for templates; translations.
//!
//! Only the tables a template names are collected, and each must be small
//! (a summary, not a per-customer table): see [`MAX_REPORT_ROWS`].

pub mod charts;
pub mod columns;
pub mod format;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use minijinja::value::Kwargs;
use minijinja::{AutoEscape, Environment, ErrorKind, State, UndefinedBehavior, Value};

use crate::error::{Error, Result};
use crate::params::{describe_template_error, map_value, refuse_undefined};
pub use format::{Formatter, Locale, Translations};

/// The most rows of one table a report may take.
pub const MAX_REPORT_ROWS: usize = 10_000;

/// Where chart functions put their SVG.
#[derive(Debug, Clone)]
pub enum ChartMode {
    /// Returned as inline `<svg>` (HTML reports).
    Inline,
    /// Written as files in `folder` beside the report; the function returns
    /// the relative path (Markdown reports link to it).
    Files { folder: String },
}

/// The chart files a report rendered, as (path relative to the report, SVG).
#[derive(Debug, Clone, Default)]
pub struct ChartFiles(Arc<Mutex<Vec<(String, String)>>>);

impl ChartFiles {
    pub fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.0.lock().expect("chart list lock"))
    }
}

/// What a report is rendered with besides its data.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    pub locale: Locale,
    pub currency: String,
    pub charts: ChartMode,
}

/// The environment for one report template: templates load from its folder
/// (so partials and `{% include %}` work), undefined names are errors,
/// `*.html.j2` output is HTML-escaped, and the formatting filters, `t()`,
/// `delta()` and chart functions are registered.
pub fn environment(
    template_dir: &Path,
    settings: &ReportSettings,
    translations: Translations,
    chart_files: ChartFiles,
) -> Environment<'static> {
    let mut env = base_environment(template_dir);
    let fmt = Arc::new(Formatter {
        locale: settings.locale,
        currency: settings.currency.clone(),
    });
    let tr = Arc::new(translations);
    let locale = settings.locale;

    // `x|num`, `x|money`, `x|pct` (and a number of digits): `–` for NULL.
    type ShowNumber = fn(&Formatter, f64, usize) -> String;
    let numbers: [(&'static str, usize, ShowNumber); 3] = [
        ("num", 0, Formatter::number),
        ("money", 0, Formatter::money),
        ("pct", 1, Formatter::percent),
    ];
    for (name, default_digits, show) in numbers {
        let f = fmt.clone();
        env.add_filter(
            name,
            move |state: &State, v: Value, digits: Option<usize>| {
                defined(state, &v, name)?;
                let digits = digits.unwrap_or(default_digits);
                Ok::<_, minijinja::Error>(
                    format::as_f64(&v).map_or_else(|| "–".to_string(), |x| show(&f, x, digits)),
                )
            },
        );
    }
    // `x|date`, `x|datetime`, `x|month`: `–` for NULL, text not a date as is.
    // `datetime` shows a date without a time of day (a DATE column) as a day.
    type ShowDate = fn(&Formatter, &Value) -> Option<String>;
    let dates: [(&'static str, ShowDate); 3] = [
        ("date", |f, v| format::as_date(v).map(|d| f.date(d))),
        ("datetime", |f, v| match format::as_datetime(v) {
            Some(d) => Some(f.datetime(d)),
            None => format::as_date(v).map(|d| f.date(d)),
        }),
        ("month", |f, v| format::as_date(v).map(|d| f.month(d))),
    ];
    for (name, show) in dates {
        let f = fmt.clone();
        env.add_filter(name, move |state: &State, v: Value| {
            defined(state, &v, name)?;
            Ok::<_, minijinja::Error>(shown(&v, show(&f, &v)))
        });
    }
    let f = fmt.clone();
    env.add_function(
        "delta",
        move |state: &State,
              current: Value,
              previous: Value,
              kind: Option<String>,
              digits: Option<usize>| {
            defined(state, &current, "delta")?;
            defined(state, &previous, "delta")?;
            let kind = kind.as_deref().unwrap_or("pct");
            if !DELTA_KINDS.contains(&kind) {
                return Err(bad(one_of("`delta()`'s kind", kind, &DELTA_KINDS)));
            }
            Ok::<_, minijinja::Error>(
                match (format::as_f64(&current), format::as_f64(&previous)) {
                    (Some(c), Some(p)) => f.delta(c, p, kind, digits.unwrap_or(1)),
                    _ => "–".to_string(),
                },
            )
        },
    );
    let t = tr.clone();
    // `t(key, name=value, …)`: the text for `key` with `{name}` filled in;
    // `default=` is used when the report's locale has no text for the key.
    env.add_function(
        "t",
        move |state: &State, key: String, kwargs: Kwargs| -> Result<String, minijinja::Error> {
            let default: Option<String> = kwargs.get("default")?;
            // The form for one (`<key>_one`) or none (`<key>_zero`), where
            // the count is 1 or 0 and the locale has one. The count is `n`,
            // else `days` (a period of one day is said as a day).
            let n: Option<Value> = match kwargs.get("n")? {
                Some(n) => Some(n),
                None => kwargs.get("days")?,
            };
            let form = match n.map(|n| n.to_string()).as_deref() {
                Some("1") => Some(format!("{key}_one")),
                Some("0") => Some(format!("{key}_zero")),
                _ => None,
            };
            let key = match form {
                Some(form) if t.lookup(locale, &form).is_some() => form,
                _ => key,
            };
            let mut text = match (t.lookup(locale, &key), default) {
                (Some(s), _) => s.to_string(),
                (None, Some(d)) => d,
                (None, None) => t.get(locale, &key).to_string(),
            };
            for name in kwargs.args().filter(|n| *n != "default") {
                let v: Value = kwargs.get(name)?;
                defined(state, &v, "t")?;
                text = text.replace(&format!("{{{name}}}"), &v.to_string());
            }
            Ok(text)
        },
    );
    env.add_global("locale", locale.code());
    // `text|lines`: the non-empty lines of a text as plain strings (so HTML
    // output escapes them again, whatever produced them).
    env.add_filter("lines", |v: Value| -> Vec<String> {
        v.to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    });

    let ctx = Arc::new(ChartContext {
        fmt,
        tr,
        locale,
        mode: settings.charts.clone(),
        files: chart_files,
    });
    let c = ctx.clone();
    env.add_function("bar_chart", move |rows: Value, kw: Kwargs| {
        c.bar_chart(&rows, &kw)
    });
    let c = ctx.clone();
    env.add_function("heatmap", move |rows: Value, kw: Kwargs| {
        c.heatmap(&rows, &kw)
    });
    let c = ctx.clone();
    env.add_function("pareto_chart", move |rows: Value, kw: Kwargs| {
        c.pareto(&rows, &kw)
    });
    let c = ctx.clone();
    env.add_function("funnel_chart", move |rows: Value, kw: Kwargs| {
        c.funnel(&rows, &kw)
    });
    let c = ctx;
    env.add_function("interval_chart", move |rows: Value, kw: Kwargs| {
        c.intervals(&rows, &kw)
    });
    env
}

/// The environment and settings for one of the pipeline's reports: HTML
/// reports get inline charts, others get chart files in a folder named after
/// the report (`report.md` → `report_charts/`). The currency comes from the
/// `currency` param (default USD).
pub fn for_report(
    rep: &crate::plan::ReportPlan,
    params: &crate::params::Params,
) -> Result<(Environment<'static>, ChartFiles)> {
    let charts = if rep.format() == "html" {
        ChartMode::Inline
    } else {
        let file = crate::storage::file_name(&rep.url);
        let stem = file.split('.').next().unwrap_or("report");
        ChartMode::Files {
            folder: format!("{stem}_charts"),
        }
    };
    let currency = match params.get("currency") {
        Some(crate::params::ParamValue::Str(c)) => c.clone(),
        _ => "USD".to_string(),
    };
    let settings = ReportSettings {
        locale: rep.locale,
        currency,
        charts,
    };
    let files = ChartFiles::default();
    let translations = Translations::load(rep.template_dir())?;
    Ok((
        environment(rep.template_dir(), &settings, translations, files.clone()),
        files,
    ))
}

/// The auto-escape of Markdown templates (`*.md.j2`).
const MARKDOWN: &str = "markdown";

fn base_environment(template_dir: &Path) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_loader(minijinja::path_loader(template_dir));
    env.set_auto_escape_callback(|name| {
        let name = name.trim_end_matches(".j2").trim_end_matches(".jinja");
        if name.ends_with(".html") || name.ends_with(".htm") || name.ends_with(".svg") {
            AutoEscape::Html
        } else if name.ends_with(".md") {
            AutoEscape::Custom(MARKDOWN.into())
        } else {
            AutoEscape::None
        }
    });
    // Markdown reports escape what they print, as HTML reports do: a segment
    // named `VIP | Gold` would otherwise split its table row and move the
    // figures after it under the wrong columns.
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), AutoEscape::Custom(name) if name == MARKDOWN)
            && !value.is_safe()
        {
            out.write_str(&format::escape_markdown(&value.to_string()))
                .map_err(minijinja::Error::from)
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env
}

/// What chart functions need: formatting, translations and where SVG goes.
struct ChartContext {
    fmt: Arc<Formatter>,
    tr: Arc<Translations>,
    locale: Locale,
    mode: ChartMode,
    files: ChartFiles,
}

type FnResult = Result<Value, minijinja::Error>;

/// A date or time as a filter shows it: formatted, `–` when there is none
/// (a NULL from the tables), or as given when it is not a date at all.
fn shown(v: &Value, formatted: Option<String>) -> String {
    match formatted {
        Some(s) => s,
        None if v.is_none() || v.is_undefined() => "–".into(),
        None => v.to_string(),
    }
}

/// A formatting filter (or `delta()`) shows a NULL as `–`, and `t()` fills
/// in a value as text, but an undefined value is a name the row or table
/// does not have (`r.churn_rat|pct`): an error, not a dash or a gap in the
/// report ([`refuse_undefined`]).
fn defined(state: &State, v: &Value, filter: &str) -> Result<(), minijinja::Error> {
    refuse_undefined(state, v, filter, " (a column its row does not have?)")
}

/// The `format=` values a chart takes.
const CHART_FORMATS: [&str; 4] = ["num", "money", "pct", "pct1"];

/// The kinds `delta()` takes.
const DELTA_KINDS: [&str; 4] = ["pct", "pp", "num", "money"];

/// "`what` `pcnt` is not one of `num`, …; did you mean `pct`?"
fn one_of(what: &str, given: &str, known: &[&str]) -> String {
    let hint = crate::error::suggest(given, known.iter().copied())
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    format!(
        "{what} `{given}` is not one of {}{hint}",
        crate::text::code_list(known)
    )
}

fn bad(msg: impl Into<String>) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The distinct values of `keys` as text, sorted by `order` (the smallest
/// order value seen with each key) where given, else in order of appearance.
fn ordered_keys(keys: &[Value], order: Option<Vec<Option<f64>>>) -> Vec<String> {
    let mut seen: Vec<(String, f64)> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let key = k.to_string();
        let rank = order
            .as_ref()
            .and_then(|o| o[i])
            .unwrap_or(seen.len() as f64);
        match seen.iter_mut().find(|(s, _)| *s == key) {
            Some(entry) => entry.1 = entry.1.min(rank),
            None => seen.push((key, rank)),
        }
    }
    if order.is_some() {
        seen.sort_by(|a, b| a.1.total_cmp(&b.1));
    }
    seen.into_iter().map(|(k, _)| k).collect()
}

/// Each row's `column`, for a chart.
fn column(rows: &Value, name: &str) -> Result<Vec<Value>, minijinja::Error> {
    let iter = rows.try_iter().map_err(|_| {
        bad(format!(
            "a chart needs a table (a list of rows), got `{rows}`"
        ))
    })?;
    iter.map(|row| {
        let v = row.get_attr(name)?;
        if v.is_undefined() {
            Err(bad(format!("the table has no column `{name}`")))
        } else {
            Ok(v)
        }
    })
    .collect()
}

fn numbers(rows: &Value, name: &str) -> Result<Vec<Option<f64>>, minijinja::Error> {
    Ok(column(rows, name)?.iter().map(format::as_f64).collect())
}

impl ChartContext {
    /// A row's label for a chart: dates as months or days in the report's
    /// language, and translated with the `prefix` (e.g. `segment.`) if given.
    fn label(&self, v: &Value, prefix: &Option<String>) -> Result<String, minijinja::Error> {
        self.label_dated(v, prefix, false)
    }

    /// [`Self::label`], with `days` writing every date as a day: a month's
    /// first day too, which is otherwise the month it starts.
    fn label_dated(
        &self,
        v: &Value,
        prefix: &Option<String>,
        days: bool,
    ) -> Result<String, minijinja::Error> {
        let raw = match (format::as_date(v), v.as_str()) {
            (Some(d), Some(s)) if s.len() >= 10 => {
                if s.get(8..10) == Some("01") && !days {
                    self.fmt.month(d)
                } else {
                    self.fmt.date(d)
                }
            }
            _ => v.to_string(),
        };
        Ok(match prefix {
            Some(p) => self.tr.get(self.locale, &format!("{p}{raw}")).to_string(),
            None => raw,
        })
    }

    /// How a chart writes its values: `format=` `num` (the default),
    /// `money`, `pct` or `pct1`; another is an error, not numbers written
    /// as counts (a share of 0.33 as `0`).
    fn value_text(
        &self,
        kind: Option<&str>,
    ) -> Result<Box<dyn Fn(f64) -> String + '_>, minijinja::Error> {
        Ok(match kind.unwrap_or("num") {
            "num" => Box::new(|v| self.fmt.number(v, 0)),
            "money" => Box::new(|v| self.fmt.money(v, 0)),
            "pct" => Box::new(|v| self.fmt.percent(v, 0)),
            "pct1" => Box::new(|v| self.fmt.percent(v, 1)),
            other => return Err(bad(one_of("a chart's `format`", other, &CHART_FORMATS))),
        })
    }

    /// Draws a chart (a panic in the drawing library becomes an error naming
    /// the chart) and returns it inline or as a file path.
    fn emit(&self, title: &str, draw: impl FnOnce() -> Result<String, String>) -> FnResult {
        let svg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(draw))
            .unwrap_or_else(|_| Err("the chart library failed on this data".to_string()))
            .map_err(|e| bad(format!("chart `{title}`: {e}")))?;
        match &self.mode {
            ChartMode::Inline => Ok(Value::from_safe_string(svg)),
            ChartMode::Files { folder } => {
                let mut files = self.files.0.lock().expect("chart list lock");
                let slug: String = title
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '-'
                        }
                    })
                    .collect::<String>()
                    .split('-')
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("-");
                let name = format!(
                    "{folder}/{:02}-{}.svg",
                    files.len() + 1,
                    if slug.is_empty() { "chart" } else { &slug }
                );
                files.push((name.clone(), svg));
                // A link target as written, not text to escape.
                Ok(Value::from_safe_string(name))
            }
        }
    }

    /// `bar_chart(rows, label=…, value=…, title=…, format="num"|"money"|"pct", translate="prefix.")`;
    /// with `part=…, part_name=…, rest_name=…`, each bar split into that
    /// column's part and the rest, under a legend naming both.
    fn bar_chart(&self, rows: &Value, kw: &Kwargs) -> FnResult {
        let title: String = kw.get("title")?;
        let translate: Option<String> = kw.get("translate")?;
        let label: String = kw.get("label")?;
        let value: String = kw.get("value")?;
        let kind: Option<String> = kw.get("format")?;
        let labels = column(rows, &label)?
            .iter()
            .map(|v| self.label(v, &translate))
            .collect::<Result<Vec<_>, _>>()?;
        let zero_for_none =
            |v: Vec<Option<f64>>| -> Vec<f64> { v.into_iter().map(|v| v.unwrap_or(0.0)).collect() };
        let values = zero_for_none(numbers(rows, &value)?);
        // The part's values and the legend's two names.
        let part: Option<(Vec<f64>, String, String)> = match kw.get::<Option<String>>("part")? {
            Some(col) => Some((
                zero_for_none(numbers(rows, &col)?),
                kw.get("part_name")?,
                kw.get("rest_name")?,
            )),
            None => None,
        };
        kw.assert_all_used()?;
        let text = self.value_text(kind.as_deref())?;
        let parts = part
            .as_ref()
            .map(|(values, name, rest_name)| charts::BarParts {
                values,
                name,
                rest_name,
            });
        self.emit(&title, || {
            charts::stacked_bars(&title, &labels, &values, parts, &*text)
        })
    }

    /// `heatmap(rows, row=…, col=…, value=…, title=…, format=…, translate=…,
    /// translate_cols=…, row_order=…, col_order=…, saturate_at=…,
    /// day_labels=…)`: rows and columns in the order of the numeric
    /// `row_order`/`col_order` columns where given, else in order of first
    /// appearance; cells shaded up to `saturate_at` where given, else up to
    /// the largest value. With `day_labels=true` dates are labelled as days,
    /// where a month's first day otherwise stands for the month.
    fn heatmap(&self, rows: &Value, kw: &Kwargs) -> FnResult {
        let title: String = kw.get("title")?;
        let translate: Option<String> = kw.get("translate")?;
        let translate_cols: Option<String> = kw.get("translate_cols")?;
        let r = column(rows, &kw.get::<String>("row")?)?;
        let c = column(rows, &kw.get::<String>("col")?)?;
        let v = numbers(rows, &kw.get::<String>("value")?)?;
        let kind: Option<String> = kw.get("format")?;
        let saturate_at: Option<f64> = kw.get("saturate_at")?;
        let days = kw.get::<Option<bool>>("day_labels")?.unwrap_or(false);
        let order_of = |key: &str| -> Result<Option<Vec<Option<f64>>>, minijinja::Error> {
            kw.get::<Option<String>>(key)?
                .map(|col| numbers(rows, &col))
                .transpose()
        };
        let row_keys = ordered_keys(&r, order_of("row_order")?);
        let col_keys = ordered_keys(&c, order_of("col_order")?);
        let mut grid = vec![vec![None; col_keys.len()]; row_keys.len()];
        for i in 0..r.len() {
            let ri = row_keys.iter().position(|k| *k == r[i].to_string());
            let ci = col_keys.iter().position(|k| *k == c[i].to_string());
            if let (Some(ri), Some(ci)) = (ri, ci) {
                grid[ri][ci] = v[i];
            }
        }
        let row_labels = row_keys
            .iter()
            .map(|k| self.label_dated(&Value::from(k.as_str()), &translate, days))
            .collect::<Result<Vec<_>, _>>()?;
        let col_labels = col_keys
            .iter()
            .map(|k| self.label_dated(&Value::from(k.as_str()), &translate_cols, days))
            .collect::<Result<Vec<_>, _>>()?;
        kw.assert_all_used()?;
        let text = self.value_text(kind.as_deref())?;
        self.emit(&title, || {
            charts::heatmap(&title, &row_labels, &col_labels, &grid, &*text, saturate_at)
        })
    }

    /// `pareto_chart(rows, x=…, y=…, title=…, x_desc=…, y_desc=…)`, shares 0-1.
    fn pareto(&self, rows: &Value, kw: &Kwargs) -> FnResult {
        let title: String = kw.get("title")?;
        let x: String = kw.get("x")?;
        let y: String = kw.get("y")?;
        let x_desc: String = kw.get("x_desc")?;
        let y_desc: String = kw.get("y_desc")?;
        let points: Vec<(f64, f64)> = numbers(rows, &x)?
            .into_iter()
            .zip(numbers(rows, &y)?)
            .filter_map(|(a, b)| Some((a?, b?)))
            .collect();
        kw.assert_all_used()?;
        let pct = |v: f64| self.fmt.percent(v, 0);
        self.emit(&title, || {
            charts::pareto(&title, &points, &x_desc, &y_desc, &pct)
        })
    }

    /// `funnel_chart(rows, label=…, value=…, rate=…, title=…, translate=…)`:
    /// each stage labelled with its count and `rate` (conversion) as a percentage.
    fn funnel(&self, rows: &Value, kw: &Kwargs) -> FnResult {
        let title: String = kw.get("title")?;
        let translate: Option<String> = kw.get("translate")?;
        let label: String = kw.get("label")?;
        let value: String = kw.get("value")?;
        let rate: String = kw.get("rate")?;
        let labels = column(rows, &label)?;
        let values = numbers(rows, &value)?;
        let rates = numbers(rows, &rate)?;
        let mut stages = Vec::new();
        for i in 0..labels.len() {
            let v = values[i].unwrap_or(0.0);
            let note = match (i, rates[i]) {
                (0, _) | (_, None) => self.fmt.number(v, 0),
                (_, Some(r)) => format!("{} ({})", self.fmt.number(v, 0), self.fmt.percent(r, 0)),
            };
            stages.push((self.label(&labels[i], &translate)?, v, note));
        }
        kw.assert_all_used()?;
        self.emit(&title, || charts::funnel(&title, &stages))
    }

    /// `interval_chart(rows, label=…, value=…, low=…, high=…, benchmark=…,
    /// title=…, value_name=…, benchmark_name=…)`, shares 0-1.
    fn intervals(&self, rows: &Value, kw: &Kwargs) -> FnResult {
        let title: String = kw.get("title")?;
        let translate: Option<String> = kw.get("translate")?;
        let label: String = kw.get("label")?;
        let labels = column(rows, &label)?;
        let value = numbers(rows, &kw.get::<String>("value")?)?;
        let low = numbers(rows, &kw.get::<String>("low")?)?;
        let high = numbers(rows, &kw.get::<String>("high")?)?;
        let bench = numbers(rows, &kw.get::<String>("benchmark")?)?;
        let value_name: String = kw.get("value_name")?;
        let bench_name: String = kw.get("benchmark_name")?;
        let mut levels = Vec::new();
        for i in 0..labels.len() {
            levels.push(charts::Level {
                label: self.label(&labels[i], &translate)?,
                value: value[i],
                low: low[i],
                high: high[i],
                benchmark: bench[i],
            });
        }
        kw.assert_all_used()?;
        let pct = |v: f64| self.fmt.percent(v, 0);
        self.emit(&title, || {
            charts::rates_with_intervals(&title, &levels, &pct, (&value_name, &bench_name))
        })
    }
}

/// A report ready to render: its environment, every template it reaches
/// loaded and parsed, and the step tables they mention.
pub struct PreparedReport {
    pub env: Environment<'static>,
    pub charts: ChartFiles,
    /// The steps whose tables the template, or a template it includes,
    /// imports or extends, mentions, in plan order.
    pub tables: Vec<String>,
}

/// Loads a report's translations and templates before anything runs, so a
/// template that cannot be parsed, or a `translations.yaml` that cannot be
/// read, stops the run at once (a configuration error), not after every
/// step has run.
pub fn prepare(
    rep: &crate::plan::ReportPlan,
    params: &crate::params::Params,
    step_names: &[String],
) -> Result<PreparedReport> {
    let config = |e: Error| Error::Config {
        message: match e {
            Error::Run(message) => message,
            e => e.to_string(),
        },
    };
    let (env, charts) = for_report(rep, params).map_err(config)?;
    let tables = tables_needed(&env, rep.template_name(), step_names).map_err(config)?;
    check_names(&env, rep.template_name(), step_names)?;
    check_params(&env, rep.template_name(), params)?;
    Ok(PreparedReport {
        env,
        charts,
        tables,
    })
}

/// The names a report's context holds besides its step tables.
const CONTEXT_NAMES: [&str; 2] = ["params", "run"];

/// Refuses a template that reads a name nothing defines (a misspelt step,
/// `parms`): rendering would fail on it after every step had run. A name
/// the template tests with `is defined` is allowed (a template shared by
/// pipelines with different steps). Templates it includes are not checked:
/// they may read what the including template sets.
fn check_names(env: &Environment<'_>, template: &str, step_names: &[String]) -> Result<()> {
    let Ok(tmpl) = env.get_template(template) else {
        return Ok(());
    };
    let source = tmpl.source();
    let globals: Vec<&str> = env.globals().map(|(name, _)| name).collect();
    let known = || {
        (step_names.iter().map(String::as_str))
            .chain(CONTEXT_NAMES)
            .chain(globals.iter().copied())
    };
    let mut unknown: Vec<String> = (tmpl.undeclared_variables(false).into_iter())
        .filter(|name| !known().any(|k| k == name) && !tested(source, name))
        .collect();
    unknown.sort();
    let Some(name) = unknown.first() else {
        return Ok(());
    };
    let line = line_of(source, name);
    let hint = match crate::error::suggest(name, known()) {
        Some(s) => format!("; did you mean `{s}`?"),
        None => format!(" (for a step the pipeline may lack, test it with `{name} is defined`)"),
    };
    Err(Error::Config {
        message: format!(
            "report template `{template}`{line}: `{name}` is not a step of this pipeline, \
             `params`, `run` or a function{hint}"
        ),
    })
}

/// Refuses a template that reads a param the pipeline does not declare
/// (`params.churn_dayz`, or a param of the bundled pipeline that this one
/// lacks): it would read as undefined, and rendering would fail, or leave a
/// figure out, after every step had run. A param tested with `is defined`
/// is allowed. Templates it includes are not checked, as in `check_names`.
fn check_params(
    env: &Environment<'_>,
    template: &str,
    params: &crate::params::Params,
) -> Result<()> {
    let Ok(tmpl) = env.get_template(template) else {
        return Ok(());
    };
    let source = tmpl.source();
    let mut unknown: Vec<String> = (tmpl.undeclared_variables(true).into_iter())
        .filter_map(|path| Some(path.strip_prefix("params.")?.split('.').next()?.to_string()))
        .filter(|name| params.get(name).is_none() && !tested(source, &format!("params.{name}")))
        .collect();
    unknown.sort();
    let Some(name) = unknown.first() else {
        return Ok(());
    };
    let line = line_of(source, &format!("params.{name}"));
    let hint = match crate::error::suggest(name, params.0.keys().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`? Or declare"),
        None => "declare".to_string(),
    };
    Err(Error::Config {
        message: format!(
            "report template `{template}`{line}: `params.{name}` is not a param of this \
             pipeline; {hint} it under `params:` in the pipeline file"
        ),
    })
}

/// Whether `source` tests `name` with `is defined` or `is undefined`, as a
/// template does around a table the pipeline may lack.
fn tested(source: &str, name: &str) -> bool {
    word_positions(source, name).iter().any(|&at| {
        let after = source[at + name.len()..].trim_start();
        ["is defined", "is not defined", "is undefined"]
            .iter()
            .any(|t| after.starts_with(t))
    })
}

/// `: line N` for the first line of `source` where `word` stands, for an
/// error about it; nothing where it stands nowhere.
fn line_of(source: &str, word: &str) -> String {
    (source.lines())
        .position(|l| contains_word(l, word))
        .map(|i| format!(": line {}", i + 1))
        .unwrap_or_default()
}

fn contains_word(text: &str, word: &str) -> bool {
    !word_positions(text, word).is_empty()
}

/// Where `word` stands in `text` as a whole identifier.
fn word_positions(text: &str, word: &str) -> Vec<usize> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word)
        .map(|(at, _)| at)
        .filter(|&at| !text[..at].ends_with(ident) && !text[at + word.len()..].starts_with(ident))
        .collect()
}

/// The step tables `template` mentions, or a template it reaches with
/// `include`, `import`, `from` or `extends` by a literal name: each must be
/// in the context when it renders.
fn tables_needed(
    env: &Environment<'_>,
    template: &str,
    step_names: &[String],
) -> Result<Vec<String>> {
    let mut used: HashSet<String> = HashSet::new();
    for (name, loaded) in templates_reached(env, template) {
        let tmpl = match loaded {
            Ok(tmpl) => tmpl,
            // `{% include "x" ignore missing %}`: rendering decides.
            Err(e) if name != template && e.kind() == ErrorKind::TemplateNotFound => continue,
            Err(e) => return Err(template_error(&name, &e)),
        };
        used.extend(tmpl.undeclared_variables(false));
    }
    Ok(step_names
        .iter()
        .filter(|s| used.contains(*s))
        .cloned()
        .collect())
}

/// `template` and each template it reaches by a literal name (`include`,
/// `import`, `from`, `extends`), once each, depth first: each name with
/// what loading it gave.
fn templates_reached<'e>(
    env: &'e Environment<'_>,
    template: &str,
) -> Vec<(
    String,
    std::result::Result<minijinja::Template<'e, 'e>, minijinja::Error>,
)> {
    let mut reached = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut pending = vec![template.to_string()];
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let loaded = env.get_template(&name);
        if let Ok(tmpl) = &loaded {
            pending.extend(templates_named_in(tmpl.source()));
        }
        reached.push((name, loaded));
    }
    reached
}

/// The templates a template's source names as literals in `include`,
/// `import`, `from … import` and `extends` tags.
fn templates_named_in(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    for tag in source.split("{%").skip(1) {
        let tag = tag.split("%}").next().unwrap_or("");
        let tag = tag.trim_start_matches(['-', '+']).trim_start();
        let Some(rest) = ["include", "import", "from", "extends"]
            .iter()
            .find_map(|kw| {
                tag.strip_prefix(kw)
                    .filter(|r| r.starts_with(char::is_whitespace))
            })
        else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'')
            && let Some((name, _)) = rest[1..].split_once(quote)
        {
            names.push(name.to_string());
        }
    }
    names
}

pub fn render(env: &Environment<'_>, template: &str, context: Value) -> Result<String> {
    let tmpl = env
        .get_template(template)
        .map_err(|e| template_error(template, &e))?;
    tmpl.render(context)
        .map_err(|e| template_error(template, &e))
}

fn template_error(template: &str, e: &minijinja::Error) -> Error {
    let name = e.name().unwrap_or(template);
    Error::Run(format!(
        "report template `{name}`: {}; fix the template",
        describe_template_error(e)
    ))
}

/// Rows of a table as template values: integers, floats, booleans and
/// strings; dates and timestamps as ISO strings; nulls as `none`.
pub fn rows_of(batches: &[RecordBatch]) -> Result<Vec<Value>, String> {
    let mut rows = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        let columns: Vec<(String, Column)> = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(f, a)| Ok((f.name().clone(), Column::from_array(a)?)))
            .collect::<Result<_, String>>()?;
        for i in 0..batch.num_rows() {
            rows.push(map_value(
                columns
                    .iter()
                    .map(|(name, col)| (name.clone(), col.value(i))),
            ));
        }
    }
    Ok(rows)
}

enum Column {
    Int(arrow::array::ArrayRef),
    Float(arrow::array::ArrayRef),
    Bool(arrow::array::ArrayRef),
    Text(arrow::array::ArrayRef),
}

impl Column {
    fn from_array(a: &arrow::array::ArrayRef) -> Result<Column, String> {
        let to = |t: &DataType| cast(a, t).map_err(|e| e.to_string());
        Ok(match a.data_type() {
            t if t.is_integer() => Column::Int(to(&DataType::Int64)?),
            t if t.is_floating()
                || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) =>
            {
                Column::Float(to(&DataType::Float64)?)
            }
            DataType::Boolean => Column::Bool(a.clone()),
            DataType::Null => Column::Text(to(&DataType::Utf8)?),
            _ => Column::Text(to(&DataType::Utf8)?),
        })
    }

    fn value(&self, i: usize) -> Value {
        let (Column::Int(a) | Column::Float(a) | Column::Bool(a) | Column::Text(a)) = self;
        if a.is_null(i) {
            return Value::from(());
        }
        match self {
            Column::Int(a) => Value::from(a.as_primitive::<Int64Type>().value(i)),
            Column::Float(a) => Value::from(a.as_primitive::<Float64Type>().value(i)),
            Column::Bool(a) => Value::from(a.as_boolean().value(i)),
            Column::Text(a) => Value::from(a.as_string::<i32>().value(i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, Float64Array, Int32Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn t_takes_the_singular_form_where_n_is_1_and_the_locale_has_one() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("report_templates");
        let render_text = |locale: Locale, text: &str, n: i64| {
            let settings = ReportSettings {
                locale,
                currency: "USD".into(),
                charts: ChartMode::Inline,
            };
            let translations = Translations::load(&dir).unwrap();
            environment(&dir, &settings, translations, ChartFiles::default())
                .render_str(text, minijinja::context! { n })
                .unwrap()
        };
        let render =
            |locale: Locale, n: i64| render_text(locale, r#"{{ t("orders_after", n=n|num) }}"#, n);
        assert_eq!(
            render(Locale::En, 1),
            "1 order row dated after the run date was ignored."
        );
        assert_eq!(
            render(Locale::En, 2),
            "2 order rows dated after the run date were ignored."
        );
        assert_eq!(
            render(Locale::En, 1001),
            "1,001 order rows dated after the run date were ignored."
        );
        // Chinese has no plural: its one form serves.
        assert_eq!(render(Locale::ZhCn, 1), "统计日之后的1条订单记录已忽略。");
        // Without `n`, a period's `days` is the count.
        let vs = r#"{{ t("vs_previous", days=n) }}"#;
        assert_eq!(render_text(Locale::En, vs, 1), "vs the day before");
        assert_eq!(render_text(Locale::En, vs, 7), "vs 7 days earlier");
    }

    #[test]
    fn a_formatting_filter_shows_null_as_a_dash_and_refuses_an_undefined_name() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("report_templates");
        let settings = ReportSettings {
            locale: Locale::En,
            currency: "USD".into(),
            charts: ChartMode::Inline,
        };
        let mut env = environment(
            &dir,
            &settings,
            Translations::load(&dir).unwrap(),
            ChartFiles::default(),
        );
        let row = minijinja::context! { rate => 0.25, none_rate => (), day => "2026-06-30" };
        let render = |env: &Environment<'_>, text: &str| {
            env.render_str(text, minijinja::context! { r => row.clone() })
        };
        assert_eq!(
            render(&env, "{{ r.rate|pct }} {{ r.none_rate|pct }} {{ r.day|date }} {{ delta(r.rate, r.none_rate) }}").unwrap(),
            "25.0% – 30 Jun 2026 –"
        );
        for (text, filter) in [
            ("{{ r.rat|pct }}", "pct"),
            ("{{ r.rat|num }}", "num"),
            ("{{ r.rat|money }}", "money"),
            ("{{ r.dy|date }}", "date"),
            ("{{ r.dy|datetime }}", "datetime"),
            ("{{ r.dy|month }}", "month"),
            ("{{ delta(r.rate, r.rat) }}", "delta"),
            ("{{ t(\"orders_after\", n=r.rat) }}", "t"),
        ] {
            let err = render(&env, text).unwrap_err().to_string();
            assert!(
                err.contains(&format!("`{filter}` was given a name that is not defined")),
                "{text}: {err}"
            );
        }
        // A kind of change or a chart format that is none of those known is
        // an error naming the one meant, not figures written another way.
        assert_eq!(
            render(&env, "{{ delta(0.3, 0.2, \"pp\") }}").unwrap(),
            "▲ +10.0 pp"
        );
        let err = render(&env, "{{ delta(0.3, 0.2, \"ppt\") }}").unwrap_err();
        assert!(
            err.to_string().contains(
                "`delta()`'s kind `ppt` is not one of `pct`, `pp`, `num`, `money`; did you mean `pp`?"
            ),
            "{err}"
        );
        let err = env
            .render_str(
                "{{ bar_chart(rows, label=\"k\", value=\"v\", format=\"pcnt\", title=\"T\") }}",
                minijinja::context! { rows => vec![minijinja::context! { k => "a", v => 0.33 }] },
            )
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "a chart's `format` `pcnt` is not one of `num`, `money`, `pct`, `pct1`; did you mean `pct`?"
            ),
            "{err}"
        );
        // Where undefined values are let through (the column check), a dash.
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        assert_eq!(render(&env, "{{ r.rat|pct }}").unwrap(), "–");
    }

    #[test]
    fn rows_keep_types_and_nulls() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int32, true),
            Field::new("x", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("d", DataType::Date32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![Some(3), None])),
                Arc::new(Float64Array::from(vec![Some(0.5), Some(2.0)])),
                Arc::new(StringArray::from(vec![Some("a"), None])),
                Arc::new(Date32Array::from(vec![Some(20_000), None])),
            ],
        )
        .unwrap();
        let rows = rows_of(&[batch]).unwrap();
        let env = Environment::new();
        let out = env
            .render_str(
                "{% for r in rows %}{{ r.n }}|{{ r.x }}|{{ r.s }}|{{ r.d }};{% endfor %}",
                minijinja::context! { rows },
            )
            .unwrap();
        assert_eq!(out, "3|0.5|a|2024-10-04;None|2.0|None|None;");
    }

    #[test]
    fn html_and_markdown_templates_escape_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.html.j2"), "<p>{{ name }}</p>").unwrap();
        std::fs::write(
            dir.path().join("r.md.j2"),
            "| {{ name }} | {{ n }} |\n{{ name|safe }}",
        )
        .unwrap();
        std::fs::write(dir.path().join("r.txt.j2"), "{{ name }}").unwrap();
        let env = base_environment(dir.path());
        let ctx = minijinja::context! { name => "<script>a|b</script>", n => 3 };
        assert_eq!(
            render(&env, "r.html.j2", ctx.clone()).unwrap(),
            "<p>&lt;script&gt;a|b&lt;&#x2f;script&gt;</p>"
        );
        assert_eq!(
            render(&env, "r.md.j2", ctx.clone()).unwrap(),
            "| \\<script\\>a\\|b\\</script\\> | 3 |\n<script>a|b</script>"
        );
        assert_eq!(
            render(&env, "r.txt.j2", ctx).unwrap(),
            "<script>a|b</script>"
        );
    }

    #[test]
    fn a_typo_names_the_template_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.md.j2"), "# Title\n\n{{ segmnts }}\n").unwrap();
        let env = base_environment(dir.path());
        let err = render(&env, "r.md.j2", minijinja::context! {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("report template `r.md.j2`: line 3"), "{err}");
        assert!(err.contains("undefined"), "{err}");
    }

    #[test]
    fn finds_the_templates_a_template_names() {
        let source = "{% include \"_a.j2\" %}{%- import 'm.j2' as m -%}\
            {% from \"f.j2\" import x %}{% extends \"base.j2\" %}\
            {% include name %}{% set include = 1 %}{{ \"{% include 'no.j2' %}\" }}";
        let names = templates_named_in(source);
        assert_eq!(names[..4], ["_a.j2", "m.j2", "f.j2", "base.j2"]);
    }

    #[test]
    fn finds_the_tables_a_template_uses() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("r.md.j2"),
            "{% for r in rfm_summary %}{{ r.segment }}{% endfor %}{{ params.as_of }}",
        )
        .unwrap();
        let env = base_environment(dir.path());
        let steps = vec!["rfm_summary".to_string(), "rfm_scores".to_string()];
        assert_eq!(
            tables_needed(&env, "r.md.j2", &steps).unwrap(),
            ["rfm_summary"]
        );
    }
}
