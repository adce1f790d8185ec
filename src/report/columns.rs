//! The columns a report reads, checked against its steps' tables before
//! any step computes (by `run` and `validate`): a misspelt column in a
//! template would otherwise stop a run only once every step has run, with
//! nothing published.
//!
//! The report is rendered on made-up data: each table it reads one row,
//! shaped as its step's schema says, and then again with its flags false
//! and its fractions NULL, so that both sides of a test on them are taken;
//! once more for each text the templates compare a value with (`{% if
//! r.scope == "all" %}`), with its text columns holding it; and for each
//! number they compare a value with (`{% if r.customers > 1000 %}`), with
//! its number columns holding one less, the number and one more. Each row
//! notes every name read from it that its table has no column of. Nothing
//! else that rendering on made-up values meets counts (a value's
//! arithmetic, a branch not taken): the check finds only what it is sure
//! of, and a column read only in a branch no made-up row takes (a test on
//! two columns, `r.a > r.b`) is found at run time, as before.

use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, RecordBatch, StringArray, new_null_array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use minijinja::value::{Enumerator, Object};
use minijinja::{Environment, Value};

use super::{rows_of, templates_reached, tested, word_positions};
use crate::params::map_value;

/// What the check found in one template.
#[derive(Debug, Default)]
pub struct ColumnCheck {
    /// Once each, the columns it reads that their table lacks, as "report
    /// template `…`: line N: step `…` has no column `…` …".
    pub problems: Vec<String>,
    /// Where the plain pass over made-up rows stopped before the
    /// template's end, as a warning: what it did not reach is checked only
    /// when the report renders.
    pub stopped: Option<String>,
}

/// Renders `template` on one made-up row per table (a step's name and
/// columns), in the passes the module describes, and returns what it found.
/// `context` holds the rest of what the template sees (`params`, `run`).
pub fn missing_columns(
    env: &Environment<'_>,
    template: &str,
    context: Vec<(String, Value)>,
    tables: &[(&str, Schema)],
    as_of: chrono::NaiveDate,
) -> ColumnCheck {
    let mut stopped = None;
    let misses: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let columns: Vec<(&str, Vec<String>)> = (tables.iter())
        .map(|(name, schema)| {
            let names = schema.fields().iter().map(|f| f.name().clone());
            (*name, names.collect())
        })
        .collect();
    // Past what made-up values leave undefined (a row picked by a value
    // that no made-up row has), so that the rest is checked too.
    let mut env = env.clone();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    // Twice: the second time with booleans false and fractions NULL, so that
    // both sides of a test on a flag (`{% if r.too_recent %}`) or on a rate
    // (`{% if r.churn_rate is not none %}`) are read. Counts stay 1, dates
    // and text as they were: the tests a report's sections hang on
    // (`h.customers > 0`) take the same side both times. Then once for each
    // text a template compares with, held by every text column, and for
    // each number around one it compares with, held by every number column.
    let (texts, numbers) = compared_values(&env, template);
    let first = MadeUp {
        flipped: false,
        text: "x",
        number: "1",
    };
    let passes = [
        first,
        MadeUp {
            flipped: true,
            ..first
        },
    ]
    .into_iter()
    .chain(texts.iter().map(|text| MadeUp { text, ..first }))
    .chain(numbers.iter().map(|number| MadeUp { number, ..first }));
    for (pass, made_up) in passes.enumerate() {
        let mut context = context.clone();
        for (name, schema) in tables {
            let rows = match made_up_row(schema, as_of, made_up) {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::debug!(table = name, "no made-up row for the column check: {e}");
                    continue;
                }
            };
            let rows: Vec<Value> = rows
                .into_iter()
                .map(|row| {
                    Value::from_object(CheckedRow {
                        table: name.to_string(),
                        row,
                        misses: misses.clone(),
                    })
                })
                .collect();
            context.push((name.to_string(), Value::from(rows)));
        }
        if let Err(e) = super::render(&env, template, map_value(context)) {
            // Made-up values may take a template where real ones never go.
            tracing::debug!(
                template,
                ?made_up,
                "the column check's rendering stopped: {e}"
            );
            if pass == 0 {
                // The plain pass, whose rows are the likest real ones: what
                // it did not reach is checked only when the report renders.
                stopped = Some(format!(
                    "report template `{template}`: the check of the columns it reads stopped \
                     before its end, on made-up rows ({e}); a misspelt column after that \
                     point shows only when the report renders, after every step. Work the \
                     figure out in the step's SQL, or test it first (`{{% if x is defined %}}`)"
                ));
            }
        }
    }
    let found: Vec<(String, String)> = std::mem::take(&mut *misses.lock().unwrap());
    let mut problems: Vec<String> = Vec::new();
    for (table, column) in found {
        let (at, source) = where_read(&env, template, &column);
        if source.as_deref().is_some_and(|s| tested(s, &column)) {
            // `row.column is defined`: a template that allows for it.
            continue;
        }
        let has: &[String] = columns
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, c)| c.as_slice())
            .unwrap_or_default();
        let hint = match crate::error::suggest(&column, has.iter().map(String::as_str)) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => String::new(),
        };
        let problem = format!(
            "report template {at}: step `{table}` has no column `{column}` (it has {}){hint}",
            crate::text::code_list(has)
        );
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    ColumnCheck { problems, stopped }
}

/// One row of a table in the check: the row as the templates see it, and a
/// note of every name read from it that is not one of its columns (read as
/// NULL).
#[derive(Debug)]
struct CheckedRow {
    table: String,
    row: Value,
    misses: Arc<Mutex<Vec<(String, String)>>>,
}

impl Object for CheckedRow {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        match self.row.get_attr(key) {
            Ok(value) if !value.is_undefined() => Some(value),
            _ => {
                let miss = (self.table.clone(), key.to_string());
                let mut misses = self.misses.lock().unwrap();
                if !misses.contains(&miss) {
                    misses.push(miss);
                }
                // Noted; read as a NULL, so that rendering goes on to the
                // template's other columns.
                Some(Value::from(()))
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        // A row's keys are its column names.
        Enumerator::Values(
            self.row
                .try_iter()
                .map(|keys| keys.collect())
                .unwrap_or_default(),
        )
    }
}

/// The most texts, and apart from them the most numbers, the check renders
/// a report with, one pass each.
const MAX_COMPARED_VALUES: usize = 16;

/// The texts `template`, and the templates it names, compare a value with
/// (`"all"` in `r.scope == "all"` or `r.scope != "all"`, and each of a list
/// after `in`: `r.segment in ["Champions", "At Risk"]`), once each; and one
/// less, one more and each number they compare a value with (`r.customers >
/// 1000`), but 1, which the first pass has.
fn compared_values(env: &Environment<'_>, template: &str) -> (Vec<String>, Vec<String>) {
    let (mut texts, mut numbers): (Vec<String>, Vec<String>) = Default::default();
    let add = |found: &mut Vec<String>, value: String| {
        if !found.contains(&value) && found.len() < MAX_COMPARED_VALUES {
            found.push(value);
        }
    };
    for (_, loaded) in templates_reached(env, template) {
        let Ok(tmpl) = loaded else { continue };
        for text in texts_compared_in(tmpl.source()) {
            add(&mut texts, text);
        }
        for n in numbers_compared_in(tmpl.source()) {
            for near in [n - 1.0, n, n + 1.0] {
                if near != 1.0 {
                    add(&mut numbers, near.to_string());
                }
            }
        }
    }
    (texts, numbers)
}

/// The numbers right after a comparison (`>`, `>=`, `<`, `<=`, `==`, `!=`)
/// within a template's tags (`{% … %}`, `{{ … }}`), not its HTML.
fn numbers_compared_in(source: &str) -> Vec<f64> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(open) = rest.find('{') {
        let tag = &rest[open..];
        let close = match tag.get(..2) {
            Some("{%") => "%}",
            Some("{{") => "}}",
            _ => {
                rest = &tag[1..];
                continue;
            }
        };
        let (inside, after) = tag[2..].split_once(close).unwrap_or((&tag[2..], ""));
        rest = after;
        for (i, _) in inside.match_indices(['>', '<', '=', '!']) {
            let here = &inside[i..];
            let Some(operand) = [">=", "<=", "==", "!=", ">", "<"]
                .iter()
                .find_map(|op| here.strip_prefix(op))
                .filter(|_| !inside[..i].ends_with(['>', '<', '=', '!']))
            else {
                continue;
            };
            let operand = operand.trim_start();
            let end = (operand.char_indices())
                .find(|&(j, c)| !(c.is_ascii_digit() || c == '.' || (j == 0 && c == '-')))
                .map_or(operand.len(), |(j, _)| j);
            if let Ok(n) = operand[..end].parse::<f64>() {
                found.push(n);
            }
        }
    }
    found
}

/// The quoted texts right after `==` or `!=`, or in a list right after
/// `in`, in a template's source.
fn texts_compared_in(source: &str) -> Vec<String> {
    /// The quoted text `rest` starts with, and what follows it.
    fn quoted(rest: &str) -> Option<(&str, &str)> {
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        rest[1..].split_once(quote)
    }
    let mut found = Vec::new();
    let mut from = 0;
    // `=`, `!` and `i` are one byte each: the place after one is a char's.
    while let Some(i) = source[from..].find(['=', '!', 'i']) {
        let at = from + i;
        let (before, here) = source.split_at(at);
        from = at + 1;
        if let Some(after) = here.strip_prefix("==").or_else(|| here.strip_prefix("!=")) {
            if let Some((text, _)) = quoted(after.trim_start()) {
                found.push(text.to_string());
            }
            continue;
        }
        let Some(after) = here.strip_prefix("in") else {
            continue;
        };
        // The word `in`, then a list.
        let word = before.ends_with(char::is_whitespace) && after.starts_with(char::is_whitespace);
        let Some(mut items) = after.trim_start().strip_prefix(['[', '(']).filter(|_| word) else {
            continue;
        };
        while let Some((text, after)) = quoted(items.trim_start()) {
            found.push(text.to_string());
            match after.trim_start().strip_prefix(',') {
                Some(next) => items = next,
                None => break,
            }
        }
    }
    found
}

/// What a made-up row holds.
#[derive(Debug, Clone, Copy)]
struct MadeUp<'a> {
    /// Booleans false and fractions (floats, decimals) NULL.
    flipped: bool,
    /// Every text column's text.
    text: &'a str,
    /// Every number column's number (but fractions' where `flipped`).
    number: &'a str,
}

/// One row shaped as `schema` says, as the templates see rows (a map by
/// column name): numbers `number`, booleans true, dates and timestamps the
/// run date, text `text`; a type that takes none of these, NULL.
fn made_up_row(
    schema: &Schema,
    as_of: chrono::NaiveDate,
    made_up: MadeUp<'_>,
) -> Result<Vec<Value>, String> {
    let day = as_of.format("%Y-%m-%d").to_string();
    let arrays: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| {
            let text = match f.data_type() {
                DataType::Boolean if made_up.flipped => "false",
                DataType::Boolean => "true",
                t if t.is_temporal() => day.as_str(),
                t if made_up.flipped && !t.is_integer() && t.is_numeric() => {
                    return new_null_array(t, 1);
                }
                t if t.is_numeric() => made_up.number,
                _ => made_up.text,
            };
            cast(&StringArray::from(vec![text]), f.data_type())
                .unwrap_or_else(|_| new_null_array(f.data_type(), 1))
        })
        .collect();
    let nullable: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    let batch =
        RecordBatch::try_new(Arc::new(Schema::new(nullable)), arrays).map_err(|e| e.to_string())?;
    rows_of(&[batch])
}

/// Where a template, or one it names, reads `column`: "`name`: line N" (or
/// "`name`" where no line reads it so), and that template's source.
fn where_read(env: &Environment<'_>, template: &str, column: &str) -> (String, Option<String>) {
    // As a row's attribute (`r.column`) or a chart's argument ("column").
    let reads = |l: &str| {
        word_positions(l, column)
            .into_iter()
            .any(|at| l[..at].ends_with(['.', '"', '\'']))
    };
    for (name, loaded) in templates_reached(env, template) {
        let Ok(tmpl) = loaded else { continue };
        let source = tmpl.source();
        if let Some(line) = source.lines().position(reads) {
            return (
                format!("`{name}`: line {}", line + 1),
                Some(source.to_string()),
            );
        }
    }
    (format!("`{template}`"), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_texts_a_template_compares_with_are_found() {
        let source = r#"{% if r.scope == "all" %}{% elif r.kind != 'x y' %}{% endif %}
            {% for r in t if r.segment in ["Champions", 'At Risk'] %}{% endfor %}
            {{ "in" }} {{ r.a==r.b }} {% if r.login in x %}{% endif %} 客户 in «x» !"#;
        assert_eq!(
            texts_compared_in(source),
            ["all", "x y", "Champions", "At Risk"]
        );
    }

    #[test]
    fn a_column_read_where_a_text_equals_a_value_is_read() {
        let mut env = Environment::new();
        env.add_template(
            "t.md.j2",
            "{% for r in t %}{% if r.segment == \"Champions\" %}{{ r.revenu }}{% endif %}\
             {% if r.segment in [\"Lost\"] %}{{ r.lost }}{% endif %}{% endfor %}",
        )
        .unwrap();
        let schema = Schema::new(vec![
            Field::new("segment", DataType::Utf8, true),
            Field::new("revenue", DataType::Float64, true),
        ]);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        let found = missing_columns(&env, "t.md.j2", vec![], &[("t", schema)], day).problems;
        let has = "(it has `segment`, `revenue`)";
        assert_eq!(
            found,
            [
                format!(
                    "report template `t.md.j2`: line 1: step `t` has no column `revenu` {has}; did you mean `revenue`?"
                ),
                format!("report template `t.md.j2`: line 1: step `t` has no column `lost` {has}"),
            ]
        );
    }

    #[test]
    fn both_sides_of_a_test_on_a_value_are_read() {
        let mut env = Environment::new();
        env.add_template(
            "t.md.j2",
            "{% for r in t %}{% if r.flag %}{{ r.a }}{% else %}{{ r.typo }}{% endif %}\
             {% if r.rate is not none %}{{ r.rate }}{% else %}{{ r.other }}{% endif %}{% endfor %}",
        )
        .unwrap();
        let schema = Schema::new(vec![
            Field::new("flag", DataType::Boolean, true),
            Field::new("a", DataType::Int64, true),
            Field::new("rate", DataType::Float64, true),
        ]);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        let found = missing_columns(&env, "t.md.j2", vec![], &[("t", schema)], day).problems;
        let has = "(it has `flag`, `a`, `rate`)";
        assert_eq!(
            found,
            [
                format!("report template `t.md.j2`: line 1: step `t` has no column `typo` {has}"),
                format!("report template `t.md.j2`: line 1: step `t` has no column `other` {has}"),
            ]
        );
    }

    #[test]
    fn the_numbers_a_template_compares_with_are_found_in_its_tags() {
        let source = "<td>5</td> <b>7</b> a > 3 {% if r.customers > 1000 and r.x>=-2 %}\
            {{ 'y' if r.share <= 0.25 else r.n == 4 }}{% set a = 6 %}{% if n != 8 %}";
        assert_eq!(numbers_compared_in(source), [1000.0, -2.0, 0.25, 4.0, 8.0]);
    }

    #[test]
    fn a_column_read_where_a_number_passes_a_bound_is_read() {
        let mut env = Environment::new();
        env.add_template(
            "t.md.j2",
            "<p>{% for r in t %}{% if r.customers > 1000 %}{{ r.big }}{% endif %}\
             {% if r.customers == 0 %}{{ r.none_yet }}{% endif %}\
             {% if r.share < 0.5 %}{{ r.small }}{% endif %}{% endfor %}</p>",
        )
        .unwrap();
        let schema = Schema::new(vec![
            Field::new("customers", DataType::Int64, true),
            Field::new("share", DataType::Float64, true),
        ]);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        let mut found = missing_columns(&env, "t.md.j2", vec![], &[("t", schema)], day).problems;
        found.sort();
        let has = "(it has `customers`, `share`)";
        // 1001 takes the first branch; 0 the second; -0.5 the third (1, the
        // first pass's number, takes none of them).
        assert_eq!(
            found,
            ["big", "none_yet", "small"].map(|c| format!(
                "report template `t.md.j2`: line 1: step `t` has no column `{c}` {has}"
            ))
        );
    }
}
