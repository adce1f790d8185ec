//! Reports: minijinja templates rendered with the finished step tables (as
//! rows of typed values), the params and run metadata in scope.
//!
//! Only the tables a template names are collected, and each must be small
//! (a summary, not a per-customer table): see [`MAX_REPORT_ROWS`].

use std::collections::HashSet;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use crate::error::{Error, Result};
use crate::params::{describe_template_error, map_value};

/// The most rows of one table a report may take.
pub const MAX_REPORT_ROWS: usize = 10_000;

/// The environment for one report template: templates load from its folder
/// (so partials and `{% include %}` work), undefined names are errors, and
/// `*.html.j2` output is HTML-escaped.
pub fn environment(template_dir: &Path) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_loader(minijinja::path_loader(template_dir));
    env.set_auto_escape_callback(|name| {
        let name = name.trim_end_matches(".j2").trim_end_matches(".jinja");
        if name.ends_with(".html") || name.ends_with(".htm") || name.ends_with(".svg") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env
}

/// The step tables a template refers to by name.
pub fn tables_needed(
    env: &Environment<'_>,
    template: &str,
    step_names: &[String],
) -> Result<Vec<String>> {
    let tmpl = env
        .get_template(template)
        .map_err(|e| template_error(template, &e))?;
    let used: HashSet<String> = tmpl.undeclared_variables(false);
    Ok(step_names
        .iter()
        .filter(|s| used.contains(*s))
        .cloned()
        .collect())
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
    fn html_templates_escape_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.html.j2"), "<p>{{ name }}</p>").unwrap();
        std::fs::write(dir.path().join("r.md.j2"), "{{ name }}").unwrap();
        let env = environment(dir.path());
        let ctx = minijinja::context! { name => "<script>alert(1)</script>" };
        assert_eq!(
            render(&env, "r.html.j2", ctx.clone()).unwrap(),
            "<p>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</p>"
        );
        assert_eq!(
            render(&env, "r.md.j2", ctx).unwrap(),
            "<script>alert(1)</script>"
        );
    }

    #[test]
    fn a_typo_names_the_template_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.md.j2"), "# Title\n\n{{ segmnts }}\n").unwrap();
        let env = environment(dir.path());
        let err = render(&env, "r.md.j2", minijinja::context! {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("report template `r.md.j2`: line 3"), "{err}");
        assert!(err.contains("undefined"), "{err}");
    }

    #[test]
    fn finds_the_tables_a_template_uses() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("r.md.j2"),
            "{% for r in rfm_summary %}{{ r.segment }}{% endfor %}{{ params.as_of }}",
        )
        .unwrap();
        let env = environment(dir.path());
        let steps = vec!["rfm_summary".to_string(), "rfm_scores".to_string()];
        assert_eq!(
            tables_needed(&env, "r.md.j2", &steps).unwrap(),
            ["rfm_summary"]
        );
    }
}
