//! The validated plan: a [`LoadedSpec`] with every param typed, every URL
//! resolved, every SQL step rendered and parsed, and the steps ordered by the
//! tables they read. Nothing downstream reads the raw YAML again.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use url::Url;

use crate::checks::CheckPlan;
use crate::error::{Error, Result};
use crate::params::Params;
use crate::spec::{LoadedSpec, Materialize, OutputFormat};

mod build;
mod settings;
mod sql_source;
pub use settings::{
    EngineConfig, EngineKind, STANDALONE, StorageConfig, parse_bytes, parse_duration,
};
pub use sql_source::{Position, SqlProblem, SqlText};

/// Names report templates use for run data, so no step may take them.
pub const RESERVED_NAMES: &[&str] = &["params", "run"];

/// What the command line adds to a pipeline file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--param key=value` (and `--as-of`, as `as_of=…`), last one wins.
    pub params: Vec<(String, String)>,
    /// `--select`: run only these steps and the steps they need.
    pub select: Vec<String>,
    /// `--profile`: log each computed plan with its metrics.
    pub profile: bool,
    /// `--memory-limit`: replaces `engine.memory_limit`.
    pub memory_limit: Option<String>,
    /// `--engine`: `local`, `df://host:port` or `standalone`; replaces
    /// `engine.kind` and `engine.url`.
    pub engine: Option<String>,
    /// `show`: a look at rows, which writes nothing, so the plan has no
    /// outputs or reports, and their settings are not checked (`run` and
    /// `validate` check them).
    pub rows_only: bool,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub description: String,
    pub pipeline_path: PathBuf,
    pub params: Params,
    pub sources: Vec<SourcePlan>,
    /// In an order where every step comes after the steps it reads.
    pub steps: Vec<StepPlan>,
    pub output_root: Url,
    pub outputs: Vec<OutputPlan>,
    pub reports: Vec<ReportPlan>,
    pub engine: EngineConfig,
    /// Steps left out by `--select` (reported as skipped).
    pub deselected: Vec<StepPlan>,
    /// Steps the file declares that are left out for errors of their own or
    /// of steps they read, in the file's order (a plan with them is only
    /// `validate`'s, `show`'s or a `run --select`'s that does not need
    /// them): the reports may still name them.
    pub held_back: Vec<HeldBack>,
    /// The business's time zone, where the pipeline names one: zoned
    /// timestamps in the sources are read as its wall-clock times.
    pub timezone: Option<crate::spec::TimeZone>,
}

#[derive(Debug, Clone)]
pub struct SourcePlan {
    pub name: String,
    pub url: Url,
    /// The params the location is written with (`data_root`, say).
    pub url_params: Vec<String>,
    /// A relative local location taken from the current directory instead
    /// of the pipeline file's folder, for a hint where `url` has no files.
    pub from_current_dir: Option<std::path::PathBuf>,
    pub optional: bool,
    /// Column name → SQL type, read as NULL where the data lacks them.
    pub optional_columns: Vec<(String, String)>,
    /// Required columns and their kinds (the input contract).
    pub columns: Vec<(String, crate::spec::ColumnKind)>,
    pub checks: Vec<CheckPlan>,
    /// What its timestamps without a time zone hold, where it says
    /// (`naive_timestamps`): with `utc` they are read as instants, in the
    /// pipeline's `timezone`.
    pub naive_timestamps: Option<crate::spec::NaiveTimestamps>,
}

/// The origin of a step whose SQL is written in the pipeline file.
pub const INLINE_SQL: &str = "inline SQL";

#[derive(Debug, Clone)]
pub struct StepPlan {
    pub name: String,
    /// The rendered SQL.
    pub sql: String,
    /// The SQL before rendering: where an error's line is found.
    pub template: String,
    /// For SQL written in the pipeline file, the lines there that hold it;
    /// None for a SQL file (`origin`, from its first line), and where they
    /// cannot be told (a quoted value over several lines).
    pub written: Option<crate::spec::WrittenValue>,
    /// Where the SQL came from, for errors: a file path or [`INLINE_SQL`].
    pub origin: String,
    /// `file:line:column` of the step in the pipeline file.
    pub at: String,
    pub materialize: Materialize,
    /// Steps this one reads.
    pub depends_on: Vec<String>,
    /// Sources this one reads.
    pub reads_sources: Vec<String>,
    /// Checks on the step's result, run as soon as it is computed.
    pub checks: Vec<CheckPlan>,
}

impl StepPlan {
    /// Where to fix the step's SQL, for an error found while it runs: its
    /// file, or the pipeline file's line for inline SQL.
    pub fn sql_source(&self) -> String {
        self.sql_text().place(None).0
    }

    /// The step's SQL as written and as rendered, to place an error in.
    pub fn sql_text(&self) -> SqlText<'_> {
        if self.origin == INLINE_SQL {
            return SqlText::in_pipeline(
                "step",
                &self.at,
                self.written.as_ref(),
                &self.template,
                &self.sql,
            );
        }
        SqlText {
            file: Some(self.origin.as_str()),
            inline: false,
            what: "step",
            at: &self.at,
            template: &self.template,
            folded: None,
            first_line: 1,
            indent: 0,
            rendered: &self.sql,
        }
    }

    /// A DataFusion error on the step's SQL, with `hint` after its message
    /// and where to fix it: `MESSAGE HINT (SQL from FILE:LINE:COLUMN)`,
    /// followed by the line and the place marked where DataFusion names one.
    pub fn sql_error(&self, e: &datafusion::error::DataFusionError, hint: &str) -> String {
        let problem = SqlProblem::in_sql(e, &self.sql);
        (self.sql_text()).explain(&format!("{}{hint}", problem.message), problem.at)
    }
}

#[derive(Debug, Clone)]
pub struct OutputPlan {
    pub step: String,
    /// The file written (a directory path gets `part-0.<ext>` appended).
    pub url: Url,
    pub format: OutputFormat,
    /// The columns the file is sorted by, first key first.
    pub sort_by: Vec<SortKey>,
}

/// One key of an output's `sort_by`. Ascending puts NULLs last and
/// descending puts them first, as SQL's ORDER BY does by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub column: String,
    pub descending: bool,
}

impl SortKey {
    /// Reads `name`, `name asc` or `name desc` (either case); a name may
    /// contain spaces.
    pub fn parse(text: &str) -> std::result::Result<SortKey, String> {
        let text = text.trim();
        let (column, descending) = match text.rsplit_once(char::is_whitespace) {
            Some((name, dir)) if dir.eq_ignore_ascii_case("desc") => (name.trim_end(), true),
            Some((name, dir)) if dir.eq_ignore_ascii_case("asc") => (name.trim_end(), false),
            _ => (text, false),
        };
        if column.is_empty() {
            return Err(format!(
                "`{text}` names no column: write `name`, `name asc` or `name desc`"
            ));
        }
        Ok(SortKey {
            column: column.to_string(),
            descending,
        })
    }

    pub fn nulls_first(&self) -> bool {
        self.descending
    }
}

#[derive(Debug, Clone)]
pub struct ReportPlan {
    pub template: PathBuf,
    pub url: Url,
    pub locale: crate::report::Locale,
}

impl ReportPlan {
    /// The template's file name, as the template environment knows it.
    pub fn template_name(&self) -> &str {
        self.template
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
    }

    /// The folder the template (and its partials and translations) is in.
    pub fn template_dir(&self) -> &std::path::Path {
        self.template.parent().unwrap_or(std::path::Path::new("."))
    }

    /// `html`, `md`, …: the report's format, from the template name.
    pub fn format(&self) -> &str {
        self.template_name()
            .trim_end_matches(".j2")
            .rsplit('.')
            .next()
            .unwrap_or("txt")
    }
}

/// A step left out of a plan for errors (`Plan::held_back`).
#[derive(Debug, Clone)]
pub struct HeldBack {
    pub name: String,
    /// The step at fault: this one, or one it reads, directly or not.
    pub root: String,
    pub materialize: Materialize,
    /// The problems that hold it back, as the plan's errors say them: its
    /// own, then, where it reads the step at fault, that step's.
    pub problems: Vec<String>,
}

impl HeldBack {
    /// Why it is left out, in a few words.
    pub fn reason(&self) -> String {
        match self.name == self.root {
            true => "has errors".to_string(),
            false => format!("reads step `{}`, which has errors", self.root),
        }
    }

    /// The reason, and where its errors are told: what `run_results.json`
    /// says of it, and `show`'s listing.
    pub fn note(&self) -> String {
        format!("{}: `loyalty validate` says which", self.reason())
    }
}

impl Plan {
    pub fn step(&self, name: &str) -> Option<&StepPlan> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The plan for a `run --select` of `selected`: `without_steps_at_fault`,
    /// and the problems of any selected step held back (those it reads
    /// are held back with it).
    pub fn for_selection(built: (Option<Plan>, Vec<String>), selected: &[String]) -> Result<Plan> {
        let plan = Self::without_steps_at_fault(built)?;
        let needed: Vec<String> = (selected.iter())
            .filter_map(|s| plan.held_back_problems(s))
            .flatten()
            .cloned()
            .collect();
        match needed.is_empty() {
            true => Ok(plan),
            false => Err(Error::Invalid(needed)),
        }
    }

    /// The problems of `name`, where it is a step held back for them.
    pub fn held_back_problems(&self, name: &str) -> Option<&[String]> {
        let held = self.held_back.iter().find(|h| h.name == name)?;
        Some(&held.problems)
    }

    /// The plan `build_checked` gave, where the pipeline file's only
    /// problems are steps at fault (`held_back`): for `show` and a `run
    /// --select`, which need only some steps, so that a step being written
    /// does not stop them. Where they need a step held back, they tell its
    /// problems. Any other problem stops them, as it stops a run.
    pub fn without_steps_at_fault(built: (Option<Plan>, Vec<String>)) -> Result<Plan> {
        let (plan, problems) = built;
        let of_steps = |p: &String| {
            (plan.iter().flat_map(|plan| &plan.held_back)).any(|h| h.problems.contains(p))
        };
        match plan {
            Some(plan) if problems.iter().all(of_steps) => Ok(plan),
            _ => Err(Error::Invalid(problems)),
        }
    }

    /// The steps a run never computes: views that no step, output or report
    /// (reading `report_tables`) reads, and that have no checks of their
    /// own (a check reads only what its step reads). A view is computed only
    /// as part of what reads it.
    pub fn unread_steps(&self, report_tables: &[String]) -> Vec<&StepPlan> {
        let read: HashSet<&str> = (self.steps.iter())
            .flat_map(|s| &s.depends_on)
            .chain(self.outputs.iter().map(|o| &o.step))
            .chain(report_tables)
            .map(String::as_str)
            .collect();
        (self.steps.iter())
            .filter(|s| s.materialize == Materialize::View && s.checks.is_empty())
            .filter(|s| !read.contains(s.name.as_str()))
            .collect()
    }

    /// Every query a run makes, as it would run them with these params: the
    /// source checks, then each step followed by its checks. Each query has a
    /// `--` header line naming it and ends with a line holding only `;`
    /// (`loyalty validate --show-sql`).
    pub fn sql_listing(&self) -> String {
        let check = |c: &CheckPlan| {
            let severity = match c.severity {
                crate::spec::Severity::Error => "error",
                crate::spec::Severity::Warn => "warn",
            };
            // A probe is asked first where the engine has its function; the
            // query below then runs only when the probe finds something.
            let probe = match (&c.probe, &self.engine.kind) {
                (Some(p), EngineKind::Local) => {
                    format!("-- asked first (the query runs when it is not 0): {p}\n")
                }
                _ => String::new(),
            };
            format!(
                "-- check {} on {} ({severity})\n{probe}{}\n;\n",
                c.name,
                c.table,
                c.sql.trim()
            )
        };
        let mut out: String = self
            .sources
            .iter()
            .flat_map(|s| &s.checks)
            .map(check)
            .collect();
        for step in &self.steps {
            out.push_str(&format!(
                "-- step {} ({})\n{}\n;\n",
                step.name,
                step.origin,
                step.sql.trim()
            ));
            out.extend(step.checks.iter().map(check));
        }
        out
    }

    pub fn as_of(&self) -> NaiveDate {
        self.params.as_of()
    }

    /// Narrows the plan to the steps that `tables` names and the steps they
    /// read in turn (`loyalty show`, whose plan has no outputs or reports):
    /// the others move to `deselected`.
    pub fn narrow_to(&mut self, tables: &[String]) {
        debug_assert!(self.outputs.is_empty() && self.reports.is_empty());
        let needed = ancestors(&self.steps, tables);
        let (kept, left): (Vec<StepPlan>, Vec<StepPlan>) = std::mem::take(&mut self.steps)
            .into_iter()
            .partition(|s| needed.contains(&s.name));
        self.steps = kept;
        self.deselected.extend(left);
    }

    /// Renders SQL written for this pipeline outside its file (`loyalty show
    /// --sql`) as its steps' SQL is rendered: with its params, and importing
    /// from `dir` (a SQL file's folder), or else the pipeline file's.
    pub fn render_sql(
        &self,
        template: &str,
        dir: Option<&std::path::Path>,
    ) -> std::result::Result<String, String> {
        build::render_sql(self, template, dir)
    }

    /// Builds the plan, collecting every problem instead of stopping at the first.
    pub fn build(loaded: &LoadedSpec, overrides: &Overrides, today: NaiveDate) -> Result<Plan> {
        match Self::build_checked(loaded, overrides, today) {
            (Some(plan), errors) if errors.is_empty() => Ok(plan),
            (_, errors) => Err(Error::Invalid(errors)),
        }
    }

    /// Every problem of the pipeline file, and a plan without the outputs,
    /// reports or engine settings at fault when its params, sources and steps
    /// are sound: `validate` then goes on to plan those steps against the
    /// data, and reports what it finds there too.
    pub fn build_checked(
        loaded: &LoadedSpec,
        overrides: &Overrides,
        today: NaiveDate,
    ) -> (Option<Plan>, Vec<String>) {
        build::build_checked(loaded, overrides, today)
    }
}

/// Holds `step` back when a step it reads is in `held` (each held-back step
/// mapped to the step at fault at the root of it), and returns the problem
/// to report: why the step is not planned.
pub fn hold_back(step: &StepPlan, held: &mut HashMap<String, String>) -> Option<String> {
    let (through, root) = step
        .depends_on
        .iter()
        .find_map(|d| held.get(d).map(|root| (d.as_str(), root.clone())))?;
    let not_checked = crate::error::NOT_CHECKED;
    let problem = if through == root {
        format!("step `{}`{not_checked}step `{root}` has errors", step.name)
    } else {
        format!(
            "step `{}`{not_checked}it reads step `{root}` (through `{through}`), which has errors",
            step.name
        )
    };
    held.insert(step.name.clone(), root);
    Some(problem)
}

/// The tables a query reads (CTE names excluded), lower-cased as DataFusion
/// normalizes unquoted identifiers. The SQL must be one query.
pub fn referenced_tables(sql: &str) -> Result<Vec<String>, SqlProblem> {
    let refused = |message: String| SqlProblem { message, at: None };
    let mut statements = DFParser::parse_sql(sql).map_err(|e| SqlProblem::of(&e))?;
    if statements.len() != 1 {
        return Err(refused(format!(
            "the SQL must be exactly one query, found {} statements",
            statements.len()
        )));
    }
    let statement = statements.pop_front().expect("one statement");
    let is_query =
        matches!(&statement, DFStatement::Statement(s) if matches!(**s, SqlStatement::Query(_)));
    if !is_query {
        return Err(refused(
            "the SQL must be a query (SELECT, WITH … SELECT, VALUES); DDL and DML such as CREATE, COPY or INSERT are not allowed"
                .into(),
        ));
    }
    let (tables, _ctes) =
        resolve_table_references(&statement, true).map_err(|e| SqlProblem::of(&e))?;
    let mut names: Vec<String> = tables.iter().map(|t| t.table().to_string()).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Orders steps so each comes after the steps it reads (declaration order
/// among independent ones). On a cycle, returns it as `[a, b, …, a]`.
pub fn order_steps(steps: Vec<StepPlan>) -> Result<Vec<StepPlan>, Vec<String>> {
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; steps.len()];
    let mut order = Vec::with_capacity(steps.len());
    let mut stack: Vec<usize> = Vec::new();

    fn visit(
        i: usize,
        steps: &[StepPlan],
        index: &HashMap<&str, usize>,
        state: &mut [u8],
        stack: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<(), Vec<String>> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let start = stack.iter().position(|&s| s == i).expect("on the stack");
                let mut cycle: Vec<String> = stack[start..]
                    .iter()
                    .map(|&s| steps[s].name.clone())
                    .collect();
                cycle.push(steps[i].name.clone());
                return Err(cycle);
            }
            _ => {}
        }
        state[i] = 1;
        stack.push(i);
        for dep in &steps[i].depends_on {
            if let Some(&j) = index.get(dep.as_str()) {
                visit(j, steps, index, state, stack, order)?;
            }
        }
        stack.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }

    for i in 0..steps.len() {
        visit(i, &steps, &index, &mut state, &mut stack, &mut order)?;
    }
    let mut slots: Vec<Option<StepPlan>> = steps.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .map(|i| slots[i].take().expect("each step once"))
        .collect())
}

/// The named steps and every step they read, transitively.
fn ancestors(steps: &[StepPlan], names: &[String]) -> HashSet<String> {
    let by_name: HashMap<&str, &StepPlan> = steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut seen = HashSet::new();
    let mut todo: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    while let Some(name) = todo.pop() {
        if seen.insert(name.to_string())
            && let Some(step) = by_name.get(name)
        {
            todo.extend(step.depends_on.iter().map(|s| s.as_str()));
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn step(name: &str, deps: &[&str]) -> StepPlan {
        StepPlan {
            name: name.into(),
            sql: String::new(),
            template: String::new(),
            written: None,
            origin: INLINE_SQL.into(),
            at: "p.yaml:1:1".into(),
            materialize: Materialize::View,
            depends_on: deps.iter().map(|s| s.to_string()).collect(),
            reads_sources: vec![],
            checks: vec![],
        }
    }

    fn names(steps: &[StepPlan]) -> Vec<&str> {
        steps.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn sort_keys_read_a_name_and_an_optional_direction() {
        let key = |c: &str, descending| SortKey {
            column: c.into(),
            descending,
        };
        assert_eq!(SortKey::parse("revenue"), Ok(key("revenue", false)));
        assert_eq!(SortKey::parse(" revenue DESC "), Ok(key("revenue", true)));
        assert_eq!(SortKey::parse("revenue asc"), Ok(key("revenue", false)));
        assert_eq!(
            SortKey::parse("net revenue desc"),
            Ok(key("net revenue", true))
        );
        // A last word that is not a direction is part of the name.
        assert_eq!(
            SortKey::parse("revenue downwards"),
            Ok(key("revenue downwards", false))
        );
        assert!(key("x", true).nulls_first() && !key("x", false).nulls_first());
        let err = SortKey::parse("  ").unwrap_err();
        assert!(err.contains("names no column"), "{err}");
    }

    #[test]
    fn orders_dependencies_first_and_keeps_declaration_order_otherwise() {
        let steps = vec![
            step("report", &["rfm", "churn"]),
            step("rfm", &["base"]),
            step("churn", &["base"]),
            step("base", &[]),
            step("other", &[]),
        ];
        let ordered = order_steps(steps).unwrap();
        assert_eq!(names(&ordered), ["base", "rfm", "churn", "report", "other"]);
    }

    #[test]
    fn a_cycle_is_named() {
        let steps = vec![
            step("a", &["c"]),
            step("b", &["a"]),
            step("c", &["b"]),
            step("d", &[]),
        ];
        let cycle = order_steps(steps).unwrap_err();
        assert_eq!(cycle, ["a", "c", "b", "a"]);
        let self_loop = order_steps(vec![step("x", &["x"])]).unwrap_err();
        assert_eq!(self_loop, ["x", "x"]);
    }

    #[test]
    fn finds_tables_but_not_ctes() {
        let sql = "WITH recent AS (SELECT * FROM orders WHERE x > 1)
                   SELECT c.customer_id FROM Customers c JOIN recent r USING (customer_id)
                   WHERE c.id IN (SELECT customer_id FROM surveys)";
        assert_eq!(
            referenced_tables(sql).unwrap(),
            ["customers", "orders", "surveys"]
        );
    }

    #[test]
    fn refuses_non_queries_and_bad_syntax() {
        let err = |sql| referenced_tables(sql).unwrap_err().to_string();
        let e = err("COPY orders TO '/tmp/x.csv'");
        assert!(e.contains("must be a query"), "{e}");
        let e = err("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc'");
        assert!(e.contains("must be a query"), "{e}");
        let e = err("SELECT 1; SELECT 2");
        assert!(e.contains("exactly one"), "{e}");
        assert_eq!(
            err("SELECT a\nFROM t WHERE x = = 1"),
            "SQL syntax error: Expected: an expression, found: = (line 2, column 18 of the SQL)"
        );
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 * 1024 * 1024 * 1024);
        assert_eq!(parse_bytes("512 MiB").unwrap(), 512 * 1024 * 1024);
        assert_eq!(parse_bytes("1.5GB").unwrap(), 1_500_000_000);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("2 GiBs").is_err());
        // No memory at all would fail every query: refused before the run.
        assert!(parse_bytes("0").unwrap_err().contains("leaves no memory"));
        assert!(parse_bytes("0GiB").is_err());
        assert_eq!(parse_bytes("1").unwrap(), 1);
    }

    fn plan_of(yaml: &str, overrides: &Overrides) -> Result<Plan> {
        let loaded = LoadedSpec::parse(Path::new("/p/pipe.yaml"), yaml.into())?;
        Plan::build(
            &loaded,
            overrides,
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        )
    }

    const PIPE: &str = "\
name: t
params:
  data_root: { type: string, default: ../data }
  min_amount: { type: float, default: 0 }
sources:
  orders: \"{{ data_root }}/orders/\"
output_root: /tmp/out/{{ as_of }}
steps:
  totals:
    sql: SELECT customer_id, sum(amount) AS revenue FROM orders WHERE order_ts <= {{ as_of }} AND amount > {{ min_amount }} GROUP BY 1
  top:
    sql: SELECT * FROM totals ORDER BY revenue DESC LIMIT 10
  unrelated:
    sql: SELECT 1 AS one
outputs:
  - step: top
    path: tables/top/as_of={{ as_of }}/
  - step: unrelated
    path: one.csv
    format: csv
";

    #[test]
    fn builds_a_plan_with_params_urls_and_order() {
        let plan = plan_of(
            PIPE,
            &Overrides {
                params: vec![("as_of".into(), "2026-11-22".into())],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(plan.sources[0].url.as_str(), "file:///data/orders/");
        assert_eq!(plan.output_root.as_str(), "file:///tmp/out/2026-11-22/");
        assert_eq!(names(&plan.steps), ["totals", "top", "unrelated"]);
        assert!(
            plan.steps[0]
                .sql
                .contains("order_ts <= DATE '2026-11-22' AND amount > 0.0")
        );
        assert_eq!(plan.steps[0].reads_sources, ["orders"]);
        assert_eq!(plan.steps[1].depends_on, ["totals"]);
        assert_eq!(
            plan.outputs[0].url.as_str(),
            "file:///tmp/out/2026-11-22/tables/top/as_of=2026-11-22/part-0.parquet"
        );
        assert_eq!(
            plan.outputs[1].url.as_str(),
            "file:///tmp/out/2026-11-22/one.csv"
        );
    }

    #[test]
    fn select_keeps_needed_steps_and_their_outputs() {
        let plan = plan_of(
            PIPE,
            &Overrides {
                select: vec!["top".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(names(&plan.steps), ["totals", "top"]);
        assert_eq!(names(&plan.deselected), ["unrelated"]);
        assert_eq!(plan.outputs.len(), 1);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let yaml = PIPE
            .replace("FROM totals ORDER", "FROM totalz ORDER")
            .replace("SELECT 1 AS one", "SELECT * FROM (")
            .replace("path: one.csv", "path: ../../one.csv");
        let err = plan_of(&yaml, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("3 problems found"), "{err}");
        assert!(err.contains("/p/pipe.yaml:11:3: step `top` (inline SQL) reads unknown table `totalz`; did you mean `totals`?"), "{err}");
        assert!(
            err.contains("step `unrelated` (inline SQL): SQL syntax error"),
            "{err}"
        );
        assert!(err.contains("climbs out of the output root"), "{err}");
    }

    #[test]
    fn cycle_in_pipeline_is_an_error_naming_it() {
        let yaml = PIPE.replace("FROM orders WHERE", "FROM top, orders WHERE");
        let err = plan_of(&yaml, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("cycle: `totals` → `top` → `totals`"), "{err}");
    }

    #[test]
    fn wrong_param_type_is_refused_before_anything_runs() {
        let err = plan_of(
            PIPE,
            &Overrides {
                params: vec![("as_of".into(), "2026-13-01".into())],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().contains("`2026-13-01` is not a valid date"),
            "{err}"
        );
    }

    fn engine_error(engine_yaml: &str, overrides: &Overrides) -> String {
        let yaml = format!("{PIPE}engine:\n{engine_yaml}");
        plan_of(&yaml, overrides).unwrap_err().to_string()
    }

    #[test]
    fn engine_options_are_datafusion_keys_checked_before_the_run() {
        let plan = plan_of(
            &format!("{PIPE}engine:\n  options:\n    datafusion.execution.batch_size: 4096\n"),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            plan.engine.options,
            [(
                "datafusion.execution.batch_size".to_string(),
                "4096".to_string()
            )]
        );
        let err = engine_error(
            "  options:\n    datafusion.execution.batch_sise: 4096\n",
            &Overrides::default(),
        );
        assert!(
            err.contains("`engine.options.datafusion.execution.batch_sise`"),
            "{err}"
        );
        let err = engine_error(
            "  options:\n    datafusion.execution.batch_size: lots\n",
            &Overrides::default(),
        );
        assert!(err.contains("batch_size"), "{err}");
    }

    #[test]
    fn ballista_options_are_checked_where_ballista_is_built() {
        // Taken for a cluster run; a local run leaves them aside.
        let plan = plan_of(
            &format!("{PIPE}engine:\n  options:\n    ballista.planner.adaptive.enabled: true\n"),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(plan.engine.options.len(), 1);
        let misspelt = plan_of(
            &format!("{PIPE}engine:\n  options:\n    ballista.planner.adaptive.enabld: true\n"),
            &Overrides::default(),
        );
        // Without Ballista in the build there is nothing to check them against.
        assert_eq!(misspelt.is_err(), cfg!(feature = "distributed"));
        if let Err(err) = misspelt.map_err(|e| e.to_string()) {
            assert!(
                err.contains("`engine.options.ballista.planner.adaptive.enabld`"),
                "{err}"
            );
        }
    }

    #[test]
    fn step_timeout_is_a_positive_duration() {
        let plan = plan_of(
            &format!("{PIPE}engine:\n  step_timeout: 90m\n"),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            plan.engine.step_timeout,
            Some(std::time::Duration::from_secs(5400))
        );
        assert_eq!(
            plan_of(PIPE, &Overrides::default())
                .unwrap()
                .engine
                .step_timeout,
            None
        );
        let err = engine_error("  step_timeout: soon\n", &Overrides::default());
        assert!(
            err.contains("`engine.step_timeout`: `soon` is not a duration"),
            "{err}"
        );
        let err = engine_error("  step_timeout: 0s\n", &Overrides::default());
        assert!(err.contains("must be more than 0"), "{err}");
    }

    #[test]
    fn storage_timeouts_of_zero_are_refused_but_no_retries_is_allowed() {
        for key in ["timeout", "connect_timeout"] {
            let yaml = format!("{PIPE}storage:\n  {key}: 0s\n");
            let err = plan_of(&yaml, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("`storage.{key}` must be more than 0")),
                "{err}"
            );
        }
        let yaml = format!("{PIPE}storage:\n  retry_timeout: 0s\n  timeout: 10s\n");
        let plan = plan_of(&yaml, &Overrides::default()).unwrap();
        assert!(plan.engine.storage.retry_timeout.is_zero());
        assert_eq!(plan.engine.storage.timeout.as_secs(), 10);
    }

    #[test]
    fn memory_limit_flag_replaces_the_file() {
        let plan = plan_of(
            &format!("{PIPE}engine:\n  memory_limit: 1GiB\n"),
            &Overrides {
                memory_limit: Some("512MiB".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(plan.engine.memory_limit, Some(512 * 1024 * 1024));
        assert_eq!(plan.engine.max_parallel_steps, 1);
        let err = plan_of(
            PIPE,
            &Overrides {
                memory_limit: Some("lots".into()),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`--memory-limit lots`"), "{err}");
    }

    #[test]
    fn engine_kind_and_url_are_checked() {
        assert!(
            engine_error("  kind: ballista\n", &Overrides::default())
                .contains("`kind: ballista` needs `url`")
        );
        assert!(
            engine_error("  url: df://h:50050\n", &Overrides::default())
                .contains("`engine.url` is for `kind: ballista`")
        );
        assert!(
            engine_error("  kind: ballista\n  url: http://h\n", &Overrides::default())
                .contains("is not a Ballista scheduler")
        );
        let flag = |f: &str| Overrides {
            engine: Some(f.into()),
            ..Default::default()
        };
        assert!(
            plan_of(PIPE, &flag("sideways"))
                .unwrap_err()
                .to_string()
                .contains("`--engine sideways`: use `local`")
        );
        // The flag wins over the file.
        let local = plan_of(
            &format!("{PIPE}engine:\n  kind: ballista\n  url: df://h:50050\n"),
            &flag("local"),
        )
        .unwrap();
        assert_eq!(local.engine.kind, EngineKind::Local);
    }

    #[test]
    fn on_ballista_memory_steps_become_parquet() {
        let yaml = format!(
            "{}engine:\n  kind: ballista\n  url: df://h:50050\n",
            PIPE.replace(
                "    sql: SELECT 1 AS one",
                "    sql: SELECT 1 AS one\n    materialize: memory"
            )
        );
        let result = plan_of(&yaml, &Overrides::default());
        if cfg!(feature = "distributed") {
            let plan = result.unwrap();
            assert_eq!(
                plan.step("unrelated").unwrap().materialize,
                Materialize::Parquet
            );
        } else {
            let e = result.unwrap_err();
            assert!(
                e.to_string()
                    .contains("build it with `cargo build --release --features distributed`"),
                "{e}"
            );
            assert_eq!(e.exit_code(), 2);
        }
    }
}
