//! Data checks declared on sources and steps: each compiles to a query that
//! returns the failing rows; a check passes when it returns none.

use std::collections::HashSet;

use chrono::NaiveDate;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use minijinja::Value;
use serde::Serialize;

use crate::engine::step_sql_options;
use crate::error::with_causes;
use crate::params::{ParamValue, quote_sql_string};
use crate::plan::{SqlProblem, SqlText};
use crate::spec::{CheckSpec, Severity, WrittenValue};

/// How many failing rows a check result keeps as a sample.
pub const SAMPLE_ROWS: usize = 5;

/// A check compiled to SQL.
#[derive(Debug, Clone)]
pub struct CheckPlan {
    pub name: String,
    /// The source or step checked.
    pub table: String,
    pub kind: &'static str,
    pub severity: Severity,
    /// A query returning the failing rows.
    pub sql: String,
    /// A cheaper query asked first where the engine can: it returns one
    /// count, and 0 means `sql` would return no rows (`unique` on one column,
    /// answered by `count_repeats`). Otherwise `sql` runs.
    pub probe: Option<String>,
    /// Tables other than `table` the query reads.
    pub reads: Vec<String>,
    /// `file:line:column` of the check in the pipeline file.
    pub at: String,
    /// A `sql:` check's query as written, before rendering.
    pub template: Option<String>,
    /// Where a `sql:` check's query is in the pipeline file, where its lines
    /// there can be told.
    pub written: Option<WrittenValue>,
}

impl CheckPlan {
    /// A DataFusion error on the check's query, for a message naming the
    /// check: `check `x` on `t` (FILE:LINE:COLUMN): MESSAGE` for a check
    /// whose query loyalty wrote, or for a `sql:` check, the message and the
    /// place in its SQL, that line shown with the place marked.
    pub fn sql_error(&self, problem: &SqlProblem) -> String {
        let Some(template) = &self.template else {
            return format!(
                "check `{}` on `{}` ({}): {}",
                self.name, self.table, self.at, problem.message
            );
        };
        let text = SqlText::in_pipeline(
            "check",
            &self.at,
            self.written.as_ref(),
            template,
            &self.sql,
        );
        format!(
            "check `{}` on `{}`: {}",
            self.name,
            self.table,
            text.explain(&problem.message, problem.at)
        )
    }
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(v: &serde_yaml::Value) -> Result<String, String> {
    use serde_yaml::Value as Y;
    Ok(match v {
        Y::String(s) => quote_sql_string(s),
        Y::Number(n) => n.to_string(),
        Y::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        other => {
            return Err(format!(
                "`{}` is not a value a column can hold",
                serde_yaml::to_string(other).unwrap_or_default().trim()
            ));
        }
    })
}

/// Why a check does not compile; for a `sql:` check whose query does not
/// parse, with the query as rendered and the place in it.
#[derive(Debug)]
pub struct CompileError {
    pub message: String,
    pub sql: Option<(String, Option<crate::plan::Position>)>,
}

impl From<String> for CompileError {
    fn from(message: String) -> Self {
        CompileError { message, sql: None }
    }
}

impl From<&str> for CompileError {
    fn from(message: &str) -> Self {
        message.to_string().into()
    }
}

/// Compiles one check on `table`. `render` renders a `sql:` check's
/// template with the params, as steps are.
/// `temporal` names the table's columns known to hold timestamps or dates (a
/// source's contract).
pub fn compile(
    table: &str,
    spec: &CheckSpec,
    as_of: NaiveDate,
    temporal: &[&str],
    render: &dyn Fn(&str) -> Result<String, String>,
) -> Result<CheckPlan, CompileError> {
    let t = ident(table);
    let mut kinds: Vec<(&'static str, String, String, Vec<String>)> = Vec::new();
    let mut probe = None;
    if let Some(cols) = &spec.not_null {
        if cols.is_empty() {
            return Err("`not_null` needs at least one column".into());
        }
        let cond = cols
            .iter()
            .map(|c| format!("{} IS NULL", ident(c)))
            .collect::<Vec<_>>()
            .join(" OR ");
        kinds.push((
            "not_null",
            cols.join(", "),
            format!("SELECT * FROM {t} WHERE {cond}"),
            vec![],
        ));
    }
    if let Some(cols) = &spec.unique {
        if cols.is_empty() {
            return Err("`unique` needs at least one column".into());
        }
        let list = cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        if let [col] = cols.as_slice() {
            probe = Some(format!(
                "SELECT {}({}) AS repeats FROM {t}",
                crate::engine::repeats::NAME,
                ident(col)
            ));
        }
        kinds.push((
            "unique",
            cols.join(", "),
            format!(
                "SELECT {list}, COUNT(*) AS duplicates FROM {t} GROUP BY {list} HAVING COUNT(*) > 1"
            ),
            vec![],
        ));
    }
    if let Some(a) = &spec.accepted_values {
        let values = a
            .values
            .iter()
            .map(literal)
            .collect::<Result<Vec<_>, _>>()?;
        if values.is_empty() {
            return Err("`accepted_values.values` is empty".into());
        }
        kinds.push((
            "accepted_values",
            a.column.clone(),
            format!(
                "SELECT * FROM {t} WHERE {c} IS NOT NULL AND {c} NOT IN ({})",
                values.join(", "),
                c = ident(&a.column)
            ),
            vec![],
        ));
    }
    if let Some(r) = &spec.relationships {
        kinds.push((
            "relationships",
            format!("{} → {}.{}", r.column, r.to, r.field),
            format!(
                "SELECT c.* FROM {t} c WHERE c.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {to} p WHERE p.{field} = c.{col})",
                col = ident(&r.column),
                to = ident(&r.to),
                field = ident(&r.field)
            ),
            vec![r.to.clone()],
        ));
    }
    if let Some(rc) = &spec.row_count {
        if rc.min.is_none() && rc.max.is_none() {
            return Err("`row_count` needs `min`, `max` or both".into());
        }
        let mut cond = Vec::new();
        if let Some(min) = rc.min {
            cond.push(format!("COUNT(*) < {min}"));
        }
        if let Some(max) = rc.max {
            cond.push(format!("COUNT(*) > {max}"));
        }
        kinds.push((
            "row_count",
            String::new(),
            format!(
                "SELECT COUNT(*) AS row_count FROM {t} HAVING {}",
                cond.join(" OR ")
            ),
            vec![],
        ));
    }
    if let Some(f) = &spec.freshness {
        let age = crate::plan::parse_duration(&f.max_age)?;
        // The newest value must be at most `max_age` before the end of as_of.
        let end = ParamValue::Date(as_of + chrono::Days::new(1)).sql_literal();
        let (c, secs) = (ident(&f.column), age.as_secs_f64().round() as i64);
        let stale = format!("< CAST({end} AS TIMESTAMP) - INTERVAL '{secs} seconds'");
        let sql = if temporal.contains(&f.column.as_str()) {
            // A timestamp or date: its largest value is the newest, which
            // Parquet statistics give without reading the column.
            format!(
                "SELECT newest FROM (SELECT MAX({c}) AS newest FROM {t}) \
                 WHERE newest IS NULL OR CAST(newest AS TIMESTAMP) {stale}"
            )
        } else {
            // Text, say: compared as timestamps, which its largest value may not be.
            format!(
                "SELECT MAX(CAST({c} AS TIMESTAMP)) AS newest FROM {t} \
                 HAVING MAX(CAST({c} AS TIMESTAMP)) IS NULL \
                 OR MAX(CAST({c} AS TIMESTAMP)) {stale}"
            )
        };
        kinds.push(("freshness", f.column.clone(), sql, vec![]));
    }
    if let Some(sql) = &spec.sql {
        let rendered = render(sql)?;
        let reads = match crate::plan::referenced_tables(&rendered) {
            Ok(reads) => reads,
            Err(p) => {
                return Err(CompileError {
                    message: p.message,
                    sql: Some((rendered, p.at)),
                });
            }
        };
        let reads = reads.into_iter().filter(|r| r != table).collect();
        kinds.push(("sql", String::new(), rendered, reads));
    }
    let (kind, cols, sql, reads) = match kinds.len() {
        1 => kinds.pop().expect("one kind"),
        0 => {
            return Err(
                "a check needs one of `not_null`, `unique`, `accepted_values`, `relationships`, `row_count`, `freshness`, `sql`"
                    .into(),
            );
        }
        _ => {
            return Err(format!(
                "a check has one kind, this one has {}: split it into several checks",
                crate::text::code_list(kinds.iter().map(|k| k.0))
            )
            .into());
        }
    };
    let name = spec.name.clone().unwrap_or_else(|| {
        if cols.is_empty() {
            format!("{table}.{kind}")
        } else {
            format!("{table}.{kind}({cols})")
        }
    });
    Ok(CheckPlan {
        name,
        table: table.to_string(),
        kind,
        severity: spec.severity,
        sql,
        probe,
        reads,
        at: String::new(),
        template: spec.sql.clone(),
        written: None,
    })
}

/// What a check found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub table: String,
    pub kind: &'static str,
    pub severity: Severity,
    /// `pass`, `fail`, or `error` when the check itself could not run.
    pub status: &'static str,
    pub failing_rows: u64,
    /// Up to five failing rows.
    pub sample: Vec<serde_json::Value>,
    pub message: Option<String>,
    /// Wall time of the check's queries (checks may run concurrently).
    pub elapsed_seconds: f64,
    /// `file:line:column` of the check in the pipeline file, for the log
    /// and the run's error; not in `run_results.json` or the reports, which
    /// name the pipeline file once.
    #[serde(skip)]
    pub at: String,
}

impl CheckResult {
    /// Whether this result stops the steps after it and fails the run.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Error && self.status != "pass"
    }

    /// Whether the checked table is one of the plan's sources.
    pub fn table_is_source(&self, plan: &crate::plan::Plan) -> bool {
        plan.sources.iter().any(|s| s.name == self.table)
    }

    /// The message, with where the check is in the pipeline file, for an
    /// error the user is to go and mend.
    pub fn placed_message(&self) -> String {
        let message = self.message.clone().unwrap_or_default();
        match self.at.is_empty() {
            true => message,
            false => format!("{message} (the check is at {})", self.at),
        }
    }
}

/// Runs checks, up to `parallel` at a time, each within `limit` if given;
/// results come in the order given.
pub async fn run_all(
    ctx: &SessionContext,
    checks: &[CheckPlan],
    parallel: usize,
    limit: Option<std::time::Duration>,
) -> Vec<CheckResult> {
    let runs: Vec<_> = checks.iter().map(|c| run(ctx, c, limit)).collect();
    futures::stream::iter(runs)
        .buffered(parallel.max(1))
        .collect()
        .await
}

async fn run(
    ctx: &SessionContext,
    check: &CheckPlan,
    limit: Option<std::time::Duration>,
) -> CheckResult {
    let started = std::time::Instant::now();
    let mut result = CheckResult {
        name: check.name.clone(),
        table: check.table.clone(),
        kind: check.kind,
        severity: check.severity,
        status: "pass",
        failing_rows: 0,
        sample: Vec::new(),
        message: None,
        elapsed_seconds: 0.0,
        at: check.at.clone(),
    };
    let outcome = async {
        if probe_finds_none(ctx, check).await {
            return Ok((0, Vec::new()));
        }
        let df = ctx
            .sql_with_options(&check.sql, step_sql_options())
            .await
            .map_err(|e| with_causes(&e))?;
        let n = df.clone().count().await.map_err(|e| with_causes(&e))? as u64;
        let sample = if n > 0 {
            let batches = df
                .limit(0, Some(SAMPLE_ROWS))
                .map_err(|e| with_causes(&e))?
                .collect()
                .await
                .map_err(|e| with_causes(&e))?;
            crate::report::rows_of(&batches)?
                .iter()
                .map(|row: &Value| serde_json::to_value(row).unwrap_or_default())
                .collect()
        } else {
            Vec::new()
        };
        Ok((n, sample))
    };
    let outcome: Result<(u64, Vec<serde_json::Value>), String> =
        crate::engine::within(limit, outcome).await.and_then(|o| o);
    match outcome {
        Ok((0, _)) => {}
        Ok((n, sample)) => {
            result.status = "fail";
            result.failing_rows = n;
            result.sample = sample;
            result.message = Some(format!(
                "check `{}` on `{}` found {}",
                check.name,
                check.table,
                crate::text::count(n, "failing row")
            ));
        }
        Err(e) => {
            result.status = "error";
            result.message = Some(format!(
                "check `{}` on `{}` could not run: {e}",
                check.name, check.table
            ));
        }
    }
    result.elapsed_seconds = started.elapsed().as_secs_f64();
    match (result.status, check.severity) {
        ("pass", _) => tracing::info!(
            check = check.name.as_str(),
            elapsed_s = format!("{:.3}", result.elapsed_seconds),
            "check passed"
        ),
        ("error", Severity::Warn) => tracing::warn!(
            check = check.name.as_str(),
            at = check.at.as_str(),
            error = result.message.as_deref().unwrap_or_default(),
            "check could not run"
        ),
        ("error", _) => tracing::error!(
            check = check.name.as_str(),
            at = check.at.as_str(),
            error = result.message.as_deref().unwrap_or_default(),
            "check could not run"
        ),
        (_, Severity::Warn) => tracing::warn!(
            check = check.name.as_str(),
            at = check.at.as_str(),
            failing_rows = result.failing_rows,
            "check warned"
        ),
        _ => tracing::error!(
            check = check.name.as_str(),
            at = check.at.as_str(),
            failing_rows = result.failing_rows,
            "check failed"
        ),
    }
    result
}

/// Whether the check's probe ran and found nothing to fail. A probe that
/// cannot run (a column that is not an integer, ids too scattered for its
/// bitmaps, an engine without the function) leaves the answer to the check's
/// own query.
async fn probe_finds_none(ctx: &SessionContext, check: &CheckPlan) -> bool {
    let Some(probe) = &check.probe else {
        return false;
    };
    if datafusion::execution::FunctionRegistry::udaf(ctx, crate::engine::repeats::NAME).is_err() {
        return false;
    }
    let answer = async {
        let batches = ctx
            .sql_with_options(probe, step_sql_options())
            .await?
            .collect()
            .await?;
        let count = batches
            .first()
            .filter(|b| b.num_rows() == 1)
            .and_then(|b| b.column(0).as_primitive_opt::<UInt64Type>())
            .map(|a| a.value(0));
        Ok::<_, datafusion::error::DataFusionError>(count)
    }
    .await;
    match answer {
        Ok(Some(0)) => true,
        Ok(_) => false,
        Err(e) => {
            tracing::debug!(check = check.name.as_str(), "probe not used: {e}");
            false
        }
    }
}

/// The tables named in checks must exist: `known` are the sources and steps.
pub fn unknown_tables<'a>(check: &'a CheckPlan, known: &HashSet<&str>) -> Vec<&'a str> {
    check
        .reads
        .iter()
        .map(|s| s.as_str())
        .filter(|r| !known.contains(r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> CheckSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 30).unwrap()
    }

    fn no_render(s: &str) -> Result<String, String> {
        Ok(s.to_string())
    }

    #[test]
    fn compiles_each_kind_to_failing_rows_sql() {
        let c = compile(
            "orders",
            &spec("not_null: [order_id, customer_id]"),
            day(),
            &[],
            &no_render,
        )
        .unwrap();
        assert_eq!(c.name, "orders.not_null(order_id, customer_id)");
        assert_eq!(
            c.sql,
            "SELECT * FROM \"orders\" WHERE \"order_id\" IS NULL OR \"customer_id\" IS NULL"
        );
        let c = compile(
            "orders",
            &spec("accepted_values: { column: status, values: [completed, \"it's\"] }"),
            day(),
            &[],
            &no_render,
        )
        .unwrap();
        assert!(
            c.sql.ends_with("NOT IN ('completed', 'it''s')"),
            "{}",
            c.sql
        );
        let c = compile("orders", &spec("relationships: { column: customer_id, to: customers, field: customer_id }\nseverity: warn"), day(), &[], &no_render).unwrap();
        assert_eq!(c.reads, ["customers"]);
        assert_eq!(c.severity, Severity::Warn);
        let c = compile(
            "orders",
            &spec("freshness: { column: order_ts, max_age: 2d }"),
            day(),
            &[],
            &no_render,
        )
        .unwrap();
        assert!(
            c.sql
                .contains("CAST(DATE '2026-07-01' AS TIMESTAMP) - INTERVAL '172800 seconds'"),
            "{}",
            c.sql
        );
        assert!(
            c.sql.contains("MAX(CAST(\"order_ts\" AS TIMESTAMP))"),
            "{}",
            c.sql
        );
        // Declared a timestamp: the plain MAX, which statistics can answer.
        let c = compile(
            "orders",
            &spec("freshness: { column: order_ts, max_age: 2d }"),
            day(),
            &["order_ts"],
            &no_render,
        )
        .unwrap();
        assert!(
            c.sql.starts_with(
                "SELECT newest FROM (SELECT MAX(\"order_ts\") AS newest FROM \"orders\")"
            ),
            "{}",
            c.sql
        );
        let c = compile(
            "orders",
            &spec("row_count: { min: 1 }"),
            day(),
            &[],
            &no_render,
        )
        .unwrap();
        assert!(c.sql.ends_with("HAVING COUNT(*) < 1"));
    }

    #[test]
    fn a_check_has_exactly_one_kind() {
        let err = compile(
            "t",
            &spec("not_null: [a]\nunique: [a]"),
            day(),
            &[],
            &no_render,
        )
        .unwrap_err();
        assert!(
            err.message.contains("`not_null`, `unique`"),
            "{}",
            err.message
        );
        assert!(compile("t", &spec("severity: warn"), day(), &[], &no_render).is_err());
        assert!(
            compile(
                "t",
                &spec("freshness: { column: x, max_age: soon }"),
                day(),
                &[],
                &no_render
            )
            .is_err()
        );
    }
}
